"""`python main.py apply --lut F.cube [--interp trilinear|tetrahedral] [--strength S] IN OUT`."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import InputError
from engine.image import PROFILES, read_photo, save_raw
from engine.jobs import CancelToken, ProgressFn
from engine.lut import INTERPOLATIONS, load_lut
from engine.lut.apply import apply_lut_in_place

NAME = "apply"
HELP = "apply a .cube (or Hald CLUT image) LUT to a photo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lut", required=True, type=Path, help=".cube file or Hald CLUT image (.png/.tif)")
    parser.add_argument("--interp", choices=INTERPOLATIONS, default="tetrahedral", help="default: tetrahedral")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = unchanged, 1 = full LUT (default)")
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="working",
        help="working: write sRGB (photos with another embedded profile are converted on "
        "load); source: convert back to the photo's own profile (default: working)",
    )
    parser.add_argument("input", type=Path, metavar="IN", help="photo to grade (JPEG, PNG, TIFF)")
    parser.add_argument("output", type=Path, metavar="OUT", help="result (.jpg, .png, .tif); keeps the bit depth")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    if not 0.0 <= args.strength <= 1.0:
        raise InputError(f"--strength must be within 0..1, got {args.strength}")
    lut = load_lut(args.lut)
    photo = read_photo(args.input)  # graded in place at its own bit depth, band by band
    apply_lut_in_place(photo.values, photo.peak, lut, args.interp, args.strength, progress=progress, cancel=cancel)
    save_raw(photo, args.output, profile=args.profile)
    return 0
