"""Mertens quality weights: contrast, saturation and well-exposedness, each raised to an exponent.

W = C^wc * S^ws * E^we per pixel, with C = |Laplacian of grey|, S = standard deviation over R, G, B,
E = prod_c exp(-(I_c - 0.5)^2 / (2 sigma^2)). S and E both come from the per-pixel channel sum and sum
of squares (sum_c (I_c - 0.5)^2 = sum I^2 - sum I + 0.75), so E costs one exp per pixel, not three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

WELL_EXPOSED_SIGMA = 0.2
WEIGHT_EPSILON = 1e-12
STRIP_ROWS = 64
GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # what rgb2gray / cvtColor use


@dataclass(frozen=True)
class Exponents:
    """How much each quality measure counts; 0 switches a measure off."""

    contrast: float = 1.0
    saturation: float = 1.0
    exposedness: float = 1.0

    def __post_init__(self) -> None:
        for name in ("contrast", "saturation", "exposedness"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"exponent {name} must be a finite number >= 0, got {getattr(self, name)}")


def _power(values: np.ndarray, exponent: float) -> np.ndarray:
    """values ** exponent in place, with the common exponents on their fast paths."""
    if exponent == 0.5:
        np.sqrt(values, out=values)
    elif exponent != 1.0:
        np.power(values, exponent, out=values)
    return values


def _contrast_rows(pixels: np.ndarray, top: int, bottom: int) -> np.ndarray:
    """|Laplacian of grey| for rows top..bottom-1, reading one row of context each side (mirrored at edges)."""
    height = pixels.shape[0]
    first, last = max(top - 1, 0), min(bottom + 1, height)
    grey = pixels[first:last] @ GREY_WEIGHTS
    mode: Literal["reflect", "edge"] = "reflect" if min(grey.shape) > 1 else "edge"
    padded = np.pad(grey, ((int(top == 0), int(bottom == height)), (1, 1)), mode=mode)
    lap = padded[:-2, 1:-1] + padded[2:, 1:-1]
    lap += padded[1:-1, :-2]
    lap += padded[1:-1, 2:]
    centre = padded[1:-1, 1:-1]
    centre *= 4.0
    lap -= centre
    return np.abs(lap, out=lap)


def contrast(pixels: np.ndarray) -> np.ndarray:
    """|4-neighbour Laplacian| of the grey image (borders mirrored), (H, W) float32."""
    pixels = np.asarray(pixels, dtype=np.float32)
    return _contrast_rows(pixels, 0, pixels.shape[0])


def _strip_weights(pixels: np.ndarray, top: int, bottom: int, exponents: Exponents) -> np.ndarray:
    strip = pixels[top:bottom]
    weight = np.ones(strip.shape[:2], dtype=np.float32)
    if exponents.saturation or exponents.exposedness:
        ones = np.ones(3, dtype=np.float32)
        channel_sum = strip @ ones  # matmul beats .sum(axis=2) several times over
        square_sum = np.square(strip) @ ones
        if exponents.saturation:
            # variance over channels; sqrt then ^ws folds into one power of ws / 2
            variance = np.multiply(channel_sum, channel_sum)
            variance *= -1.0 / 9.0
            variance += square_sum * np.float32(1.0 / 3.0)
            np.maximum(variance, 0.0, out=variance)
            weight = _power(variance, exponents.saturation / 2.0)
        if exponents.exposedness:
            distance = np.subtract(square_sum, channel_sum, out=square_sum)
            distance += 0.75
            distance *= -exponents.exposedness / (2.0 * WELL_EXPOSED_SIGMA**2)
            weight *= np.exp(distance, out=distance)
    if exponents.contrast:
        weight *= _power(_contrast_rows(pixels, top, bottom), exponents.contrast)
    return weight


def quality_weights(pixels: np.ndarray, exponents: Exponents = Exponents()) -> np.ndarray:
    """Unnormalised Mertens weight of every pixel of one (H, W, 3) frame in [0, 1], (H, W) float32.

    Computed in strips of rows, so the dozen temporaries stay in cache instead of streaming through memory.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    height = pixels.shape[0]
    weight = np.empty(pixels.shape[:2], dtype=np.float32)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        weight[top:bottom] = _strip_weights(pixels, top, bottom, exponents)
    return weight


def normalised_weights(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Divide each map by the per-pixel sum over frames (plus a tiny epsilon), in place; returns them."""
    scale = np.add(weights[0], weights[1]) if len(weights) > 1 else weights[0].copy()
    for w in weights[2:]:
        scale += w
    scale += len(weights) * WEIGHT_EPSILON
    np.reciprocal(scale, out=scale)
    for w in weights:
        w += WEIGHT_EPSILON
        w *= scale
    return list(weights)
