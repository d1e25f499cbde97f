"""`python main.py merge IN1 IN2 [IN3 ...] -o OUT [--no-align] [--deghost]`: fuse an exposure bracket."""

from __future__ import annotations

import argparse

from engine.jobs import CancelToken, ProgressFn

NAME = "merge"
HELP = "merge an exposure bracket (2-9 photos) into one photo by exposure fusion"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IN", help="the bracketed photos, in any order")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="merged photo (.jpg, .png or .tif)")
    parser.add_argument("--no-align", action="store_true", help="skip alignment (for shots from a tripod)")
    parser.add_argument("--deghost", action="store_true", help="take moving objects from the middle exposure")
    parser.add_argument("--crop", action="store_true", help="crop to the area all aligned frames cover")
    for measure in ("contrast", "saturation", "exposedness"):
        parser.add_argument(
            f"--{measure}", type=float, default=1.0, metavar="E", help=f"exponent of the {measure} weight (default 1)"
        )


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.errors import InputError
    from engine.fusion.merge import MergeOptions, merge_files
    from engine.fusion.weights import Exponents
    from engine.image import save_photo

    try:
        exponents = Exponents(args.contrast, args.saturation, args.exposedness)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    options = MergeOptions(align=not args.no_align, deghost=args.deghost, crop=args.crop, exponents=exponents)
    result = merge_files(args.inputs, options, progress=progress, cancel=cancel)
    cancel.check()
    save_photo(result.photo, args.output)
    source = "EXIF" if result.exif_exposures else "brightness"
    for index in result.order:
        shift = result.shifts[index]
        marker = "  (reference)" if index == result.reference else ""
        moved = f"shift dy={shift.dy:+d} dx={shift.dx:+d}" + (f" angle={shift.angle:+.2f}deg" if shift.angle else "")
        print(f"{args.inputs[index]}: {result.evs[index]:+.2f} EV, {moved}{marker}")
    print(f"ordered by {source}; wrote {args.output} ({result.photo.width} x {result.photo.height})")
    return 0
