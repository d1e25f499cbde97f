"""MATLAB-style bicubic resizing in numpy (a = -0.5, antialiased when shrinking, symmetric borders).

SR papers make low-resolution inputs and the bicubic baseline with MATLAB's ``imresize``; this is the
same kernel as a separable matrix product, so training data and the benchmark share one definition.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    return inner + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=64)
def resize_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Dense (out_size, in_size) float64 matrix of bicubic weights along one axis."""
    scale = out_size / in_size
    shrink = min(scale, 1.0)  # antialiasing: widen the kernel when shrinking
    width = 4.0 / shrink
    centres = (np.arange(out_size) + 0.5) / scale - 0.5
    taps = int(np.ceil(width)) + 2
    first = np.floor(centres - width / 2).astype(np.int64)
    indices = first[:, None] + np.arange(taps)[None, :]
    weights = shrink * _cubic(shrink * (centres[:, None] - indices))
    weights /= weights.sum(axis=1, keepdims=True)
    mirrored = np.where(indices < 0, -indices - 1, indices)
    mirrored = np.where(mirrored >= in_size, 2 * in_size - 1 - mirrored, mirrored)
    mirrored = np.clip(mirrored, 0, in_size - 1)
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.repeat(np.arange(out_size), taps), mirrored.ravel()), weights.ravel())
    return matrix


def resize_bicubic(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) float image to (height, width); values are not clipped."""
    rows = resize_matrix(image.shape[0], height)
    cols = resize_matrix(image.shape[1], width)
    data = np.asarray(image, dtype=np.float64)
    if data.ndim == 2:
        return rows @ data @ cols.T
    return np.einsum("ij,jkc,lk->ilc", rows, data, cols, optimize=True)


def downscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Antialiased bicubic 1/scale downscale of an image whose sides are multiples of `scale`, in [0, 1]."""
    h, w = image.shape[:2]
    return np.clip(resize_bicubic(image, h // scale, w // scale), 0.0, 1.0)
