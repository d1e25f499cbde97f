"""`python main.py enhance --preset NAME [--strength S] [--cube OUT.cube] IN OUT`: apply an adaptive preset.

The preset predicts this photo's own LUT; `--cube` also writes that LUT (at the chosen strength) so any
other tool applies exactly the same grade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn

NAME = "enhance"
HELP = "apply an adaptive preset to a photo (optionally write the photo's LUT as .cube)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", required=True, help="preset name (see `presets`)")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = unchanged, 1 = full (default), up to 2")
    parser.add_argument("--cube", type=Path, default=None, help="also write this photo's LUT to a .cube file")
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    if not 0.0 <= args.strength <= 2.0:
        raise InputError(f"--strength {args.strength} is outside 0..2")
    from engine.adaptive.infer import enhance
    from engine.image import load_photo, save_photo
    from engine.lut.cube import write_cube
    from engine.presets import find_preset

    preset = find_preset(args.preset)
    photo = load_photo(args.input)
    pixels, lut = enhance(photo.pixels, preset, args.strength, progress=progress, cancel=cancel)
    save_photo(photo.with_pixels(pixels), args.output)
    if args.cube is not None:
        write_cube(lut, args.cube)
    return 0
