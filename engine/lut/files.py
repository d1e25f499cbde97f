"""Open or save a LUT by file name: .cube text, or a Hald CLUT image (.png/.tif)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.lut.cube import read_cube, write_cube
from engine.lut.hald import read_hald, write_hald
from engine.lut.lut3d import LUT3D

CUBE_SUFFIXES = (".cube",)
HALD_SUFFIXES = (".png", ".tif", ".tiff")


def load_lut(path: str | Path) -> LUT3D:
    """Read a .cube file or a Hald CLUT image, chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CUBE_SUFFIXES:
        return read_cube(path)
    if suffix in HALD_SUFFIXES:
        return read_hald(path)
    raise InputError(f"{path}: unknown LUT format {suffix or '(no suffix)'}; use .cube or a Hald .png/.tif")


def save_lut(lut: LUT3D, path: str | Path) -> None:
    """Write a .cube file or a 16-bit Hald CLUT image, chosen by the suffix (atomically)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CUBE_SUFFIXES:
        write_cube(lut, path)
    elif suffix in HALD_SUFFIXES:
        write_hald(lut, path)
    else:
        raise InputError(f"{path}: unknown LUT format {suffix or '(no suffix)'}; use .cube or a Hald .png/.tif")
