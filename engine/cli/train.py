"""`python main.py train --kind KIND --data DIR --name NAME [--epochs N] ...`: train a model on your photos.

``--kind adaptive --photos DIR`` trains an Auto preset of your own from a folder of good photos alone
(synthetic capture faults are made from them), instead of from before/after pairs.

The kinds and their options are described once in `engine.train_kinds` (the Train dialog reads the same
descriptors): every option becomes a flag here, with ``default=None`` so the kind's own default applies and
a flag of another kind is refused instead of silently ignored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn
from engine.train_kinds import Option, TrainerDefault, TrainKind, TrainRequest, kinds
from engine.training import TrainingEvents

NAME = "train"
HELP = (
    "train a model (adaptive preset, super-resolution, low-light) from a folder of before/after pairs, "
    "or an Auto preset from a folder of good photos (--kind adaptive --photos DIR)"
)


def _flags() -> dict[str, list[tuple[TrainKind, Option]]]:
    """Each option flag and the kinds that read it."""
    flags: dict[str, list[tuple[TrainKind, Option]]] = {}
    for kind in kinds():
        for option in kind.options:
            flags.setdefault(option.cli_flag, []).append((kind, option))
    return flags


def _help(uses: list[tuple[TrainKind, Option]]) -> str:
    """One help text per wording, naming the kinds that read the flag and each kind's default."""
    wordings: dict[str, list[tuple[TrainKind, Option]]] = {}
    for kind, option in uses:
        wordings.setdefault(option.help, []).append((kind, option))
    parts = []
    for text, group in wordings.items():
        defaults = [(kind, _shown(option.default)) for kind, option in group if option.default is not None]
        if group[0][1].type is bool or not defaults:
            suffix = ""
        elif len({default for _, default in defaults}) == 1:
            suffix = f" (default {defaults[0][1]})"
        else:
            suffix = " (default " + ", ".join(f"{default} for {kind.key}" for kind, default in defaults) + ")"
        parts.append(f"{', '.join(kind.key for kind, _ in group)}: {text}{suffix}")
    return "; ".join(parts)


def _shown(default: object) -> object:
    return default.words if isinstance(default, TrainerDefault) else default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    every = kinds()
    parser.add_argument("--kind", required=True, choices=sorted({k.family for k in every}), help="what to train")
    parser.add_argument(
        "--data", default=None, help="folder with input/ and target/ (or the input folder); required unless --photos"
    )
    for kind in every:
        if kind.data_flag != "data":
            parser.add_argument(f"--{kind.data_flag}", default=None, help=f"{kind.key}: {kind.data_hint}")
    parser.add_argument("--target", default=None, help="target folder, when the pairs are in two folders")
    parser.add_argument("--name", required=True, help="name of the new model / preset")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (the kind's default if omitted)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="output folder (default: your LUTLab data folder)")
    group = parser.add_argument_group("options of the kinds")
    for flag, uses in _flags().items():
        option = uses[0][1]
        if option.type is bool:
            group.add_argument(flag, dest=option.name, action="store_true", default=None, help=_help(uses))
        else:
            choices = [value for value, _ in option.choices] or None
            group.add_argument(
                flag, dest=option.name, type=option.type, choices=choices, default=None, help=_help(uses)
            )


def _choose_kind(args: argparse.Namespace) -> TrainKind:
    """The kind of --kind whose data flag was given (--photos: Auto from good photos; else --data)."""
    for kind in kinds():
        if kind.family != args.kind and kind.data_flag != "data" and getattr(args, kind.data_flag, None):
            raise InputError(f"--{kind.data_flag} is for --kind {kind.family}, not --kind {args.kind}")
    family = [kind for kind in kinds() if kind.family == args.kind]
    given = [kind for kind in family if getattr(args, kind.data_flag, None)]
    if len(given) > 1:
        flags = " or ".join(f"--{kind.data_flag} ({kind.data_hint})" for kind in given)
        raise InputError(f"give either {flags}, not both")
    if not given:
        flags = " or ".join(f"--{kind.data_flag} DIR" for kind in family)
        raise InputError(f"--kind {args.kind} needs {flags}")
    return given[0]


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    kind = _choose_kind(args)
    if args.epochs is not None and not kind.cli_epochs:
        raise InputError(f"--kind {args.kind} trains by --steps, not --epochs")
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {args.epochs}")
    own = {option.name for option in kind.options}
    for flag, uses in _flags().items():
        if uses[0][1].name not in own and getattr(args, uses[0][1].name) is not None:
            raise InputError(f"{flag} is not an option of --kind {args.kind} (it is one of {uses[0][0].key})")
    options = kind.resolve(vars(args))
    data, target = Path(getattr(args, kind.data_flag)), Path(args.target) if args.target else None
    report, usable = kind.validate(data, target, options)
    if not usable:
        raise InputError(f"cannot train: {report}")
    _say(report)
    request = TrainRequest(
        data, target, args.name, args.epochs, args.seed, Path(args.out) if args.out else None, options
    )
    events = TrainingEvents(progress, cancel, epoch=lambda point: _say(point.text()), confirm=_warn)
    _say(kind.train(request, events))
    return 0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _warn(text: str) -> bool:
    """The CLI's answer to "save a model that does harm on held-out photos?": yes, with a warning."""
    _say(f"warning: {text} Saving it anyway; delete it if you do not want it.")
    return True
