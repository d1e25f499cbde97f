"""The *Train...* dialog's adaptive-preset kind: basis LUTs + weight predictor, trained on before/after pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from app.train_kinds import EpochPoint, TrainRequest
from engine.jobs import CancelToken, ProgressFn

TRAINING_CURVE = "training photos"
HELD_OUT_CURVE = "held-out photos"
NO_EDIT_CURVE = "held-out, no edit"


def epoch_point(m) -> EpochPoint:
    """One point of the dialog's curves from `engine.adaptive.train.EpochMetrics`, in plain words."""
    return EpochPoint(
        m.epoch,
        m.epochs,
        m.train_loss,
        {TRAINING_CURVE: m.train_psnr, HELD_OUT_CURVE: m.val_psnr, NO_EDIT_CURVE: m.val_untouched_psnr},
    )


def summary(name: str, path: Path | None, outcome) -> str:
    """The line the dialog shows when training ends: where the preset went and what it does to held-out photos."""
    quoted = f"Preset \u201c{name}\u201d"
    where = f"{quoted} saved to {path.parent}." if path else f"{quoted} was not saved."
    return f"{where} {outcome.text()}"


def train_and_summarise(
    name: str, confirm: Callable[[str], bool] | None, start: Callable[[Callable[[Any], bool]], tuple[Path, Any]]
) -> str:
    """Run `start(ask)` (an engine trainer given `confirm=ask`) and return `summary`; a preset the user declined to
    save (the trainer raises NotSaved) is summarised from the outcome they were asked about."""
    from engine.adaptive.train import NotSaved

    outcomes = []

    def ask(outcome) -> bool:
        outcomes.append(outcome)
        return confirm(outcome.text()) if confirm else True

    try:
        path, outcome = start(ask)
    except NotSaved:
        return summary(name, None, outcomes[-1])
    return summary(name, path, outcome)


class AdaptiveOptions(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.lut_size = QSpinBox(minimum=5, maximum=65, value=33)
        self.lut_size.setToolTip(
            "Lattice points per axis of each colour table (33 is the usual choice; "
            "fewer train faster, more follow finer colour changes)"
        )
        self.luts = QSpinBox(minimum=1, maximum=32, value=3)
        self.luts.setToolTip(
            "Colour tables the preset learns from your pairs, beside its 14 built-in ones "
            "(exposure, white balance, black and white point, contrast, saturation); the preset "
            "mixes them per photo. More can learn richer looks but train longer"
        )
        self.compressed = QCheckBox("Compressed tables (CLUT-Net: a smaller file, an older design)")
        self.compressed.setToolTip(
            "Learn compressed colour tables (CLUT-Net, ACM MM 2022) instead of the default "
            "built-in + learned tables; the preset file is smaller"
        )
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Table size", self.lut_size)
        form.addRow("Learned tables", self.luts)
        form.addRow("", self.compressed)

    def values(self) -> dict:
        return {
            "lut_size": self.lut_size.value(),
            "n_luts": self.luts.value(),
            "compressed": self.compressed.isChecked(),
        }


def model_config(options: dict):
    from dataclasses import replace

    from engine.adaptive.model import ModelConfig
    from engine.adaptive.train import DEFAULT_MODEL

    base = ModelConfig(compressed=True) if options.get("compressed") else DEFAULT_MODEL
    return replace(base, lut_size=options.get("lut_size", base.lut_size), n_luts=options.get("n_luts", base.n_luts))


class AdaptiveKind:
    key = "adaptive"
    label = "Adaptive preset from before/after pairs"
    default_epochs = 100
    data_hint = "folder with input/ and target/, or the folder of inputs"
    uses_target = True
    name_hint = "name of the new preset"
    asks_before_saving = True  # train() takes confirm=: asked when the preset makes held-out photos worse

    def options_widget(self) -> AdaptiveOptions:
        return AdaptiveOptions()

    def validate(self, data: Path, target: Path | None) -> tuple[str, bool]:
        from engine.adaptive.data import validate_pairs

        report = validate_pairs(data, target)
        return report.text(), report.usable

    def train(
        self,
        request: TrainRequest,
        on_epoch: Callable[[EpochPoint], None],
        progress: ProgressFn,
        cancel: CancelToken,
        confirm: Callable[[str], bool] | None = None,
    ) -> str:
        from engine.adaptive.data import validate_pairs
        from engine.adaptive.train import TrainConfig, train_from_folder
        from engine.presets import user_presets_dir

        report = validate_pairs(request.data, request.target, cancel=cancel)
        return train_and_summarise(
            request.name,
            confirm,
            lambda ask: train_from_folder(
                report,
                request.name,
                user_presets_dir(),
                model_config(request.options),
                TrainConfig(epochs=request.epochs),
                on_epoch=lambda m: on_epoch(epoch_point(m)),
                confirm=ask,
                progress=progress,
                cancel=cancel,
            ),
        )


KIND = AdaptiveKind()
