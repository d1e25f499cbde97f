"""Model kinds the *Train...* dialog can train: one small module per kind, found automatically.

To add a kind (super-resolution, low-light, ...), add ``app/train_kinds/<family>.py`` defining ``KIND``, an
object with:

    key: str                 the `--kind` name of `main.py train` ("adaptive", "sr", "lowlight")
    label: str               shown in the dialog's kind selector
    default_epochs: int
    options_widget() -> QWidget with a method ``values() -> dict``: the kind's own settings
    validate(data: Path, target: Path | None) -> tuple[str, bool]
        runs on a worker thread: a human-readable report of the folder(s) and whether training can start
    train(request: TrainRequest, on_epoch: Callable[[EpochPoint], None], progress, cancel) -> str
        runs on a worker thread: trains with `engine.jobs` Progress + Cancel (raise `Cancelled`), calls
        `on_epoch` after every epoch (the dialog plots it), writes the model to the per-user data folder
        and returns a one-line summary; bad data raises an `InputError` (shown as an error)

Optional, so the folder fields say what this kind wants (defaults in `app.train_dialog`):

    data_hint: str           placeholder of the data folder field
    uses_target: bool        False: the kind takes no separate target folder (the field is disabled)
    name_hint: str           placeholder of the name field

The dialog owns threads, progress bar, ETA, curves and Cancel; a kind module holds no GUI logic beyond its
options form, and no algorithm (it calls `engine.<family>.train`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainRequest:
    data: Path
    target: Path | None
    name: str
    epochs: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochPoint:
    """One point of the live curves: the loss (left plot) and any PSNR-like scores in dB (right plot)."""

    epoch: int
    epochs: int
    loss: float
    scores: dict[str, float] = field(default_factory=dict)


def kinds() -> list[Any]:
    """Every registered kind, adaptive presets first."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "KIND"):
            found.append(module.KIND)
    return sorted(found, key=lambda kind: kind.key != "adaptive")
