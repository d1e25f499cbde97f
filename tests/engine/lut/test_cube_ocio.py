""".cube files with a 1D shaper, and 1D-only files, applied as OpenColorIO applies them (OCIO is the
reference implementation of the Resolve dialect). The files are written by OCIO's own Baker (a log2
shaper in front of a 33^3 cube, as OCIO and Resolve bake log looks) or by hand in Resolve's layout."""

from __future__ import annotations

import numpy as np
import pytest

from engine.lut import apply_lut_to_values, identity_table, read_cube, write_cube

ocio = pytest.importorskip("PyOpenColorIO")

OCIO_INTERPOLATION = {"trilinear": "INTERP_LINEAR", "tetrahedral": "INTERP_TETRAHEDRAL"}


def ocio_apply(path, values: np.ndarray, interpolation: str) -> np.ndarray:
    transform = ocio.FileTransform(src=str(path), interpolation=getattr(ocio, OCIO_INTERPOLATION[interpolation]))
    out = np.ascontiguousarray(values, dtype=np.float32).copy()
    ocio.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor().applyRGB(out)
    return out


def _rows(table: np.ndarray) -> str:
    return "".join(f"{r:.7f} {g:.7f} {b:.7f}\n" for r, g, b in table.reshape(-1, 3))


def ocio_baked_log_shaper_cube(path) -> None:
    """OCIO's Baker: linear -> log2 shaper (2^-8..2^8) -> a 33^3 cube of a matrix + per-channel gamma."""
    config = ocio.Config.CreateRaw()
    log = ocio.LogAffineTransform(logSideSlope=[1 / 16] * 3, logSideOffset=[0.5] * 3)
    log.setBase(2.0)
    look = ocio.GroupTransform()
    look.appendTransform(
        ocio.MatrixTransform(matrix=[0.8, 0.15, 0.05, 0, 0.1, 0.8, 0.1, 0, 0.02, 0.18, 0.8, 0, 0, 0, 0, 1])
    )
    look.appendTransform(
        ocio.ExponentTransform(value=[1 / 2.2, 1 / 2.0, 1 / 2.4, 1], negativeStyle=ocio.NEGATIVE_CLAMP)
    )
    for name, transform in (("linear", None), ("log", log), ("look", look)):
        space = ocio.ColorSpace(name=name)
        if transform is not None:
            space.setTransform(transform, ocio.COLORSPACE_DIR_FROM_REFERENCE)
        config.addColorSpace(space)
    baker = ocio.Baker()
    baker.setConfig(config)
    baker.setFormat("resolve_cube")
    baker.setInputSpace("linear")
    baker.setShaperSpace("log")
    baker.setTargetSpace("look")
    baker.setShaperSize(1024)
    baker.setCubeSize(33)
    path.write_text(baker.bake())


def gamma_shaper_cube(path) -> None:
    """x^(1/2.4) shaper (4096 entries) and a cube that undoes it, mixes channels and encodes 1/2.2."""
    lattice = identity_table(33).astype(np.float64) ** 2.4
    mix = np.array([[0.9, 0.08, 0.02], [0.05, 0.9, 0.05], [0.0, 0.1, 0.9]])
    table = np.clip(lattice @ mix.T, 0, None) ** (1 / 2.2)
    shaper = np.linspace(0, 1, 4096) ** (1 / 2.4)
    path.write_text(
        "LUT_1D_SIZE 4096\nLUT_3D_SIZE 33\n" + "".join(f"{v:.7f} {v:.7f} {v:.7f}\n" for v in shaper) + _rows(table)
    )


def resolve_ranges_cube(path) -> None:
    """Resolve's layout with both input ranges set and a non-monotonic, per-channel shaper."""
    rng = np.random.default_rng(11)
    shaper = np.sort(rng.uniform(-0.3, 3.2, (12, 3)), axis=0)
    shaper[5, 1] = 0.2  # a dip: not monotonic
    table = rng.uniform(-0.1, 3.0, (5, 5, 5, 3))
    path.write_text(
        "# a comment\nLUT_1D_SIZE 12\nLUT_1D_INPUT_RANGE -0.1 3.0\nLUT_3D_SIZE 5\n"
        "LUT_3D_INPUT_RANGE -0.1 3.0\n" + _rows(shaper) + "\n" + _rows(table)
    )


def one_d_cube(path) -> None:
    """A 1D-only file: 32 entries of an exponential (log-to-linear) curve, as ACES proxy LUTs are."""
    curve = 2.0 ** np.linspace(-11, 9.5, 32)
    path.write_text("LUT_1D_SIZE 32\n" + "".join(f"{v:.7g} {v * 0.9:.7g} {v * 1.1:.7g}\n" for v in curve))


FILES = {
    "ocio_log_shaper": ocio_baked_log_shaper_cube,
    "gamma_shaper": gamma_shaper_cube,
    "resolve_ranges": resolve_ranges_cube,
}


def sample_inputs(lut, count: int = 60_000) -> np.ndarray:
    """Inputs over the whole input domain, denser near its bottom (where log shapers spend their entries)."""
    lo, hi = lut.input_domain
    unit = np.random.default_rng(0).random((count, 3)) ** 3
    return (lo + (hi - lo) * unit).astype(np.float32)


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("interpolation", ["trilinear", "tetrahedral"])
def test_shaper_files_match_opencolorio(tmp_path, name, interpolation):
    path = tmp_path / f"{name}.cube"
    FILES[name](path)
    lut = read_cube(path)
    assert lut.shaper is not None
    values = sample_inputs(lut)
    ours = apply_lut_to_values(lut, values, interpolation)
    error = np.abs(ours - ocio_apply(path, values, interpolation)) * 255
    assert error.max() < 0.01, (error.max(), error.mean())  # in 8-bit levels; measured <= 0.0015
    write_cube(lut, tmp_path / "again.cube")  # our re-export, read by OCIO, still matches
    again = np.abs(ours - ocio_apply(tmp_path / "again.cube", values, interpolation)) * 255
    assert again.max() < 0.01


def test_1d_only_files_match_opencolorio(tmp_path):
    path = tmp_path / "one.cube"
    one_d_cube(path)
    lut = read_cube(path)
    values = sample_inputs(lut)
    reference = ocio_apply(path, values, "trilinear")  # OCIO interpolates a 1D LUT linearly
    for interpolation in ("trilinear", "tetrahedral"):
        ours = apply_lut_to_values(lut, values, interpolation)
        # float32 arithmetic on both sides: within 1e-4 of max(1, |value|) (0.03 levels on [0, 1])
        np.testing.assert_array_less(np.abs(ours - reference) / np.maximum(1, np.abs(reference)), 1e-4)
    write_cube(lut, tmp_path / "again.cube")
    again = ocio_apply(tmp_path / "again.cube", values, "trilinear")
    np.testing.assert_array_less(np.abs(again - reference) / np.maximum(1, np.abs(reference)), 1e-4)
