"""Low-light rescue: PairLIE's nets from a folder of scene sub-folders (2+ aligned exposures each, no targets)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.train_kinds import Option, TrainerDefault, TrainKind, TrainRequest
from engine.training import TrainingEvents


def _validate(data: Path, target: Path | None, options: Mapping[str, Any]) -> tuple[str, bool]:
    from engine.lowlight.data import inspect_folder

    report = inspect_folder(data)
    return report.text(), report.usable


def _train(request: TrainRequest, events: TrainingEvents) -> str:
    from engine.lowlight.data import inspect_folder
    from engine.lowlight.train import TrainConfig, steps_per_epoch, train_lowlight, user_models_dir
    from engine.modelfile import safe_stem

    scenes = len(inspect_folder(request.data).scenes)
    steps = request.options["steps"] or KIND.epochs(request) * steps_per_epoch(scenes)
    output = (request.out or user_models_dir()) / f"{safe_stem(request.name)}.safetensors"
    output.parent.mkdir(parents=True, exist_ok=True)
    info = train_lowlight(
        output,
        data=request.data,
        config=TrainConfig(steps=steps, seed=request.seed),
        events=events,
    )
    return f"Low-light model \u201c{request.name}\u201d saved as {output} (final loss {info.metrics['final_loss']:.4g})"


STEPS = Option(
    "steps",
    int,
    None,
    "Steps",
    "training steps (default: epochs x max(25, scenes / 4))",
    low=1,
    high=10_000_000,
    in_form=False,
)

KIND = TrainKind(
    key="lowlight",
    family="lowlight",
    label="Low-light rescue (PairLIE)",
    default_epochs=TrainerDefault("engine.lowlight.train", "DEFAULT_EPOCHS", "40"),  # of max(25, scenes / 4) steps
    options=(STEPS,),
    validate=_validate,
    train=_train,
    data_hint="folder of scene sub-folders, two or more exposures each",
    uses_target=False,
    name_hint="name of the new low-light model",
    note="Data: one sub-folder per scene, each with two or more aligned exposures (SICE-style). No clean targets "
    "are needed; the shipped recipe (32-channel nets, 96 px crops) is used.",
)

KINDS = (KIND,)
