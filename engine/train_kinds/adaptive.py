"""Adaptive presets: a look from before/after pairs, or an Auto from a folder of good photos (no targets).

Both write a user preset (`engine.presets.user_presets_dir`). When the preset would make the held-out
photos worse than no edit, `events.confirm` decides whether it is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.train_kinds import Option, TrainerDefault, TrainKind, TrainRequest
from engine.training import EpochPoint, TrainingEvents

TRAINING_CURVE = "training photos"
HELD_OUT_CURVE = "held-out photos"
NO_EDIT_CURVE = "held-out, no edit"


def _table_options(model: str, words: str, fewest_luts: int) -> tuple[Option, ...]:
    """The table size and count, defaulting to those of `model` in engine.adaptive.train."""
    return (
        Option(
            "lut_size",
            int,
            TrainerDefault("engine.adaptive.train", f"{model}.lut_size", words),
            "Table size",
            "lattice points per axis of each colour table (fewer train faster, more follow finer colour changes)",
            low=2,
            high=65,
        ),
        Option(
            "luts",
            int,
            TrainerDefault("engine.adaptive.train", f"{model}.n_luts", words),
            "Learned tables",
            "colour tables the preset learns beside its 14 built-in ones (exposure, white balance, black and "
            "white point, contrast, saturation) and mixes per photo; more learn richer looks but train longer",
            low=fewest_luts,
            high=64,
        ),
    )


def epoch_point(metrics: Any) -> EpochPoint:
    """`engine.adaptive.train.EpochMetrics` as a point of the curves, in plain words."""
    return EpochPoint(
        metrics.epoch,
        metrics.epochs,
        metrics.train_loss,
        {
            TRAINING_CURVE: metrics.train_psnr,
            HELD_OUT_CURVE: metrics.val_psnr,
            NO_EDIT_CURVE: metrics.val_untouched_psnr,
        },
    )


def _train_and_summarise(
    request: TrainRequest, events: TrainingEvents, trainer: Callable, source: Any, model: Any, config: Any
) -> str:
    """Run an engine trainer (`train_from_folder` or `train_from_photos` on `source`) and say where the preset
    went and what it does to held-out photos; one declined by `events.confirm` (NotSaved) is not saved."""
    from engine.adaptive.train import NotSaved
    from engine.presets import user_presets_dir

    outcomes = []

    def ask(outcome: Any) -> bool:
        outcomes.append(outcome)
        return events.confirm(outcome.text())

    quoted = f"Preset \u201c{request.name}\u201d"
    try:
        path, outcome = trainer(
            source,
            request.name,
            request.out or user_presets_dir(),
            model,
            config,
            on_epoch=lambda metrics: events.epoch(epoch_point(metrics)),
            confirm=ask,
            progress=events.progress,
            cancel=events.cancel,
        )
    except NotSaved:
        return f"{quoted} was not saved. {outcomes[-1].text()}"
    return f"{quoted} saved to {path.parent}. {outcome.text()}"


def _validate_pairs(data: Path, target: Path | None, options: Mapping[str, Any]) -> tuple[str, bool]:
    from engine.adaptive.data import validate_pairs

    report = validate_pairs(data, target)
    return report.text(), report.usable


def _train_pairs(request: TrainRequest, events: TrainingEvents) -> str:
    from dataclasses import replace

    from engine.adaptive.data import validate_pairs
    from engine.adaptive.model import ModelConfig
    from engine.adaptive.train import DEFAULT_MODEL, TrainConfig, train_from_folder

    options = request.options
    base = ModelConfig(compressed=True) if options["compressed"] else DEFAULT_MODEL
    model = replace(base, lut_size=options["lut_size"], n_luts=options["luts"])
    config = TrainConfig(epochs=PAIRS.epochs(request), seed=request.seed)
    report = validate_pairs(request.data, request.target, cancel=events.cancel)
    return _train_and_summarise(request, events, train_from_folder, report, model, config)


def _validate_photos(data: Path, target: Path | None, options: Mapping[str, Any]) -> tuple[str, bool]:
    from engine.adaptive.train import MIN_PHOTOS
    from engine.image import PHOTO_SUFFIXES

    if not Path(data).is_dir():
        return f"{data}: no such folder", False
    count = sum(1 for p in Path(data).iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    usable = count >= MIN_PHOTOS
    text = f"{count} photo(s) in {data}"
    if not usable:
        text += f"; at least {MIN_PHOTOS} are needed (one is held out to check the preset)"
    elif count < 10:
        text += "; a few dozen varied photos give a steadier Auto"
    return text, usable


def _train_photos(request: TrainRequest, events: TrainingEvents) -> str:
    from dataclasses import replace

    from engine.adaptive.train import PHOTOS_TRAIN, SHIPPED_MODEL, train_from_photos

    luts = request.options["luts"]  # learned LUTs live on lut_size, so only an analytic model applies a finer one
    model = replace(
        SHIPPED_MODEL,
        lut_size=request.options["lut_size"],
        n_luts=luts,
        apply_size=0 if luts else SHIPPED_MODEL.apply_size,
    )
    config = replace(PHOTOS_TRAIN, epochs=PHOTOS.epochs(request), seed=request.seed)
    return _train_and_summarise(request, events, train_from_photos, request.data, model, config)


PAIRS = TrainKind(
    key="adaptive",
    family="adaptive",
    label="Adaptive preset from before/after pairs",
    default_epochs=TrainerDefault("engine.adaptive.train", "TrainConfig.epochs", "as in TrainConfig"),
    options=(
        *_table_options("DEFAULT_MODEL", "as in the look model", 1),
        Option(
            "compressed",
            bool,
            False,
            "Compressed tables (CLUT-Net: a smaller file, an older design)",
            "learn compressed colour tables (CLUT-Net, ACM MM 2022) with a residual output instead of the "
            "built-in + learned tables; the preset file is smaller",
        ),
    ),
    validate=_validate_pairs,
    train=_train_pairs,
    data_hint="folder with input/ and target/, or the folder of inputs",
    name_hint="name of the new preset",
)

PHOTOS = TrainKind(
    key="adaptive-photos",
    family="adaptive",
    label="Auto preset from your good photos (no targets needed)",
    default_epochs=TrainerDefault("engine.adaptive.train", "PHOTOS_TRAIN.epochs", "as in the shipped Auto's run"),
    options=_table_options("SHIPPED_MODEL", "as in the shipped Auto", 0),
    validate=_validate_photos,
    train=_train_photos,
    data_flag="photos",
    data_hint="folder of good photos",
    uses_target=False,
    name_hint="name of the new preset, e.g. My Auto",
    note="Pick a folder of photos that already look right. Training spoils copies of them (too dark, too bright, "
    "colour casts, flat or harsh contrast, dull or garish colour) and learns to undo that, while leaving good "
    "photos alone. A fifth of the photos are held out to check it.",
)

KINDS = (PAIRS, PHOTOS)
