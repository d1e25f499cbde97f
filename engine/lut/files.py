"""Open or save a LUT by file name: .cube text, or a Hald CLUT image (.png/.tif)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import InputError
from engine.lut.cube import read_cube, write_cube
from engine.lut.hald import HALD_SUFFIXES, read_hald, write_hald
from engine.lut.lut3d import LUT3D

CUBE_SUFFIXES = (".cube",)


def load_lut(path: str | Path) -> LUT3D:
    """Read a .cube file or a Hald CLUT image, chosen by the suffix."""
    path = Path(path)
    return read_cube(path) if _is_cube(path) else read_hald(path)


def save_lut(lut: LUT3D, path: str | Path) -> None:
    """Write a .cube file or a 16-bit Hald CLUT image, chosen by the suffix (atomically)."""
    path = Path(path)
    if _is_cube(path):
        write_cube(lut, path)
    else:
        write_hald(lut, path)


def _is_cube(path: Path) -> bool:
    """True for a .cube name, False for a Hald image name; InputError for anything else."""
    suffix = path.suffix.lower()
    if suffix not in CUBE_SUFFIXES + HALD_SUFFIXES:
        raise InputError(f"{path}: unknown LUT format {suffix or '(no suffix)'}; use .cube or a Hald .png/.tif")
    return suffix in CUBE_SUFFIXES
