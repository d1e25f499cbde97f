"""`python main.py apply --lut F.cube [--interp trilinear|tetrahedral] [--strength S] IN OUT`."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import InputError
from engine.image import load_photo, save_photo
from engine.jobs import CancelToken, ProgressFn
from engine.lut import INTERPOLATIONS, apply_lut, load_lut

NAME = "apply"
HELP = "apply a .cube (or Hald CLUT image) LUT to a photo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lut", required=True, type=Path, help=".cube file or Hald CLUT image (.png/.tif)")
    parser.add_argument("--interp", choices=INTERPOLATIONS, default="tetrahedral", help="default: tetrahedral")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = unchanged, 1 = full LUT (default)")
    parser.add_argument("input", type=Path, metavar="IN", help="photo to grade (JPEG, PNG, TIFF)")
    parser.add_argument("output", type=Path, metavar="OUT", help="result (.jpg, .png, .tif); keeps the bit depth")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    if not 0.0 <= args.strength <= 1.0:
        raise InputError(f"--strength must be within 0..1, got {args.strength}")
    lut = load_lut(args.lut)
    photo = load_photo(args.input)
    graded = apply_lut(photo.pixels, lut, args.interp, args.strength, progress=progress, cancel=cancel)
    save_photo(photo.with_pixels(graded), args.output)
    return 0
