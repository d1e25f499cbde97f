"""Table inference: exact simplex interpolation, tiling, file round trips, limits (numpy only)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.jobs import CancelToken
from engine.sr.infer import (
    PADDING,
    ModelFileError,
    OutputTooLargeError,
    SRTable,
    interpolate_4simplex,
    load_table,
    save_table,
    upscale_uint8,
)
from engine.sr.spec import SR_LEVELS


def linear_table(coefficients: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(17^4, K) int8 table of sum_i coefficients[k, i] * lattice_index_i + offsets[k]."""
    grid = np.stack(np.meshgrid(*[np.arange(17)] * 4, indexing="ij"), axis=-1).reshape(-1, 4)
    return (grid @ coefficients.T + offsets).astype(np.int8)


@pytest.fixture(scope="module")
def linear() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    coefficients = rng.integers(-1, 2, size=(5, 4)) * rng.integers(1, 3, size=(5, 4))  # |sum| * 16 <= 128
    coefficients[0] = (2, -1, 1, -2)
    offsets = rng.integers(-20, 20, size=5)
    keep = np.abs(coefficients).sum(axis=1) * 16 + np.abs(offsets) <= 127
    coefficients, offsets = coefficients[keep], offsets[keep]
    return linear_table(coefficients, offsets), coefficients, offsets


def expected_linear(values: np.ndarray, coefficients: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """16 x the linear function at lattice coordinate v / 16 (what the interpolation must give exactly)."""
    return values.astype(np.int64) @ coefficients.T + 16 * offsets


def test_simplex_is_exact_on_linear_tables_for_all_24_orderings(linear) -> None:
    table, coefficients, offsets = linear
    rng = np.random.default_rng(2)
    rows = []
    for order in itertools.permutations(range(4)):  # every ordering of four distinct fractions
        for _ in range(20):
            fractions = np.empty(4, np.int64)
            fractions[list(order)] = np.sort(rng.choice(16, size=4, replace=False))[::-1]
            rows.append(rng.integers(0, 16, size=4) * 16 + fractions)
    rows.append([255, 255, 255, 255])
    rows.append([0, 0, 0, 0])
    rows.append([7, 7, 7, 7])  # ties
    rows.append([250, 3, 3, 250])
    values = np.array(rows, np.uint8)
    result = interpolate_4simplex(table, [values[:, i] for i in range(4)])
    np.testing.assert_array_equal(result, expected_linear(values, coefficients, offsets))


def test_simplex_is_exact_on_random_inputs_including_ties(linear) -> None:
    table, coefficients, offsets = linear
    values = np.random.default_rng(3).integers(0, 256, size=(50_000, 4)).astype(np.uint8)
    result = interpolate_4simplex(table, [values[:, i] for i in range(4)])
    np.testing.assert_array_equal(result, expected_linear(values, coefficients, offsets))


def test_simplex_reproduces_table_rows_at_lattice_points() -> None:
    table = np.random.default_rng(4).integers(-127, 128, size=(17**4, 3)).astype(np.int8)
    picks = np.random.default_rng(5).integers(0, 17, size=(500, 4))
    values = SR_LEVELS[picks].astype(np.uint8)
    rows = ((picks[:, 0] * 17 + picks[:, 1]) * 17 + picks[:, 2]) * 17 + picks[:, 3]
    # level 255 lies at fraction 15/16 of the last interval: it is exact only on the 16 multiples
    on_lattice = (values != 255).all(axis=1)
    result = interpolate_4simplex(table, [values[on_lattice, i] for i in range(4)])
    np.testing.assert_array_equal(result, 16 * table[rows[on_lattice]].astype(np.int64))


def random_table(kind: str, scale: int, seed: int = 0) -> SRTable:
    rows, groups = {"srlut": (17**4, 1), "mulut": (17**4, 3), "eclut": (256**2, 9)}[kind]
    values = np.random.default_rng(seed).integers(-127, 128, size=(rows, groups * scale * scale))
    return SRTable(kind, scale, values.astype(np.int8))


@pytest.mark.parametrize("kind", ["srlut", "mulut", "eclut"])
@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_equals_untiled_bit_exact(kind: str, scale: int) -> None:
    table = random_table(kind, scale)
    image = np.random.default_rng(6).integers(0, 256, size=(23, 17, 3)).astype(np.uint8)
    whole = upscale_uint8(image, table, strip_values=10**9, workers=1)
    for strip_values, workers in ((17 * 3, 2), (17 * 3 * 5, 3), (17 * 3 * 22, 2)):
        tiled = upscale_uint8(image, table, strip_values=strip_values, workers=workers)
        np.testing.assert_array_equal(tiled, whole)
    assert whole.shape == (23 * scale, 17 * scale, 3)
    # channels are independent: one plane alone gives the same numbers
    np.testing.assert_array_equal(upscale_uint8(image[:, :, 1], table), whole[:, :, 1])


@pytest.mark.parametrize("kind", ["srlut", "mulut", "eclut"])
def test_zero_table_is_nearest_neighbour(kind: str) -> None:
    table = SRTable(kind, 2, np.zeros_like(random_table(kind, 2).table))
    image = np.random.default_rng(7).integers(0, 256, size=(5, 6, 3)).astype(np.uint8)
    np.testing.assert_array_equal(upscale_uint8(image, table), image.repeat(2, axis=0).repeat(2, axis=1))


def test_output_pixel_limit_is_refused_before_work() -> None:
    table = random_table("srlut", 4)
    with pytest.raises(OutputTooLargeError, match="4000x3000 .* above the limit"):
        upscale_uint8(np.zeros((750, 1000, 3), np.uint8), table, max_pixels=11_999_999)


def test_cancel_leaves_no_result() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        upscale_uint8(np.zeros((40, 40, 3), np.uint8), random_table("srlut", 2), strip_values=120, cancel=token)


def test_table_file_round_trip_and_bad_files(tmp_path) -> None:
    table = random_table("eclut", 2)
    table.meta = {"kind": "eclut", "scale": 2, "steps": 3}
    save_table(table, tmp_path / "t.npz")
    loaded = load_table(tmp_path / "t.npz")
    np.testing.assert_array_equal(loaded.table, table.table)
    assert loaded.meta["steps"] == 3
    (tmp_path / "t.json").write_text(json.dumps({"kind": "srlut", "scale": 2}))
    with pytest.raises(ModelFileError, match="int8 with 83521 rows"):
        load_table(tmp_path / "t.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "srlut", "scale": 2}))
    with pytest.raises(ModelFileError, match="bad.npz"):
        load_table(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", delta=np.array([{"a": 1}], dtype=object))  # would need unpickling
    (tmp_path / "obj.json").write_text(json.dumps({"kind": "srlut", "scale": 2}))
    with pytest.raises(ModelFileError, match="obj.npz.*(pickle|Object arrays)"):
        load_table(tmp_path / "obj.npz")


# the sampling patterns as the papers define them (rotated frame, (dy, dx) from the pixel), written
# out here so the reference does not share infer.py's constants
PAPER_PATTERNS = {
    "srlut": (((0, 0), (0, 1), (1, 0), (1, 1)),),
    "mulut": (
        ((0, 0), (0, 1), (1, 0), (1, 1)),  # S
        ((0, 0), (0, 2), (2, 0), (2, 2)),  # D
        ((0, 0), (1, 1), (1, 2), (2, 1)),  # Y
    ),
}


def rotation_reference_upscale(image: np.ndarray, kind: str, scale: int, read) -> np.ndarray:
    """Independent reference: rotate the padded image itself (no folded offsets or permuted tables), read each
    pattern's pixels, pixel-shuffle, rotate back, and average the 4 x patterns terms as infer.py's integer
    arithmetic does. `read(g, values)`: 16 x pattern g's table at (h, w, 4) inputs -> (h, w, r*r)."""
    p, r, patterns = PADDING[kind], scale, len(PAPER_PATTERNS[kind])
    padded = np.pad(image.astype(np.int64), p, mode="reflect")
    height, width = image.shape
    total = np.zeros((height * r, width * r), np.int64)
    for k in range(4):
        rotated = np.rot90(padded, k)
        h, w = rotated.shape[0] - 2 * p, rotated.shape[1] - 2 * p
        out = np.zeros((h, w, r * r), np.int64)
        for g, pattern in enumerate(PAPER_PATTERNS[kind]):
            out += read(g, np.stack([rotated[p + dy : p + dy + h, p + dx : p + dx + w] for dy, dx in pattern], -1))
        shuffled = out.reshape(h, w, r, r).transpose(0, 2, 1, 3).reshape(h * r, w * r)
        total += np.rot90(shuffled, -k)
    divisor = 16 * 4 * patterns
    residual = (total + divisor // 2) // divisor
    return np.clip(image.repeat(r, 0).repeat(r, 1) + residual, 0, 255).astype(np.uint8)


def simplex_reference(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Textbook 16 x 4-simplex interpolation of a (17^4, K) table at (..., 4) inputs: from the base lattice corner,
    step +1 along the inputs in order of decreasing fraction (argsort, not infer.py's sorting network), each of
    the five corners weighted by the drop between consecutive sorted fractions."""
    corner, fraction = values // 16, values % 16
    order = np.argsort(-fraction, axis=-1, kind="stable")
    bounds = np.concatenate([np.full_like(fraction[..., :1], 16), np.take_along_axis(fraction, order, -1),
                             np.zeros_like(fraction[..., :1])], -1)  # fmt: skip
    weights = bounds[..., :-1] - bounds[..., 1:]
    strides = np.array([17**3, 17**2, 17, 1])
    result = weights[..., :1] * table[corner @ strides].astype(np.int64)
    for j in range(4):
        np.put_along_axis(corner, order[..., j : j + 1], np.take_along_axis(corner, order[..., j : j + 1], -1) + 1, -1)
        result += weights[..., j + 1 : j + 2] * table[corner @ strides]
    return result


@pytest.mark.parametrize("kind", ["srlut", "mulut"])
@pytest.mark.parametrize("scale", [2, 4])
def test_pattern_sampling_is_exact_on_linear_tables(kind: str, scale: int) -> None:
    """Every pattern's pixels, rotation and sub-pixel order: the table output equals the rotated-image
    reference exactly, with a different linear function per pattern and per sub-pixel."""
    patterns, r2 = len(PAPER_PATTERNS[kind]), scale * scale
    rng = np.random.default_rng(8)
    coefficients = rng.integers(-2, 3, size=(patterns, r2, 4))
    coefficients[np.abs(coefficients).sum(-1) > 7] //= 2  # keep 16 * sum |c| + |offset| <= 127
    offsets = rng.integers(-10, 11, size=(patterns, r2))
    table = np.concatenate(
        [linear_table(coefficients[g], offsets[g]) for g in range(patterns)], axis=1
    )  # (17^4, patterns * r*r): pattern g's sub-pixels in columns g * r*r ...
    image = rng.integers(0, 256, size=(13, 11)).astype(np.uint8)
    image[4:9, 3:8] = rng.integers(100, 140, size=(5, 5))  # smooth patch: residuals that do not clip
    result = upscale_uint8(image, SRTable(kind, scale, table))
    expected = rotation_reference_upscale(image, kind, scale, lambda g, v: v @ coefficients[g].T + 16 * offsets[g])
    np.testing.assert_array_equal(result, expected)
    assert (result != image.repeat(scale, 0).repeat(scale, 1)).mean() > 0.3  # the residual is not all zero


@pytest.mark.parametrize("kind", ["srlut", "mulut"])
@pytest.mark.parametrize("scale", [2, 4])
def test_random_table_on_a_photo_matches_the_textbook_reference(kind: str, scale: int) -> None:
    """The fast path (folded rotations, int16 in-place sums, sorting network) gives, bit for bit, what the
    textbook interpolation of a non-linear table gives on a real photo, through the rotated image itself."""
    import skimage.data

    image = skimage.data.astronaut()[100:126, 150:171, 1]
    table = random_table(kind, scale, seed=11).table // 3  # residuals of +-40 levels: few clip
    r2 = scale * scale
    expected = rotation_reference_upscale(
        image, kind, scale, lambda g, v: simplex_reference(table[:, g * r2 : (g + 1) * r2], v)
    )
    np.testing.assert_array_equal(upscale_uint8(image, SRTable(kind, scale, table), strip_values=21 * 5), expected)
    assert (expected != image.repeat(scale, 0).repeat(scale, 1)).mean() > 0.5  # the residual is not all zero


def cascade_table(scale: int, seed: int = 0) -> SRTable:
    """A MuLUT cascade: a random scale-1 first stage in front of a random upscaling table."""
    pre = SRTable("mulut", 1, np.random.default_rng(seed + 50).integers(-60, 61, size=(17**4, 3)).astype(np.int8))
    main = random_table("mulut", scale, seed)
    return SRTable("mulut", scale, main.table, {"kind": "mulut", "scale": scale}, pre=pre)


@pytest.mark.parametrize("scale", [2, 4])
def test_cascade_is_the_first_stage_then_the_second(scale: int) -> None:
    table = cascade_table(scale)
    image = np.random.default_rng(9).integers(0, 256, size=(23, 17, 3)).astype(np.uint8)
    whole = upscale_uint8(image, table, strip_values=10**9, workers=1)
    refined = upscale_uint8(image, table.pre, strip_values=10**9, workers=1)
    assert refined.shape == image.shape and (refined != image).mean() > 0.5  # the first stage does something
    second = SRTable("mulut", scale, table.table)
    np.testing.assert_array_equal(whole, upscale_uint8(refined, second, strip_values=10**9, workers=1))
    for strip_values, workers in ((17 * 3, 2), (17 * 3 * 5, 3)):
        np.testing.assert_array_equal(upscale_uint8(image, table, strip_values=strip_values, workers=workers), whole)


def test_cascade_file_round_trip_and_a_missing_first_stage(tmp_path) -> None:
    table = cascade_table(2)
    save_table(table, tmp_path / "c.npz")
    loaded = load_table(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded.table, table.table)
    np.testing.assert_array_equal(loaded.pre.table, table.pre.table)
    assert loaded.meta["pre"] == {"kind": "mulut", "scale": 1}
    with np.load(tmp_path / "c.npz") as data:
        np.savez(tmp_path / "broken.npz", delta=data["delta"])  # the first stage's table left out
    (tmp_path / "broken.json").write_text((tmp_path / "c.json").read_text())
    with pytest.raises(ModelFileError, match="broken.npz"):
        load_table(tmp_path / "broken.npz")
    with pytest.raises(ModelFileError, match="one scale-1 table"):
        SRTable("mulut", 2, table.table, pre=SRTable("mulut", 2, table.table))


def test_y_ssim_is_one_for_the_same_image_and_lower_for_bicubic() -> None:
    import skimage.data

    from engine.sr.metrics import bicubic_upscale, make_pair, y_psnr, y_ssim

    hr, lr = make_pair(skimage.data.astronaut()[:120, :160] / 255.0, 4)
    assert y_ssim(hr, hr, 4) == pytest.approx(1.0)
    bicubic = bicubic_upscale(lr, 4)
    assert 0.3 < y_ssim(hr, bicubic, 4) < 0.95 and 15 < y_psnr(hr, bicubic, 4) < 40
