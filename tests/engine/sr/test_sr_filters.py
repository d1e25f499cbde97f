"""The filter refinement: structure-tensor hashing, exact filter arithmetic, fitting, files, shipped quality."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.image import sample_photo
from engine.jobs import CancelToken
from engine.sr.filter_fit import fit_filters, within_budget
from engine.sr.filters import (
    FILTER_BITS,
    FilterBank,
    FilterConfig,
    assignments,
    features,
    refine,
    ring_around,
    structure,
)
from engine.sr.infer import ModelFileError, SRTable, load_table, save_table, shipped_table_path, upscale_uint8
from engine.sr.metrics import bicubic_upscale, make_pair, y_psnr
from engine.sr.train import HELD_OUT

CONFIG = FilterConfig()


def random_bank(scale: int, seed: int = 0, spread: float = 0.3) -> FilterBank:
    """Filters near "copy the table's output" plus random integer noise, and plausible bin edges."""
    rng = np.random.default_rng(seed)
    dims, r2, own = CONFIG.window**2 + 1 + (scale + 2) ** 2, scale * scale, CONFIG.window**2 + 1
    filters = rng.normal(0, spread / dims, size=(CONFIG.buckets, dims, r2))
    filters[:, own : own + r2, :] += np.eye(r2)
    return FilterBank(CONFIG, np.array([2.0, 6.0, 15.0]), np.array([0.3, 0.6]), np.round(filters * (1 << FILTER_BITS)))


@pytest.mark.parametrize("degrees", [0.0, 20.0, 45.0, 90.0, 135.0, 170.0])
def test_structure_finds_the_gradient_direction_of_a_ramp(degrees: float) -> None:
    theta = np.deg2rad(degrees)
    y, x = np.mgrid[0:40, 0:40].astype(np.float64)
    plane = 3.0 * (np.cos(theta) * x + np.sin(theta) * y)
    halo = CONFIG.halo
    position, strength, coherence = structure(plane, halo, CONFIG)
    assert position.shape == (40 - 2 * halo, 40 - 2 * halo)
    # bin position p means angle (p + 0.5) * pi / angles - pi / 2, the gradient direction modulo pi
    angle = (position + 0.5) * np.pi / CONFIG.angles - np.pi / 2
    difference = np.angle(np.exp(2j * (angle - theta))) / 2  # modulo pi
    np.testing.assert_allclose(difference, 0.0, atol=1e-9)
    np.testing.assert_allclose(strength, 3.0, rtol=1e-9)
    np.testing.assert_allclose(coherence, 1.0, atol=1e-9)


def test_copy_filters_reproduce_the_table_output_exactly() -> None:
    scale = 4
    bank = random_bank(scale, spread=0.0)
    rng = np.random.default_rng(2)
    halo = CONFIG.halo
    padded = rng.integers(0, 256, size=(10 + 2 * halo, 13 + 2 * halo, 3)).astype(np.uint8)
    base = rng.integers(0, 256, size=(10, 13, 3, scale * scale)).astype(np.uint8)
    np.testing.assert_array_equal(refine(padded, halo, ring_around(base, scale, False, False), bank, scale), base)


def test_linear_filters_match_a_numpy_reference() -> None:
    """Every bucket holds the same filter: sub-pixel k = 0.5 centre + 0.25 right neighbour + 0.125 table[k]
    + 0.125 table output above the block's top-left + about k, so angle blending must not change anything
    and the result has a closed form (the ring is mirrored at the top border)."""
    scale, window = 2, CONFIG.window
    dims, r2 = window**2 + 1 + (scale + 2) ** 2, scale * scale
    one = np.zeros((dims, r2))
    centre = (window // 2) * window + window // 2
    one[centre, :] = 0.5
    one[centre + 1, :] = 0.25
    one[window**2, :] = np.arange(r2) / 255.0  # the constant feature is 255
    one[window**2 + 1 : window**2 + 1 + r2, :] = 0.125 * np.eye(r2)
    one[window**2 + 1 + r2 + 1, :] = 0.125  # ring pixel (-1, 0): the output pixel above the block's top-left
    filters = np.repeat(np.round(one * (1 << FILTER_BITS))[None], CONFIG.buckets, axis=0)
    bank = FilterBank(CONFIG, np.array([2.0, 6.0, 15.0]), np.array([0.3, 0.6]), filters)
    rng = np.random.default_rng(3)
    halo = CONFIG.halo
    padded = rng.integers(0, 256, size=(9 + 2 * halo, 11 + 2 * halo, 1)).astype(np.uint8)
    base = rng.integers(0, 256, size=(9, 11, 1, r2)).astype(np.uint8)
    inner = padded[halo:-halo, halo:-halo, :].astype(np.float64)
    right = padded[halo:-halo, halo + 1 : padded.shape[1] - halo + 1, :].astype(np.float64)
    offsets = 255.0 * filters[0, window**2, :] / (1 << FILTER_BITS)  # the constant's stored (rounded) weight
    assert np.allclose(offsets, np.arange(r2), atol=0.01)
    above = np.concatenate([base[:1, :, :, 2], base[:-1, :, :, 2]])  # output row -1 mirrors to row 1 (block row 0)
    expected = 0.5 * inner[..., None] + 0.25 * right[..., None] + 0.125 * base + 0.125 * above[..., None] + offsets
    ringed = ring_around(base, scale, False, False)
    np.testing.assert_array_equal(refine(padded, halo, ringed, bank, scale), np.clip(np.floor(expected + 0.5), 0, 255))


def test_angle_blend_of_different_filters_matches_an_integer_reference() -> None:
    """Every bucket its own filters, on a photo crop: refine()'s float64 blend and rounding equal, bit for bit,
    floor(((16 - w) F_low . x + w F_high . x) / 2^18 + 1/2) in int64, per pixel and sub-pixel."""
    scale, halo, r2 = 4, CONFIG.halo, 16
    bank = random_bank(scale, seed=5, spread=3.0)
    photo = sample_photo("astronaut").pixels[60 : 60 + 10 + 2 * halo, 200 : 200 + 12 + 2 * halo, 1:2]
    padded = np.round(photo * 255).astype(np.uint8)
    table_output = np.random.default_rng(4).integers(0, 256, size=(10, 12, 1, r2)).astype(np.uint8)
    ringed = ring_around(table_output, scale, False, False)
    low, weight = assignments(padded[:, :, 0], halo, bank)
    x = features(padded[:, :, 0], halo, CONFIG.window, ringed[:, :, 0], scale).astype(np.int64)  # (features, pixels)
    filters = bank.filters.astype(np.int64)
    blended = (16 - weight)[:, None] * np.einsum("fp,pfk->pk", x, filters[low])
    blended += weight[:, None] * np.einsum("fp,pfk->pk", x, filters[bank.next_angle[low]])
    expected = np.clip((blended + (1 << 17)) >> 18, 0, 255).reshape(10, 12, 1, r2)
    assert len(np.unique(low)) > 5 and 0.1 < ((weight > 0) & (weight < 16)).mean()  # many buckets, real blends
    np.testing.assert_array_equal(refine(padded, halo, ringed, bank, scale), expected)


def plain_table(scale: int) -> SRTable:
    values = np.random.default_rng(scale).integers(-20, 21, size=(17**4, scale * scale)).astype(np.int8)
    return SRTable("srlut", scale, values)


@pytest.mark.parametrize("scale", [2, 4])
def test_refined_upscale_tiled_equals_untiled_bit_exact(scale: int) -> None:
    table = plain_table(scale)
    table.refinement = random_bank(scale, seed=scale)
    image = np.random.default_rng(6).integers(0, 256, size=(29, 21, 3)).astype(np.uint8)
    whole = upscale_uint8(image, table, strip_values=10**9, workers=1)
    for strip_values, workers in ((21 * 3, 2), (21 * 3 * 5, 3), (21 * 3 * 27, 2)):
        np.testing.assert_array_equal(upscale_uint8(image, table, strip_values=strip_values, workers=workers), whole)
    grey = np.repeat(image[:, :, 2:], 3, axis=2)  # R = G = B: luma is that channel, refined like a grey photo
    np.testing.assert_array_equal(upscale_uint8(image[:, :, 2], table), upscale_uint8(grey, table)[:, :, 0])
    table.refinement = None
    assert not np.array_equal(upscale_uint8(image, table), whole)  # the filters did change the result


def test_fitting_lowers_the_error_on_its_photos_and_can_be_cancelled() -> None:
    import skimage.data

    planes = [skimage.data.camera()[100:260, 100:260] / 255.0]
    table = plain_table(2)
    config = FilterConfig(angles=4, coherence_bins=2, phases=1)
    bank = fit_filters(planes, table, config)
    hr, lr = make_pair(planes[0], 2)
    plain = y_psnr(hr, upscale_uint8(lr, table), 2)
    table.refinement = bank
    refined = y_psnr(hr, upscale_uint8(lr, table), 2)
    assert refined > plain + 3.0  # the random table is poor; the filters must repair most of it
    assert refined > y_psnr(hr, bicubic_upscale(lr, 2), 2)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        fit_filters(planes, plain_table(2), config, cancel=token)


def test_a_big_folder_is_cropped_to_the_sample_budget() -> None:
    """The budget counts refined plane pixels: each RGB pixel thrice, once when only luma is refined."""
    rng = np.random.default_rng(4)
    photos = [rng.random((400, 600, 3)), rng.random((300, 300, 3)), rng.random((30, 500, 3))]
    for luma, planes in ((False, 3), (True, 1)):
        config = FilterConfig(phases=2, sample_budget=400_000, luma=luma)  # 8 orientations x 4 phases = 32 views
        crops = within_budget(photos, 4, config, smallest=28)
        read = sum(c.shape[0] * c.shape[1] for c in crops) * planes / 16 * 32
        assert 400_000 * 0.8 <= read <= 400_000 * 1.2  # the minimum side may round up a little
        for photo, crop in zip(photos, crops, strict=True):
            assert min(crop.shape[:2]) >= 28 and crop.shape[0] <= photo.shape[0] and crop.shape[1] <= photo.shape[1]
            y, x = np.argwhere(photo[:, :, 0] == crop[0, 0, 0])[0]
            np.testing.assert_array_equal(photo[y : y + crop.shape[0], x : x + crop.shape[1]], crop)  # a real crop
    small = [rng.random((100, 100, 3))]
    assert within_budget(small, 4, config, smallest=28)[0] is small[0]  # under the budget: untouched


def test_refined_table_file_round_trip_and_bad_refinement(tmp_path) -> None:
    table = plain_table(2)
    table.refinement = random_bank(2, seed=9)
    table.meta = {"kind": "srlut", "scale": 2}
    save_table(table, tmp_path / "r.npz")
    loaded = load_table(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.refinement.filters, table.refinement.filters)
    assert loaded.refinement.config == CONFIG
    image = np.random.default_rng(1).integers(0, 256, size=(12, 10, 3)).astype(np.uint8)
    np.testing.assert_array_equal(upscale_uint8(image, loaded), upscale_uint8(image, table))
    with np.load(tmp_path / "r.npz") as data:
        arrays = dict(data)
    for key, bad, message in (
        ("filters", arrays["filters"][:, :-1], "filter refinement must have filters of shape"),
        ("filters", arrays["filters"].astype(np.int64), "must be stored as int32, not int64"),
        ("coherence_edges", arrays["coherence_edges"][:1], "bin edges"),
    ):
        np.savez(tmp_path / "r.npz", **{**arrays, key: bad})
        with pytest.raises(ModelFileError, match=f"r.npz: .*{message}"):
            load_table(tmp_path / "r.npz")


def test_shipped_refined_model_beats_bicubic_on_held_out_photos_at_x4() -> None:
    table = load_table(shipped_table_path("srlut-filter", 4))
    plain = load_table(shipped_table_path("srlut", 4))
    gains, plain_gains = [], []
    for photo in (sample_photo(name).pixels for name in HELD_OUT):
        hr, lr = make_pair(photo, 4)
        bicubic = y_psnr(hr, bicubic_upscale(lr, 4), 4)
        gains.append(y_psnr(hr, upscale_uint8(lr, table), 4) - bicubic)
        plain_gains.append(y_psnr(hr, upscale_uint8(lr, plain), 4) - bicubic)
    assert np.mean(gains) >= 0.8
    assert np.mean(gains) > np.mean(plain_gains) + 0.2


def test_luma_refinement_moves_every_channel_by_the_refined_luma_change() -> None:
    """With `luma`, one plane is filtered: R, G and B all get the same change, so the colour differences
    stay the table's wherever nothing clips, tiling stays exact, and a grey RGB photo equals a grey plane."""
    from dataclasses import replace

    scale = 2
    table = plain_table(scale)
    bank = random_bank(scale, seed=11)
    table.refinement = replace(bank, config=replace(bank.config, luma=True))
    image = np.random.default_rng(12).integers(40, 216, size=(23, 19, 3)).astype(np.uint8)
    refined = upscale_uint8(image, table, strip_values=10**9, workers=1).astype(np.int16)
    np.testing.assert_array_equal(upscale_uint8(image, table, strip_values=19 * 3 * 4, workers=2), refined)
    plain = upscale_uint8(image, replace(table, refinement=None)).astype(np.int16)
    change = refined - plain
    inside = np.all((refined > 0) & (refined < 255), axis=2)
    assert inside.mean() > 0.9 and np.abs(change).max() > 3  # the filters do act
    np.testing.assert_array_equal(change[inside][:, 0], change[inside][:, 1])
    np.testing.assert_array_equal(change[inside][:, 1], change[inside][:, 2])
    grey = np.repeat(image[:, :, 1:2], 3, axis=2)
    np.testing.assert_array_equal(upscale_uint8(grey, table)[:, :, 0], upscale_uint8(image[:, :, 1], table))
