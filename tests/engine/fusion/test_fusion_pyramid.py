import numpy as np
import pytest

from engine.fusion.pyramid import blend, collapse, downsample, laplacian_pyramid, level_sizes, upsample


@pytest.mark.parametrize("shape", [(37, 53), (3, 41, 29), (3, 64, 64), (9, 8), (3, 101, 7), (1, 1), (2, 5), (3, 3, 2)])
def test_build_then_collapse_is_the_identity_at_odd_sizes(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    pyramid = laplacian_pyramid(image)
    assert [p.shape[-2:] for p in pyramid] == level_sizes(*shape[-2:])
    assert all(p.dtype == np.float32 for p in pyramid)
    np.testing.assert_allclose(collapse(pyramid), image, atol=2e-6)


def test_level_sizes_halve_rounding_up():
    assert level_sizes(37, 53) == [(37, 53), (19, 27), (10, 14), (5, 7), (3, 4)]
    assert level_sizes(37, 53, levels=2) == [(37, 53), (19, 27)]


def test_filters_keep_constants_and_match_a_direct_convolution():
    flat = np.full((3, 13, 11), 0.25, np.float32)
    np.testing.assert_allclose(downsample(flat), 0.25, atol=1e-7)
    np.testing.assert_allclose(upsample(downsample(flat), (13, 11)), 0.25, atol=1e-7)
    # interior of a down-sampled row equals [1 4 6 4 1]/16 at the kept samples
    row = np.random.default_rng(3).random((1, 21), dtype=np.float32)
    kernel = np.array([1, 4, 6, 4, 1]) / 16
    direct = np.convolve(np.pad(row[0], 2, mode="reflect"), kernel, mode="valid")[::2]
    np.testing.assert_allclose(_down_rows_only(row), direct, atol=1e-6)


def _down_rows_only(row: np.ndarray) -> np.ndarray:
    """Down-sample along the width only: stack the row 5 times so the vertical pass keeps it unchanged."""
    return downsample(np.repeat(row, 5, axis=0))[1]


def test_blending_with_one_hot_weights_picks_the_frame_and_equal_weights_average():
    rng = np.random.default_rng(4)
    frames = [rng.random((33, 45, 3), dtype=np.float32) for _ in range(2)]

    def plane(k, c):
        return np.ascontiguousarray(frames[k][..., c])

    weights = [np.ones((33, 45), np.float32), np.zeros((33, 45), np.float32)]
    out = blend((33, 45), 2, 3, plane, weights.__getitem__)
    np.testing.assert_allclose(out, frames[0], atol=2e-6)
    half = [np.full((33, 45), 0.5, np.float32)] * 2
    out = blend((33, 45), 2, 3, plane, half.__getitem__, workers=2)
    np.testing.assert_allclose(out, (frames[0] + frames[1]) / 2, atol=2e-6)


@pytest.mark.parametrize("rows", [1, 2, 3, 5])
def test_working_in_strips_of_rows_changes_nothing(monkeypatch, rows):
    import engine.fusion.pyramid as pyramid

    image = np.random.default_rng(5).random((2, 41, 23), dtype=np.float32)
    whole_down = downsample(image)
    whole_up_odd = upsample(whole_down, (41, 23))
    whole_up_even = upsample(whole_down[:, :20], (40, 23))
    monkeypatch.setattr(pyramid, "STRIP_ROWS", rows)
    np.testing.assert_array_equal(downsample(image), whole_down)
    np.testing.assert_array_equal(upsample(whole_down, (41, 23)), whole_up_odd)
    np.testing.assert_array_equal(upsample(whole_down[:, :20], (40, 23)), whole_up_even)
