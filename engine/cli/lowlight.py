"""`python main.py lowlight IN OUT [--gamma G] [--exposure E] [--strength S] [--model W.safetensors] [--full]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.image import load_photo, save_photo
from engine.jobs import CancelToken, ProgressFn
from engine.lowlight import EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA

NAME = "lowlight"
HELP = "brighten a dark, noisy photo at full resolution (PairLIE, trained here)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gamma", type=float, default=OUTPUT_GAMMA,
                        help=f"illumination exponent {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]}: smaller lifts shadows more "
                             f"(default {OUTPUT_GAMMA}; the paper's is 0.2)")
    parser.add_argument("--exposure", type=float, default=None,
                        help=f"brightness factor {EXPOSURE_RANGE[0]}..{EXPOSURE_RANGE[1]} on the lifted illumination "
                             "(1 = the paper's output); default: chosen per photo")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = unchanged, 1 = full effect (default)")
    parser.add_argument("--model", type=Path, default=None, help="weights (.safetensors + .json); default: shipped")
    parser.add_argument("--full", action="store_true", help="run the nets on every pixel (slow reference path)")
    parser.add_argument("input", type=Path, metavar="IN", help="dark photo (JPEG, PNG, TIFF)")
    parser.add_argument("output", type=Path, metavar="OUT", help="result (.jpg, .png, .tif); keeps the bit depth")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.lowlight.infer import enhance, enhance_full, shipped_model
    from engine.lowlight.model import load_model

    photo = load_photo(args.input)
    model = load_model(args.model)[0] if args.model else shipped_model()
    method = enhance_full if args.full else enhance
    result = method(photo.pixels, model, gamma=args.gamma, exposure=args.exposure, strength=args.strength,
                    progress=progress, cancel=cancel)
    save_photo(photo.with_pixels(result), args.output)
    return 0
