"""The *Train...* dialog's low-light kind: PairLIE on a folder of scene sub-folders (2+ exposures each)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.train_kinds import EpochPoint, TrainRequest
from engine.jobs import CancelToken, ProgressFn


class LowLightOptions(QWidget):
    """No settings beyond the epochs: the shipped recipe (32-channel nets, 96 px crops) is used."""

    def __init__(self) -> None:
        super().__init__()
        note = QLabel(
            "Data: one sub-folder per scene, each with two or more aligned exposures "
            "(SICE-style). No clean targets are needed."
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(note)

    def values(self) -> dict:
        return {}


class LowLightKind:
    key = "lowlight"
    label = "Low-light rescue (PairLIE)"
    data_hint = "folder of scene sub-folders, two or more exposures each"
    uses_target = False
    name_hint = "name of the new low-light model"
    default_epochs = 40  # epochs of max(25, scenes / 4) steps

    def options_widget(self) -> LowLightOptions:
        return LowLightOptions()

    def validate(self, data: Path, target: Path | None) -> tuple[str, bool]:
        from engine.lowlight.data import inspect_folder

        report = inspect_folder(data)
        return report.text(), report.usable

    def train(
        self, request: TrainRequest, on_epoch: Callable[[EpochPoint], None], progress: ProgressFn, cancel: CancelToken
    ) -> str:
        from engine.lowlight.data import inspect_folder
        from engine.lowlight.train import TrainConfig, steps_per_epoch, train_lowlight, user_models_dir

        scenes = len(inspect_folder(request.data).scenes)
        output = user_models_dir() / f"{request.name}.safetensors"
        output.parent.mkdir(parents=True, exist_ok=True)
        train_lowlight(
            output,
            data=request.data,
            config=TrainConfig(steps=request.epochs * steps_per_epoch(scenes)),
            on_epoch=lambda epoch, epochs, loss: on_epoch(EpochPoint(epoch, epochs, loss)),
            progress=progress,
            cancel=cancel,
        )
        return f"Low-light model \u201c{request.name}\u201d saved to {output.parent}"


KIND = LowLightKind()
