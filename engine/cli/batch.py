"""`python main.py batch (--preset NAME | --lut FILE | --recipe SIDECAR) [options] INPUT... -o OUT_DIR`.

Applies one edit to many photos (see `engine.batch`): on all local cores, or on a Dask cluster with
`--scheduler tcp://HOST:PORT` (inputs, output folder and LUT files must be at the same paths on every
worker). A rerun skips photos already written, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.jobs import CancelToken, ProgressFn
from engine.lut import INTERPOLATIONS

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

NAME = "batch"
HELP = "apply a LUT, an adaptive preset or a saved edit to many photos, on all cores or a Dask cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    edit = parser.add_mutually_exclusive_group(required=True)
    edit.add_argument("--preset", help="adaptive preset name (each photo gets its own LUT)")
    edit.add_argument("--lut", type=Path, help=".cube file or Hald CLUT image")
    edit.add_argument("--recipe", type=Path, help="an edit sidecar saved by the editor (PHOTO.lutlab.json)")
    parser.add_argument(
        "--strength", type=float, default=None, help="look strength 0..1 (default: 1, or the recipe's own)"
    )
    parser.add_argument("--upscale", type=int, choices=(2, 4), default=None, help="also upscale by 2 or 4")
    parser.add_argument("--interp", choices=INTERPOLATIONS, default="tetrahedral", help="default: tetrahedral")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on this Dask cluster (tcp://HOST:PORT) instead of local processes",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose output already exists")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT_DIR", help="output folder (created if missing)"
    )
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="photos or folders of photos")


def run(args: argparse.Namespace, progress: ProgressFn, cancel: CancelToken) -> int:
    from engine.batch import Recipe, default_workers, plan, run_batch

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.strength is not None and not 0.0 <= args.strength <= 1.0:
        raise InputError(f"--strength must be within 0..1, got {args.strength}")
    strength = 1.0 if args.strength is None else args.strength
    if args.lut is not None:
        recipe = Recipe.for_lut(args.lut, strength, args.interp)
    elif args.preset is not None:
        recipe = Recipe.for_preset(args.preset, strength, args.interp)
    else:
        recipe = Recipe.from_sidecar(args.recipe, args.interp)
        if args.strength is not None:
            recipe = recipe.with_strength(args.strength)
    if args.upscale:
        recipe = recipe.with_upscale(args.upscale)
    recipe.check()

    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{args.output}: cannot create the output folder ({exc.strerror or exc})") from exc
    tasks, known = plan(args.inputs, args.output, args.overwrite)
    for outcome in known:
        _report(outcome)
    total = len(tasks) + len(known)
    with _Display(len(tasks)) as display:

        def heard(outcome):
            display.advance()
            _report(outcome, display)

        report = run_batch(
            recipe,
            tasks,
            workers=args.workers or default_workers(),
            scheduler=args.scheduler,
            on_outcome=heard,
            cancel=cancel,
        )
    report.outcomes[:0] = known
    timing = report.timing()
    print(f"batch: {total} photo(s): {report.summary()}{'; ' + timing if timing else ''}", file=sys.stderr)
    return 2 if report.failed else 0


def _report(outcome, display=None) -> None:
    if outcome.status == "failed":
        line, stream = f"error: {outcome.message}", sys.stderr
    elif outcome.status == "skipped":
        line, stream = f"skipped {outcome.source} ({outcome.target} exists; --overwrite redoes it)", sys.stdout
    else:
        line, stream = f"done {outcome.source} -> {outcome.target} ({outcome.seconds:.1f} s)", sys.stdout
    if display is not None and display.bar is not None:
        display.bar.console.print(line, highlight=False, markup=False)
    else:
        print(line, file=stream, flush=True)


class _Display:
    """A rich progress bar (count, photos/min, ETA) when stderr is a terminal; nothing otherwise (the plain
    per-photo lines are the progress then)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Display:
        if sys.stderr.isatty() and self.total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            bar = Progress(
                TextColumn("batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            bar.start()
            self.bar, self._task = bar, bar.add_task("batch", total=self.total, rate="")
        return self

    def advance(self) -> None:
        if self.bar is not None and self._task is not None:
            self.bar.advance(self._task)
            task = self.bar.tasks[0]
            if task.elapsed:
                self.bar.update(self._task, rate=f"{60 * task.completed / task.elapsed:.1f} photos/min")

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
