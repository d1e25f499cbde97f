"""`python main.py presets`: list the adaptive presets, one per line, name first (no torch import)."""

from __future__ import annotations

import argparse
import sys

from engine.jobs import CancelToken, ProgressFn

NAME = "presets"
HELP = "list adaptive presets (shipped and your own), one per line, name first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", "-v", action="store_true", help="also print each preset's files")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.presets import all_presets

    presets, problems = all_presets()
    for preset in presets:
        origin = "shipped" if preset.shipped else "user"
        metrics = preset.meta.get("metrics", {})
        gain, psnr = metrics.get("held_out_gain_db"), metrics.get("best_val_psnr")
        if isinstance(gain, int | float):
            score = f"\theld-out photos {gain:+.1f} dB closer than no edit"
        elif isinstance(psnr, int | float):
            score = f"\theld-out {psnr:.2f} dB"
        else:
            score = f"\tthe {preset.meta['base']!r} preset, then this look" if preset.meta.get("base") else ""
        sys.stdout.write(f"{preset.name}\t{origin}{score}\t{preset.description}\n")
        if args.verbose:
            sys.stdout.write(f"\t{preset.json_path}\n\t{preset.weights_path}\n")
    for problem in problems:
        sys.stderr.write(f"warning: refused {problem}\n")
    return 0
