"""engine.image's shared resizing against plain numpy references: block means, bilinear with aligned pixel
centres, area shrinking for exports."""

from __future__ import annotations

import numpy as np
import pytest

from engine.image import fit_long_side, resize_bilinear, sample_photo, shrink_by_blocks


def block_means(pixels: np.ndarray, factor: int) -> np.ndarray:
    rows, cols = pixels.shape[0] // factor, pixels.shape[1] // factor
    cropped = pixels[: rows * factor, : cols * factor].astype(np.float64)
    return cropped.reshape(rows, factor, cols, factor, -1).mean(axis=(1, 3))


def bilinear(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Separable bilinear, pixel centres aligned, edges clamped: the reference in float64."""
    for axis, size in ((0, height), (1, width)):
        n = plane.shape[axis]
        pos = np.clip((np.arange(size) + 0.5) * (n / size) - 0.5, 0, n - 1)
        low = np.minimum(np.floor(pos).astype(int), max(n - 2, 0))
        frac = (pos - low).reshape((-1, 1) if axis == 0 else (1, -1))
        a, b = np.take(plane, low, axis=axis), np.take(plane, np.minimum(low + 1, n - 1), axis=axis)
        plane = a + frac * (b - a)
    return plane


@pytest.mark.parametrize(
    ("shape", "long_side", "factor"), [((301, 457), 100, 5), ((64, 48), 64, 1), ((90, 30), 44, 3), ((7, 5), 1, 5)]
)
def test_shrink_by_blocks_is_the_mean_of_whole_blocks(shape, long_side, factor):
    pixels = np.random.default_rng(1).random((*shape, 3), dtype=np.float32)
    small = shrink_by_blocks(pixels, long_side)
    assert small.dtype == np.float32 and small.shape == (shape[0] // factor, shape[1] // factor, 3)
    np.testing.assert_allclose(small, block_means(pixels, factor), atol=1e-6)


def test_resize_bilinear_matches_the_reference_up_and_down():
    plane = sample_photo("camera").pixels[::4, ::4, 0]  # a real photo, 128 x 128
    for height, width in ((300, 211), (57, 90), (128, 128)):
        np.testing.assert_allclose(
            resize_bilinear(plane, height, width), bilinear(plane.astype(np.float64), height, width), atol=2e-6
        )
    rgb = resize_bilinear(sample_photo().pixels[:64, :64], 32, 96)
    assert rgb.shape == (32, 96, 3) and rgb.dtype == np.float32


def test_fit_long_side_averages_areas_and_never_enlarges():
    pixels = np.random.default_rng(2).random((60, 90, 3), dtype=np.float32)
    assert fit_long_side(pixels, 200) is pixels
    np.testing.assert_allclose(fit_long_side(pixels, 30), block_means(pixels, 3), atol=1e-6)
