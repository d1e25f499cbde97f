"""Colour helpers shared by every capability: sRGB transfer, luminance, BT.601 luma for SR metrics."""

from __future__ import annotations

import numpy as np

REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def _power(base: np.ndarray, exponent: float) -> np.ndarray:
    """`base ** exponent` in place for positive float32 `base`, any shape: OpenCV's pow, 1.1-2x numpy's."""
    import cv2

    assert base.flags.c_contiguous, "reshaped in place below: a copy would be raised to the power instead"
    flat = base.reshape(-1, 1)  # OpenCV takes at most 3 dimensions; a column is any array's elements
    cv2.pow(flat, exponent, dst=flat)
    return base


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding of sRGB-encoded values in [0, 1] (values beyond follow the same two pieces)."""
    v = np.asarray(values, dtype=np.float32)
    out = np.maximum(v, np.float32(0.04045), out=np.empty_like(v, order="C"))  # an array even for one number
    out += np.float32(0.055)
    out *= np.float32(1 / 1.055)
    out = _power(out, 2.4)
    np.copyto(out, v * np.float32(1 / 12.92), where=v <= np.float32(0.04045))
    return out


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding of linear values; negative inputs map to 0."""
    v = np.maximum(np.asarray(values, dtype=np.float32), np.float32(0.0), out=np.empty(np.shape(values), np.float32))
    out = _power(np.maximum(v, np.float32(0.0031308), out=np.empty_like(v, order="C")), 1 / 2.4)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    np.copyto(out, v * np.float32(12.92), where=v <= np.float32(0.0031308))
    return out


def luminance(linear_rgb: np.ndarray) -> np.ndarray:
    """Relative luminance (Rec. 709 primaries) of linear RGB, shape (...,)."""
    return np.asarray(linear_rgb, dtype=np.float32) @ REC709_LUMA


def bt601_luma(rgb: np.ndarray) -> np.ndarray:
    """Y of BT.601 YCbCr in [16, 235] for sRGB-encoded RGB in [0, 1] (the SR-paper convention)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two arrays of equal shape."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


CLIPPED_HIGHLIGHT = np.array([1.0, 0.0, 0.0], np.float32)
CRUSHED_SHADOW = np.array([0.0, 0.3, 1.0], np.float32)


def mark_clipping(rgb: np.ndarray) -> np.ndarray:
    """A copy with clipped pixels marked as the GPU preview marks them: any channel at 8-bit level 255 red,
    every channel at level 0 blue (the editor's clipping warning, key J)."""
    top = rgb.max(axis=-1)
    marked = rgb.copy()
    marked[top >= 254.5 / 255.0] = CLIPPED_HIGHLIGHT
    marked[top <= 0.5 / 255.0] = CRUSHED_SHADOW
    return marked
