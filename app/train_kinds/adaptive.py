"""The *Train...* dialog's adaptive-preset kind: basis LUTs + weight predictor, trained on before/after pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

from app.train_kinds import EpochPoint, TrainRequest
from engine.jobs import CancelToken, ProgressFn


class AdaptiveOptions(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.lut_size = QSpinBox(minimum=5, maximum=65, value=33)
        self.lut_size.setToolTip("Lattice points per axis of each basis LUT (33 is the paper's choice)")
        self.luts = QSpinBox(minimum=1, maximum=32, value=3)
        self.luts.setToolTip("Basis LUTs the predictor mixes per photo; more adapt better but train longer")
        self.compressed = QCheckBox("Compressed basis LUTs (CLUT-Net)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("LUT size", self.lut_size)
        form.addRow("Basis LUTs", self.luts)
        form.addRow("", self.compressed)

    def values(self) -> dict:
        return {"lut_size": self.lut_size.value(), "n_luts": self.luts.value(),
                "compressed": self.compressed.isChecked()}


class AdaptiveKind:
    key = "adaptive"
    label = "Adaptive preset (image-adaptive 3D LUT)"
    default_epochs = 100
    data_hint = "folder with input/ and target/, or the folder of inputs"
    uses_target = True
    name_hint = "name of the new preset"

    def options_widget(self) -> AdaptiveOptions:
        return AdaptiveOptions()

    def validate(self, data: Path, target: Path | None) -> tuple[str, bool]:
        from engine.adaptive.data import validate_pairs

        report = validate_pairs(data, target)
        return report.text(), report.usable

    def train(self, request: TrainRequest, on_epoch: Callable[[EpochPoint], None], progress: ProgressFn,
              cancel: CancelToken) -> str:
        from engine.adaptive.data import validate_pairs
        from engine.adaptive.model import ModelConfig
        from engine.adaptive.train import TrainConfig, train_from_folder
        from engine.presets import user_presets_dir

        report = validate_pairs(request.data, request.target, cancel=cancel)
        model_config = ModelConfig(**request.options)
        path = train_from_folder(
            report, request.name, user_presets_dir(), model_config, TrainConfig(epochs=request.epochs),
            on_epoch=lambda m: on_epoch(EpochPoint(m.epoch, m.epochs, m.train_loss,
                                                   {"train PSNR": m.train_psnr, "held-out PSNR": m.val_psnr})),
            progress=progress, cancel=cancel)
        return f"Preset \u201c{request.name}\u201d saved to {path.parent}"


KIND = AdaptiveKind()
