"""The `apply` command grades the decoded photo in place, band by band, at its own bit depth: the file
it writes is bit-identical to the float pipeline (load_photo -> apply_lut -> save_photo)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from engine.cli import main
from engine.image import Photo, load_photo, read_photo, save_photo
from engine.lut import LUT3D, apply_lut, identity_table, read_cube, write_cube
from engine.lut.apply import apply_lut_in_place


@pytest.fixture(scope="module")
def look() -> LUT3D:
    unit = identity_table(9)
    return LUT3D(np.clip(unit**1.3 * [1.05, 1.0, 0.9] + [0.02, 0, 0.03], 0, 1), "look")


def float_pipeline(source, target, lut, interpolation, strength):
    photo = load_photo(source)
    save_photo(photo.with_pixels(apply_lut(photo.pixels, lut, interpolation, strength)), target)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("p8.png", lambda p, x: Image.fromarray(np.rint(x * 255).astype(np.uint8)).save(p)),
        ("p16.png", lambda p, x: save_photo(Photo(x, bit_depth=16), p)),
        (
            "a16.tif",
            lambda p, x: tifffile.imwrite(
                p,
                np.rint(np.dstack([x, x[..., :1]]) * 65535).astype(np.uint16),
                photometric="rgb",
                extrasamples=("unassalpha",),
            ),
        ),
        ("f.tif", lambda p, x: tifffile.imwrite(p, x * 1.2 - 0.1, photometric="rgb")),
    ],
)
@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_cli_output_equals_the_float_pipeline(tmp_path, look, name, make, suffix):
    pixels = np.random.default_rng(2).random((37, 53, 3)).astype(np.float32)
    source = tmp_path / name
    make(source, pixels)
    write_cube(look, tmp_path / "look.cube")
    out = tmp_path / f"out{suffix}"
    assert (
        main(
            [
                "apply",
                "--lut",
                str(tmp_path / "look.cube"),
                "--interp",
                "trilinear",
                "--strength",
                "0.7",
                str(source),
                str(out),
            ]
        )
        == 0
    )
    float_pipeline(source, tmp_path / f"ref{suffix}", read_cube(tmp_path / "look.cube"), "trilinear", 0.7)
    ours, reference = read_photo(out), read_photo(tmp_path / f"ref{suffix}")
    assert ours.values.dtype == reference.values.dtype
    np.testing.assert_array_equal(ours.values, reference.values)


def test_bands_cover_the_photo_and_leave_alpha(look):
    samples = np.random.default_rng(3).integers(0, 65536, (31, 7, 4)).astype(np.uint16)
    expected = samples.copy()
    graded = apply_lut(samples[..., :3].astype(np.float32) / np.float32(65535), look, "tetrahedral")
    expected[..., :3] = np.rint(np.clip(graded, 0, 1) * 65535)
    seen = []
    apply_lut_in_place(samples, 65535, look, "tetrahedral", band_pixels=20, progress=lambda f, m="": seen.append(f))
    np.testing.assert_array_equal(samples, expected)
    assert len(seen) == 16 and seen[-1] == 1.0  # 31 rows in bands of 20 // 7 = 2 rows
