"""`python main.py train --kind KIND --data DIR --name NAME [--epochs N] ...`: train a model on your photos.

``--kind adaptive --photos DIR`` trains an Auto preset of your own from a folder of good photos alone
(synthetic capture faults are made from them), instead of from before/after pairs.

One sub-command for every trainable family, dispatched by ``--kind`` through the `KINDS` table. To add a
kind, write a small ``_KIND_options(group)`` function here that adds the kind's own flags, and one
`KINDS` entry ``Kind(module, options)``. The module (``engine.<family>.train``) provides

    run_cli(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int
        validates ``args.data`` (and ``args.target``: pairs in two folders), prints the data report,
        trains with Progress + Cancel, writes the model (``args.out`` or the per-user data folder) and
        returns 0; unusable data raises an `InputError` (exit 2), Cancel raises `Cancelled` (exit 130).

Common options, parsed here: --kind, --data, --target, --name, --epochs (None: the kind's default),
--seed, --out. Give kind options ``default=None`` and a help text starting with the kind, so a user
sees which kind reads them. The options live here, not in the family module, because the family
modules import torch and building the CLI parser must not.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from engine.jobs import CancelToken, ProgressFn

NAME = "train"
HELP = (
    "train a model (adaptive preset, super-resolution, low-light) from a folder of before/after pairs, "
    "or an Auto preset from a folder of good photos (--kind adaptive --photos DIR)"
)


@dataclass(frozen=True)
class Kind:
    module: str  # provides run_cli(args, progress, cancel) -> int
    options: Callable[[argparse._ArgumentGroup], None]


def _adaptive_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--photos",
        default=None,
        help="adaptive: a folder of good photos; trains an Auto preset that undoes synthetic "
        "capture faults (exposure, white balance, contrast, saturation) instead of using --data",
    )
    group.add_argument("--lut-size", type=int, default=None, help="adaptive: lattice size N (default 33)")
    group.add_argument(
        "--luts", type=int, default=None, help="adaptive: learned basis LUTs beside the 14 physical ones (default 3)"
    )
    group.add_argument(
        "--compressed",
        action="store_true",
        default=None,
        help="adaptive: CLUT-Net compressed basis LUTs with residual output",
    )


def _sr_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--sr-model", choices=("srlut", "mulut", "eclut"), default=None, help="sr: net kind (default srlut)"
    )
    group.add_argument("--scale", type=int, choices=(2, 4), default=None, help="sr: upscale factor (default 4)")
    group.add_argument(
        "--stages",
        type=int,
        choices=(1, 2),
        default=None,
        help="sr: 2 puts a first table in front that refines the photo at its own size (MuLUT's "
        "cascade; about twice the training time; default 1)",
    )
    group.add_argument(
        "--steps",
        type=int,
        default=None,
        help="sr, lowlight: training steps (sr default 2000; lowlight: epochs x max(25, scenes / 4))",
    )
    group.add_argument(
        "--finetune-steps",
        type=int,
        default=None,
        help="sr: then fine-tune the table itself through the lookup for N steps (default 0)",
    )
    group.add_argument(
        "--refine",
        action="store_true",
        default=None,
        help="sr: then fit a filter refinement (edge-direction filters on top of the table; minutes)",
    )


def _lowlight_options(group: argparse._ArgumentGroup) -> None:
    """lowlight: no flags of its own; it reads --epochs or the shared --steps (listed with sr)."""


KINDS: dict[str, Kind] = {
    "adaptive": Kind("engine.adaptive.train", _adaptive_options),
    "sr": Kind("engine.sr.train", _sr_options),
    "lowlight": Kind("engine.lowlight.train", _lowlight_options),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", required=True, choices=sorted(KINDS), help="what to train")
    parser.add_argument(
        "--data", default=None, help="folder with input/ and target/ (or the input folder); required unless --photos"
    )
    parser.add_argument("--target", default=None, help="target folder, when the pairs are in two folders")
    parser.add_argument("--name", required=True, help="name of the new model / preset")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (the kind's default if omitted)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="output folder (default: your LUTLab data folder)")
    for name, kind in KINDS.items():
        kind.options(parser.add_argument_group(f"{name} options"))


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.errors import InputError

    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {args.epochs}")
    if args.data is None and not (args.kind == "adaptive" and args.photos):
        raise InputError(
            f"--kind {args.kind} needs --data DIR" + (" (or --photos DIR)" if args.kind == "adaptive" else "")
        )
    return importlib.import_module(KINDS[args.kind].module).run_cli(args, progress, cancel)
