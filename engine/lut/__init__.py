"""LUT core: the LUT3D type, CPU application, .cube and Hald CLUT I/O."""

from engine.lut.apply import apply_lut
from engine.lut.cube import CubeFormatError, read_cube, write_cube
from engine.lut.files import load_lut, save_lut
from engine.lut.lut3d import LUT3D, identity_table
from engine.lut.sampling import INTERPOLATIONS, apply_lut_to_values

__all__ = [
    "INTERPOLATIONS",
    "LUT3D",
    "CubeFormatError",
    "apply_lut",
    "apply_lut_to_values",
    "identity_table",
    "load_lut",
    "read_cube",
    "save_lut",
    "write_cube",
]
