"""ColourTable grades 8-bit samples to exactly the bytes of apply_lut_in_place, photo after photo."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from engine.errors import InputError
from engine.lut import LUT3D, identity_table
from engine.lut.apply import ColourTable, apply_lut_in_place


def _curved_lut(size: int = 17) -> LUT3D:
    unit = identity_table(size).astype(np.float64)
    bent = unit + 0.1 * np.sin(2 * np.pi * unit)
    mixed = bent @ np.array([[0.8, 0.2, 0.0], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]]).T
    return LUT3D(np.clip(mixed, 0, 1).astype(np.float32))


@pytest.mark.parametrize("interpolation, strength", [("tetrahedral", 1.0), ("trilinear", 0.6)])
def test_same_bytes_as_apply_lut_in_place_photo_after_photo(interpolation, strength):
    lut = _curved_lut()
    table = ColourTable(lut, interpolation, strength)
    for photo in (data.astronaut(), data.coffee(), data.astronaut()):
        expected = photo.copy()
        apply_lut_in_place(expected, 255.0, lut, interpolation, strength)
        graded = photo.copy()
        table.apply_in_place(graded, band_rows=37)
        np.testing.assert_array_equal(graded, expected)
        assert not np.array_equal(graded, photo)
    distinct = len(np.unique(np.concatenate([p.reshape(-1, 3) for p in (data.astronaut(), data.coffee())]), axis=0))
    assert table.known.sum() == distinct  # each colour interpolated once, the repeated photo adds none


def test_alpha_is_left_alone():
    lut = _curved_lut()
    rgba = np.dstack([data.coffee()[:64, :80], np.arange(64 * 80, dtype=np.uint8).reshape(64, 80)])
    expected = rgba.copy()
    apply_lut_in_place(expected, 255.0, lut)
    ColourTable(lut).apply_in_place(rgba)
    np.testing.assert_array_equal(rgba, expected)


def test_refuses_16_bit_samples():
    with pytest.raises(InputError, match="uint8"):
        ColourTable(_curved_lut()).apply_in_place(np.zeros((4, 4, 3), np.uint16))
