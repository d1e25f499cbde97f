"""read_photo decodes RGB JPEGs with OpenCV (faster): byte for byte Pillow's decode, and a truncated file is
still refused (Pillow decides when the end-of-image marker is missing)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from engine.image import ImageError, read_photo


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 92},  # 4:2:0, as most cameras
        {"quality": 95, "subsampling": 0},  # 4:4:4
        {"quality": 80, "subsampling": 1, "progressive": True},  # 4:2:2 progressive
        {"quality": 90, "restart_marker_blocks": 4},
    ],
)
def test_opencv_decode_equals_pillow(tmp_path, options):
    path = tmp_path / "photo.jpg"
    photo = data.astronaut()[:301, :457]  # odd sizes: partial blocks at the edges
    Image.fromarray(photo).save(path, **options)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(read_photo(path).values, expected)


def test_orientation_from_exif_still_applies(tmp_path):
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to show
    photo = data.coffee()[:200, :300]
    Image.fromarray(photo).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as image:
        stored = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(read_photo(path).values, np.rot90(stored, -1))


def test_truncated_jpeg_is_refused(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(data.astronaut()).save(path, quality=90)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(ImageError, match="cut.jpg"):
        read_photo(path)
