"""Photo I/O against independent readers (Pillow, tifffile, OpenCV) and hostile files."""

from __future__ import annotations

import os
import stat

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from engine.image import ImageError, Photo, load_photo, sample_photo, save_photo

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def rgb8() -> np.ndarray:
    return (np.random.default_rng(1).random((17, 23, 3)) * 255).astype(np.uint8)


@pytest.fixture
def rgb16() -> np.ndarray:
    return (np.random.default_rng(2).random((17, 23, 3)) * 65535).astype(np.uint16)


def test_png8_is_read_exactly(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert photo.bit_depth == 8 and photo.alpha is None and photo.pixels.dtype == np.float32
    np.testing.assert_array_equal(np.rint(photo.pixels * 255).astype(np.uint8), rgb8)
    assert photo.path == tmp_path / "a.png"


def test_png16_rgb_keeps_all_16_bits(tmp_path, rgb16):
    cv2.imwrite(str(tmp_path / "a.png"), rgb16[:, :, ::-1])  # OpenCV writes BGR
    photo = load_photo(tmp_path / "a.png")
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(np.rint(photo.pixels * 65535).astype(np.uint16), rgb16)


def test_tiff16_and_grey_tiff(tmp_path, rgb16):
    tifffile.imwrite(tmp_path / "a.tif", rgb16, photometric="rgb")
    photo = load_photo(tmp_path / "a.tif")
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(np.rint(photo.pixels * 65535).astype(np.uint16), rgb16)
    tifffile.imwrite(tmp_path / "g.tif", rgb16[:, :, 0], photometric="minisblack")
    grey = load_photo(tmp_path / "g.tif")
    for channel in range(3):
        np.testing.assert_array_equal(np.rint(grey.pixels[:, :, channel] * 65535).astype(np.uint16), rgb16[:, :, 0])


def test_grey_png_becomes_three_channels(tmp_path, rgb8):
    Image.fromarray(rgb8[:, :, 1]).save(tmp_path / "g.png")
    photo = load_photo(tmp_path / "g.png")
    assert photo.pixels.shape == (17, 23, 3)
    np.testing.assert_array_equal(photo.pixels[:, :, 0], photo.pixels[:, :, 2])
    np.testing.assert_allclose(photo.pixels[:, :, 0], rgb8[:, :, 1] / 255.0, atol=1e-7)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    rgb = (np.random.default_rng(orientation).random((6, 10, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "o.png", exif=exif.tobytes())  # PNG: lossless, so pixels compare exactly
    with Image.open(tmp_path / "o.png") as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    photo = load_photo(tmp_path / "o.png")
    np.testing.assert_array_equal(np.rint(photo.pixels * 255).astype(np.uint8), expected)


def test_jpeg_export_keeps_exif_with_orientation_reset(tmp_path):
    rgb = (np.random.default_rng(3).random((8, 12, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "LUTLab test camera"  # Make
    Image.fromarray(rgb).save(tmp_path / "in.jpg", exif=exif.tobytes(), quality=100)
    photo = load_photo(tmp_path / "in.jpg")
    assert photo.pixels.shape == (12, 8, 3)  # rotated upright
    save_photo(photo, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as image:
        written = image.getexif()
        assert written[0x0112] == 1
        assert written[0x010F] == "LUTLab test camera"
        assert image.size == (8, 12)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("depth", [8, 16])
def test_round_trip_with_alpha_and_icc(tmp_path, suffix, depth):
    rng = np.random.default_rng(4)
    photo = Photo(rng.random((9, 14, 3), dtype=np.float32), rng.random((9, 14), dtype=np.float32), icc=SRGB_ICC)
    target = tmp_path / f"out{suffix}"
    save_photo(photo, target, bit_depth=depth)
    back = load_photo(target)
    step = 1 / (255 if depth == 8 else 65535)
    assert back.bit_depth == depth
    np.testing.assert_allclose(back.pixels, photo.pixels, atol=step / 2 + 1e-7)
    np.testing.assert_allclose(back.alpha, photo.alpha, atol=step / 2 + 1e-7)
    assert back.icc == SRGB_ICC


def test_png16_export_is_readable_by_opencv(tmp_path):
    photo = Photo(np.random.default_rng(5).random((5, 7, 3), dtype=np.float32), bit_depth=16)
    save_photo(photo, tmp_path / "o.png")
    data = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)
    assert data.dtype == np.uint16
    np.testing.assert_array_equal(data[:, :, ::-1], np.rint(photo.pixels * 65535).astype(np.uint16))


def test_jpeg_quality_and_bit_depth_checks(tmp_path):
    photo = sample_photo("chelsea")
    save_photo(photo, tmp_path / "hi.jpg", quality=95)
    save_photo(photo, tmp_path / "lo.jpg", quality=20)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
    assert np.abs(load_photo(tmp_path / "hi.jpg").pixels - photo.pixels).mean() < 0.01
    with pytest.raises(ImageError, match="8 bits"):
        save_photo(photo, tmp_path / "x.jpg", bit_depth=16)
    with pytest.raises(ImageError, match="unsupported output format"):
        save_photo(photo, tmp_path / "x.gif")


def test_export_is_atomic_and_has_normal_permissions(tmp_path, monkeypatch):
    photo = sample_photo("coffee")
    target = tmp_path / "out.png"
    save_photo(photo, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    before = target.read_bytes()

    def failing_save(self, stream, *args, **kwargs):
        stream.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(ImageError, match="No space left"):
        save_photo(photo, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_pixel_limit_refuses_before_decoding(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "a.png")
    with pytest.raises(ImageError, match=r"a\.png.*exceeds the limit"):
        load_photo(tmp_path / "a.png", max_pixels=100)
    tifffile.imwrite(tmp_path / "a.tif", rgb8)
    with pytest.raises(ImageError, match=r"a\.tif.*decompression bomb"):
        load_photo(tmp_path / "a.tif", max_pixels=100)


def test_png_bomb_header_is_refused(tmp_path):
    """A tiny PNG claiming 100000 x 100000 pixels is refused from its header alone."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageError, match=r"bomb\.png.*(decompression bomb|pixel limit)"):
        load_photo(tmp_path / "bomb.png")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_truncated_files_are_refused(tmp_path, suffix):
    photo = Photo(np.random.default_rng(6).random((64, 64, 3), dtype=np.float32), bit_depth=16)
    save_photo(photo, tmp_path / f"full{suffix}", bit_depth=8 if suffix == ".jpg" else 16)
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=rf"cut\{suffix}"):
        load_photo(tmp_path / f"cut{suffix}")


def test_empty_missing_and_non_image_files(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file"):
        load_photo(tmp_path / "empty.jpg")
    with pytest.raises(ImageError, match="no such file"):
        load_photo(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("this is not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_photo(tmp_path / "notes.png")
    with pytest.raises(ImageError, match="not a file"):
        load_photo(tmp_path)


def test_with_pixels_keeps_metadata_and_resizes_alpha():
    alpha = np.zeros((4, 6), np.float32)
    alpha[:, 3:] = 1.0
    photo = Photo(np.zeros((4, 6, 3), np.float32), alpha, 16, b"Exif\x00\x00", SRGB_ICC)
    same = photo.with_pixels(np.ones((4, 6, 3), np.float32))
    assert same.alpha is photo.alpha and same.icc == SRGB_ICC and same.bit_depth == 16
    bigger = photo.with_pixels(np.ones((8, 12, 3), np.float32))
    assert bigger.alpha.shape == (8, 12)
    np.testing.assert_array_equal(bigger.alpha[:, :5], 0.0)
    np.testing.assert_array_equal(bigger.alpha[:, 7:], 1.0)


def test_sample_photos_are_bundled():
    photo = sample_photo()
    assert photo.pixels.shape == (512, 512, 3) and photo.pixels.dtype == np.float32
    assert 0.0 <= photo.pixels.min() and photo.pixels.max() <= 1.0
    assert sample_photo("camera").pixels.shape == (512, 512, 3)
    with pytest.raises(ImageError, match="unknown sample photo"):
        sample_photo("nope")
