"""Hald CLUT images: a LUT stored as a picture, read by ImageMagick, darktable, RawTherapee, G'MIC.

A level-L Hald image is square with side L^3 and holds an L^2-point cube; its pixels, read row by row,
are the lattice with red changing fastest, then green, then blue — exactly `LUT3D.table.reshape(-1, 3)`.
So import and export are reshapes; export resamples the LUT onto the level's lattice first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.image import ImageError, Photo, load_photo, save_photo
from engine.lut.lut3d import LUT3D, MAX_SIZE, identity_table
from engine.lut.sampling import apply_lut_to_values

DEFAULT_LEVEL = 8  # 512 x 512 image, 64-point cube
HALD_SUFFIXES = (".png", ".tif", ".tiff")  # lossless only: a JPEG would bend the lattice
LEVELS = tuple(level for level in range(2, 17) if level * level <= MAX_SIZE)


def read_hald(path: str | Path) -> LUT3D:
    """Load a Hald CLUT image (PNG/TIFF, 8 or 16 bit) as a LUT3D on the unit domain."""
    path = Path(path)
    photo = load_photo(path)
    side = photo.width
    level = round(side ** (1 / 3))
    if photo.height != side or level**3 != side or level not in LEVELS:
        sides = ", ".join(str(lv**3) for lv in LEVELS)
        raise ImageError(f"{path}: not a Hald CLUT: {photo.width} x {photo.height}, expected a square of side {sides}")
    size = level * level
    return LUT3D(photo.pixels.reshape(size, size, size, 3), title=path.stem)


def hald_pixels(lut: LUT3D, level: int = DEFAULT_LEVEL) -> np.ndarray:
    """The level-`level` Hald image of `lut` as float32 (L^3, L^3, 3); values outside [0, 1] are clipped on save."""
    if level not in LEVELS:
        raise ImageError(f"Hald level must be one of {LEVELS}, got {level}")
    size = level * level
    table = apply_lut_to_values(lut, identity_table(size), "tetrahedral")
    return table.reshape(level**3, level**3, 3)


def write_hald(lut: LUT3D, path: str | Path, *, level: int = DEFAULT_LEVEL, bit_depth: int = 16) -> None:
    """Export `lut` as a Hald CLUT image (PNG or TIFF; 16 bit by default so no precision is lost)."""
    path = Path(path)
    if path.suffix.lower() not in HALD_SUFFIXES:
        raise ImageError(f"{path}: a Hald CLUT must be saved as .png or .tif (lossless)")
    save_photo(Photo(hald_pixels(lut, level), bit_depth=bit_depth), path, bit_depth=bit_depth)
