"""Colour management: a Display P3 JPEG and an Adobe RGB TIFF (profiles written here and read by
LittleCMS) are converted to sRGB on load as LittleCMS converts them, exported tagged sRGB, or back in
their own profile on request."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from engine import icc
from engine.cli import main
from engine.image import ICC_TIFF_TAG, load_photo, read_photo, save_photo
from engine.lut import LUT3D, write_cube

P3 = icc.matrix_shaper_profile("Display P3", **icc.DISPLAY_P3)
ADOBE = icc.matrix_shaper_profile("Adobe RGB (1998)", **icc.ADOBE_RGB)


def littlecms(rgb8: np.ndarray, source: bytes, target: bytes) -> np.ndarray:
    """LittleCMS's own conversion (relative colorimetric) of 8-bit pixels, the reference."""
    profiles = [ImageCms.ImageCmsProfile(io.BytesIO(p)) for p in (source, target)]
    return np.asarray(ImageCms.profileToProfile(Image.fromarray(rgb8), *profiles, renderingIntent=1))


@pytest.fixture(scope="module")
def rgb8() -> np.ndarray:
    from skimage import data

    photo = data.astronaut()[::4, ::4].astype(np.float64)
    saturated = np.random.default_rng(0).integers(0, 256, (32, photo.shape[1], 3))  # out-of-sRGB-gamut colours
    return np.concatenate([photo, saturated]).astype(np.uint8)


def test_written_profiles_are_what_littlecms_reads():
    for data, name in ((P3, "Display P3"), (ADOBE, "Adobe RGB (1998)")):
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        assert ImageCms.getProfileDescription(profile).strip() == name
        assert not icc.is_srgb(data) and icc.matrix_shaper(data) is not None
    assert icc.is_srgb(icc.srgb_profile()) and icc.is_srgb(None)


def test_display_p3_jpeg_is_opened_and_exported_as_littlecms_converts_it(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "phone.jpg", quality=95, icc_profile=P3)
    with Image.open(tmp_path / "phone.jpg") as image:
        decoded = np.asarray(image.convert("RGB"))
    expected = littlecms(decoded, P3, icc.srgb_profile())
    photo = load_photo(tmp_path / "phone.jpg")
    assert photo.icc == icc.srgb_profile() and photo.source_icc == P3
    assert np.abs(np.rint(photo.pixels * 255) - expected).max() <= 1  # the pixels edited and previewed

    save_photo(photo, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == icc.srgb_profile()
        assert np.abs(np.asarray(image).astype(int) - expected).max() <= 1

    save_photo(photo, tmp_path / "back.png", profile="source")
    with Image.open(tmp_path / "back.png") as image:
        assert image.info["icc_profile"] == P3
        back = np.asarray(image).astype(int)
    in_gamut = (expected > 2).all(axis=-1) & (expected < 253).all(axis=-1)  # sRGB clipped the rest
    assert np.abs(back - decoded)[in_gamut].max() <= 2


def test_adobe_rgb_16_bit_tiff_is_converted_in_float(tmp_path, rgb8):
    rgb16 = rgb8.astype(np.uint16) * 257
    tifffile.imwrite(
        tmp_path / "scan.tif", rgb16, photometric="rgb", extratags=[(ICC_TIFF_TAG, 7, len(ADOBE), ADOBE, True)]
    )
    photo = load_photo(tmp_path / "scan.tif")
    assert photo.bit_depth == 16 and photo.source_icc == ADOBE
    reference = littlecms(rgb8, ADOBE, icc.srgb_profile())  # LittleCMS rounds to 8 bits; we keep 16
    assert np.abs(photo.pixels * 255 - reference).max() <= 1.0
    assert (np.rint(photo.pixels * 255) != reference).mean() < 0.02
    save_photo(photo, tmp_path / "back.tif", profile="source")
    with tifffile.TiffFile(tmp_path / "back.tif") as tif:
        assert bytes(tif.pages.first.tags[ICC_TIFF_TAG].value) == ADOBE
        back = tif.pages.first.asarray().astype(int)
    in_gamut = ((photo.pixels > 0.01) & (photo.pixels < 0.99)).all(axis=-1)
    assert np.abs(back - rgb16)[in_gamut].max() <= 64  # 1/1000: a float round trip through sRGB


def test_apply_command_works_in_srgb_and_writes_either_profile(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "phone.png", icc_profile=P3)
    write_cube(LUT3D.identity(2), tmp_path / "identity.cube")
    for profile in ("working", "source"):
        out = tmp_path / f"{profile}.png"
        assert (
            main(
                [
                    "apply",
                    "--lut",
                    str(tmp_path / "identity.cube"),
                    "--profile",
                    profile,
                    str(tmp_path / "phone.png"),
                    str(out),
                ]
            )
            == 0
        )
        written = read_photo(out)
        assert written.source_icc == (None if profile == "working" else P3)
    with Image.open(tmp_path / "working.png") as image:
        assert image.info["icc_profile"] == icc.srgb_profile()
        assert np.abs(np.asarray(image).astype(int) - littlecms(rgb8, P3, icc.srgb_profile())).max() <= 1
