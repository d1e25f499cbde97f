"""What a training run tells its caller and asks it: one `TrainingEvents` for every family and every front end.

A run reports progress and polls for cancellation through `engine.jobs` (Progress/Cancel), hands one
`EpochPoint` per epoch to `epoch` (the Train dialog plots it, the CLI prints it) and, when the model it made
would do harm (worse than no edit on held-out photos), asks `confirm(text)` whether to save it anyway (the
dialog asks the user; the CLI warns and saves; nobody watching: logged and saved).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.jobs import CancelToken, ProgressFn, no_progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochPoint:
    """One point of the live curves: the loss and any PSNR-like scores in dB, by the name a user reads."""

    epoch: int  # 1-based
    epochs: int
    loss: float
    scores: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        """The CLI's line for this epoch, e.g. "epoch 3/20: loss 0.0123, held-out photos 31.20 dB"."""
        scores = "".join(f", {name} {value:.2f} dB" for name, value in self.scores.items())
        return f"epoch {self.epoch}/{self.epochs}: loss {self.loss:.4g}{scores}"


def _ignore_epoch(point: EpochPoint) -> None:
    """Default epoch sink: nothing is plotted or printed."""


def _save_anyway(text: str) -> bool:
    logger.warning("%s Saved anyway.", text)
    return True


@dataclass(frozen=True)
class TrainingEvents:
    progress: ProgressFn = no_progress
    cancel: CancelToken | None = None
    epoch: Callable[[EpochPoint], None] = _ignore_epoch
    confirm: Callable[[str], bool] = _save_anyway  # save a model that does harm on held-out photos?


NO_EVENTS = TrainingEvents()  # a run nobody watches: no progress shown, no Cancel, harm logged and saved anyway
