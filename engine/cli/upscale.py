"""`python main.py upscale --scale 2|4 [--model srlut-filter|srlut|mulut|eclut|TABLE.npz] IN OUT` (numpy only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.image import load_photo, save_photo
from engine.jobs import CancelToken, ProgressFn, sub_progress
from engine.sr.infer import MAX_OUTPUT_PIXELS, MODEL_NAMES, resolve_table, upscale_photo

NAME = "upscale"
HELP = "upscale a photo 2x or 4x with look-up-table super-resolution (SR-LUT + edge filters, SR-LUT, MuLUT, EC-LUT)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", type=int, choices=(2, 4), required=True, help="upscale factor")
    parser.add_argument(
        "--model",
        default=MODEL_NAMES[0],
        help=f"{' or '.join(MODEL_NAMES)} (shipped tables) or a .npz table; default {MODEL_NAMES[0]}",
    )
    limit = f"refuse larger outputs (default {MAX_OUTPUT_PIXELS:,})"
    parser.add_argument("--max-pixels", type=int, default=MAX_OUTPUT_PIXELS, help=limit)
    parser.add_argument("input", type=Path, metavar="IN", help="photo to upscale (JPEG, PNG, TIFF)")
    parser.add_argument("output", type=Path, metavar="OUT", help="result (.jpg, .png, .tif)")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    table = resolve_table(args.model, args.scale)
    photo = load_photo(args.input)
    upscaled = upscale_photo(
        photo, table, max_pixels=args.max_pixels, progress=sub_progress(progress, 0.0, 0.9), cancel=cancel
    )
    progress(0.9, f"writing {args.output.name}")
    save_photo(upscaled, args.output)
    progress(1.0, "done")
    return 0
