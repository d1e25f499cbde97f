"""Wavelet shrinkage under a unit-variance noise: a-trous bands, local shrinkage per band, colour in opponent axes.

See engine.lowlight.pipeline's docstring (step 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from engine.lowlight.noise import NoiseModel, Stabiliser
from engine.lowlight.settings import Settings

_B3 = np.array([1, 4, 6, 4, 1], np.float32) / 16


def _b3(image: np.ndarray, step: int) -> np.ndarray:
    """The a-trous B3-spline smoothing at a hole step (separable, mirrored edges)."""
    import cv2

    kernel = np.zeros(4 * step + 1, np.float32)
    kernel[::step] = _B3
    return cv2.sepFilter2D(image, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def shrink(band: np.ndarray, noise_variance: float, radius: int, power: float = 1.0) -> np.ndarray:
    """Local shrinkage: band * (max(0, E - noise) / E) ** power with E the band's local mean energy.

    power 1 is the Wiener gain (least squares); 1/2 keeps the band's expected clean energy E - noise, so
    texture keeps its strength where it stands above the noise while flat areas still go to zero.
    """
    import cv2

    energy = box_mean(band * band, radius)
    gain = energy - np.float32(noise_variance)
    np.maximum(gain, 0.0, out=gain)
    gain /= np.maximum(energy, np.float32(1e-20))
    if power != 1.0:
        cv2.pow(gain, power, dst=gain)
    gain *= band
    return gain


_BAND_VARIANCES: dict[tuple, list[float]] = {}


def calibrate(key: tuple, bands: Callable[[np.ndarray], list[np.ndarray]]) -> list[float]:
    """Each band's variance for unit white noise (a fixed-seed 512 x 512 sample, cached)."""
    if key not in _BAND_VARIANCES:
        noise = np.random.default_rng(12).standard_normal((512, 512)).astype(np.float32)
        _BAND_VARIANCES[key] = [float(band[48:-48, 48:-48].var()) for band in bands(noise)]
    return _BAND_VARIANCES[key]


def atrous_bands(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Detail bands 1..levels and the remaining smooth image (last)."""
    bands, current = [], image
    for level in range(levels):
        smooth = _b3(current, 2**level)
        bands.append(current - smooth)
        current = smooth
    return bands + [current]


def wavelet_denoise(
    image: np.ndarray,
    noise_variance: float,
    levels: int,
    k: float,
    radius: int,
    fine_k: float | None = None,
    power: float = 1.0,
) -> np.ndarray:
    """Shrink every a-trous band of a 2-D image with white noise of `noise_variance` (noise factor k, or
    `fine_k` for the finest band); keep the smooth rest."""
    unit = calibrate(("atrous", levels), lambda noise: atrous_bands(noise, levels)[:-1])
    bands = atrous_bands(image, levels)
    out = bands[-1].copy()
    for level, (band, variance) in enumerate(zip(bands[:-1], unit, strict=True)):
        factor = fine_k if (level == 0 and fine_k is not None) else k
        out += shrink(band, factor * noise_variance * variance, radius, power)
    return out


# Opponent axes (orthonormal): luma (R+G+B)/sqrt(3) and two chroma differences; unit noise stays unit.
OPPONENT = (
    np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32)
    / np.array([[math.sqrt(3)], [math.sqrt(2)], [math.sqrt(6)]], np.float32)
).astype(np.float32)


def denoise_colour(
    linear: np.ndarray, noise: NoiseModel, n: int, settings: Settings, strength: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Denoise a linear H x W x 3 image whose pixels average n clipped pixels; returns (image, luma residual).

    The residual is the removed part of the stabilised luma (unit-variance noise plus lost texture).
    """
    import cv2

    stabiliser = Stabiliser(noise, n)
    opponent = cv2.transform(stabiliser.forward(linear), OPPONENT)
    # At full resolution (n = 1) the finest band is the photo's finest texture: it gets `fine_k`.
    luma = wavelet_denoise(
        opponent[..., 0],
        1.0,
        settings.levels,
        strength * settings.luma_k,
        settings.luma_radius,
        strength * settings.fine_k if n == 1 else None,
        settings.luma_power,
    )
    chroma = [
        wavelet_denoise(
            opponent[..., c], 1.0, settings.chroma_levels, strength * settings.chroma_k, settings.chroma_radius
        )
        for c in (1, 2)
    ]
    back = cv2.transform(cv2.merge([luma, *chroma]), np.ascontiguousarray(OPPONENT.T))
    denoised, residual = stabiliser.inverse(back), opponent[..., 0] - luma
    return denoised, residual
