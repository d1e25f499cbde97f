"""`python main.py lowlight IN OUT [--exposure E] [--gamma G] [--denoise D] [--strength S] [--model NAME]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.image import load_photo, save_photo
from engine.jobs import CancelToken, ProgressFn
from engine.lowlight import DENOISE_RANGE, EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA

NAME = "lowlight"
HELP = "brighten a dark, noisy photo: linear-light exposure, denoising with the photo's own noise model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exposure",
        type=float,
        default=None,
        help=f"linear brightness gain {EXPOSURE_RANGE[0]:g}..{EXPOSURE_RANGE[1]:g} (2 = one stop); "
        "default: chosen per photo (its brightest 0.1%% become white)",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=OUTPUT_GAMMA,
        help=f"shadow lift {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]}: below 1 lifts shadows more than "
        f"highlights (default {OUTPUT_GAMMA:g}: the photo's own contrast)",
    )
    parser.add_argument(
        "--denoise",
        type=float,
        default=1.0,
        help=f"noise reduction {DENOISE_RANGE[0]:g}..{DENOISE_RANGE[1]:g} (0 = none, default 1)",
    )
    parser.add_argument("--strength", type=float, default=1.0, help="0 = unchanged, 1 = full effect (default)")
    parser.add_argument(
        "--model",
        default=None,
        help="a PairLIE model: 'shipped', the name of one you trained (train --kind lowlight) or a .safetensors "
        "file (+ .json): its denoiser N replaces the classical one (measured worse on the corpus; see the README)",
    )
    parser.add_argument("input", type=Path, metavar="IN", help="dark photo (JPEG, PNG, TIFF)")
    parser.add_argument("output", type=Path, metavar="OUT", help="result (.jpg, .png, .tif); keeps the bit depth")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.lowlight.pipeline import enhance_details

    photo = load_photo(args.input)
    denoiser = None
    if args.model is not None:
        from engine.lowlight.models import denoiser as model_denoiser

        denoiser = model_denoiser(args.model)
    result = enhance_details(
        photo.pixels,
        exposure=args.exposure,
        gamma=args.gamma,
        denoise=args.denoise,
        strength=args.strength,
        denoiser=denoiser,
        progress=progress,
        cancel=cancel,
    )
    save_photo(photo.with_pixels(result.pixels), args.output)
    sys.stderr.write(
        f"exposure x{result.exposure:.2f}, noise sigma {255 * result.noise.sigma(0.0):.2f} (black) "
        f"to {255 * result.noise.sigma(1.0):.2f} (white) 8-bit levels\n"
    )
    return 0
