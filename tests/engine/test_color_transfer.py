"""engine.color's sRGB transfer functions against the IEC 61966-2-1 formulas in float64, for every shape
they are called with (photos, LUT lattices, single numbers) and values a little outside [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from engine.color import linear_to_srgb, srgb_to_linear


def decode_reference(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)


def encode_reference(v: np.ndarray) -> np.ndarray:
    v = np.maximum(np.asarray(v, np.float64), 0.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize("shape", [(), (7,), (40, 30, 3), (9, 9, 9, 3)])
def test_transfer_functions_match_the_standard(shape):
    values = (np.random.default_rng(len(shape)).random(shape) * 1.4 - 0.2).astype(np.float32)
    decoded, encoded = srgb_to_linear(values), linear_to_srgb(values)
    assert decoded.shape == encoded.shape == np.shape(values) and decoded.dtype == encoded.dtype == np.float32
    np.testing.assert_allclose(decoded, decode_reference(values), atol=1e-6)
    np.testing.assert_allclose(encoded, encode_reference(values), atol=1e-6)


def test_known_values_and_round_trip():
    assert float(srgb_to_linear(0.5)) == pytest.approx(0.214041, abs=1e-6)  # mid grey is 21 % linear
    assert float(linear_to_srgb(0.18)) == pytest.approx(0.461356, abs=1e-6)  # 18 % grey card
    ramp = np.linspace(0.0, 1.0, 1001, dtype=np.float32)[::2]  # strided: not contiguous
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(ramp)), ramp, atol=1e-6)
    plane = np.random.default_rng(5).random((30, 20), dtype=np.float32).T  # Fortran order
    np.testing.assert_allclose(srgb_to_linear(plane), decode_reference(plane), atol=1e-6)
    np.testing.assert_allclose(linear_to_srgb(plane), encode_reference(plane), atol=1e-6)
