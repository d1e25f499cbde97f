"""Hald CLUT import/export: layout against the definition, round trips through 8/16-bit images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.image import ImageError
from engine.lut import LUT3D, apply_lut_to_values, identity_table, load_lut, save_lut
from engine.lut.hald import hald_pixels, read_hald, write_hald


def test_identity_hald_matches_the_definition():
    """Pixel i of a level-L identity Hald (row-major) is (i % N, i // N % N, i // N^2) / (N - 1), N = L^2."""
    level, n = 4, 16
    pixels = hald_pixels(LUT3D.identity(7), level).reshape(-1, 3)
    i = np.arange(n**3)
    expected = np.stack([i % n, i // n % n, i // (n * n)], axis=1) / (n - 1)
    np.testing.assert_allclose(pixels, expected, atol=1e-6)
    assert hald_pixels(LUT3D.identity(3), level).shape == (64, 64, 3)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_round_trip_16_bit(tmp_path, suffix):
    lut = LUT3D(np.random.default_rng(1).random((16, 16, 16, 3), dtype=np.float32))
    write_hald(lut, tmp_path / f"h{suffix}", level=4)
    back = read_hald(tmp_path / f"h{suffix}")
    assert back.size == 16
    np.testing.assert_allclose(back.table, lut.table, atol=0.5 / 65535 + 1e-7)


def test_reads_an_8_bit_hald_made_elsewhere(tmp_path):
    """An 8-bit level-2 identity Hald built from the definition (as ImageMagick's hald:2 would be)."""
    n = 4
    i = np.arange(n**3)
    rgb = np.stack([i % n, i // n % n, i // (n * n)], axis=1) * 85
    Image.fromarray(rgb.reshape(8, 8, 3).astype(np.uint8)).save(tmp_path / "hald2.png")
    lut = load_lut(tmp_path / "hald2.png")
    np.testing.assert_allclose(lut.table, identity_table(4), atol=1e-6)


def test_export_resamples_and_respects_the_domain(tmp_path):
    wide = LUT3D(identity_table(5) * 2, "double domain", (0, 0, 0), (2, 2, 2))  # identity on [0, 2]
    save_lut(wide, tmp_path / "w.png")
    np.testing.assert_allclose(read_hald(tmp_path / "w.png").table, identity_table(64), atol=1e-5)
    values = np.random.default_rng(2).random((100, 3)).astype(np.float32)
    np.testing.assert_allclose(apply_lut_to_values(load_lut(tmp_path / "w.png"), values), values, atol=1e-4)


def test_bad_hald_images(tmp_path):
    Image.new("RGB", (64, 32)).save(tmp_path / "rect.png")
    with pytest.raises(ImageError, match=r"rect\.png: not a Hald CLUT: 64 x 32"):
        read_hald(tmp_path / "rect.png")
    Image.new("RGB", (50, 50)).save(tmp_path / "square.png")
    with pytest.raises(ImageError, match="not a Hald CLUT"):
        read_hald(tmp_path / "square.png")
    with pytest.raises(ImageError, match="lossless"):
        write_hald(LUT3D.identity(4), tmp_path / "h.jpg")
    with pytest.raises(ImageError, match="level"):
        write_hald(LUT3D.identity(4), tmp_path / "h.png", level=20)
