"""The *Train...* dialog's super-resolution kind: an SR-LUT, MuLUT or EC-LUT table learned from a folder of photos.

Only sharp photos are needed: the low-resolution inputs are made from them by bicubic downscaling. One
"epoch" here is `STEPS_PER_EPOCH` training steps of 16 random crops.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QWidget

from app.train_kinds import EpochPoint, TrainRequest
from engine.jobs import CancelToken, ProgressFn

STEPS_PER_EPOCH = 100


class SROptions(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.model = QComboBox()
        self.model.setObjectName("sr-model")
        self.model.addItem("SR-LUT (2x2 pixels, 1.3 MB table at ×4)", "srlut")
        self.model.addItem("MuLUT (three 2x2-sized patterns, 5x5 context, 4 MB table at ×4)", "mulut")
        self.model.addItem("EC-LUT (wider context, larger table)", "eclut")
        self.scale = QComboBox()
        self.scale.setObjectName("sr-scale")
        self.scale.addItem("×4", 4)
        self.scale.addItem("×2", 2)
        self.refine = QCheckBox("Add edge-direction filters on top (sharper; minutes more)")
        self.refine.setObjectName("sr-refine")
        self.refine.setChecked(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.model)
        form.addRow("Factor", self.scale)
        form.addRow(self.refine)

    def values(self) -> dict:
        return {"kind": self.model.currentData(), "scale": self.scale.currentData(), "refine": self.refine.isChecked()}


class SRKind:
    key = "sr"
    label = "Upscaling table (SR-LUT / EC-LUT) from sharp photos"
    default_epochs = 20
    data_hint = "folder of sharp photos (the small inputs are made from them)"
    uses_target = False
    name_hint = "name of the new upscaling table"

    def options_widget(self) -> SROptions:
        return SROptions()

    def validate(self, data: Path, target: Path | None) -> tuple[str, bool]:
        from engine.sr.train import TrainConfig, describe_folder

        config = TrainConfig()
        return describe_folder(data, min_side=config.crop * config.scale)

    def train(
        self, request: TrainRequest, on_epoch: Callable[[EpochPoint], None], progress: ProgressFn, cancel: CancelToken
    ) -> str:
        from engine.sr.filters import FilterConfig
        from engine.sr.train import TrainConfig, train_user_table

        options = dict(request.options)
        refine = FilterConfig() if options.pop("refine", False) else None
        config = TrainConfig(steps=request.epochs * STEPS_PER_EPOCH, **options)

        def report(step: int, loss: float) -> None:
            on_epoch(EpochPoint(step // STEPS_PER_EPOCH, request.epochs, loss))

        output, meta = train_user_table(
            config,
            request.data,
            request.name,
            refine=refine,
            on_report=report,
            report_every=STEPS_PER_EPOCH,
            progress=progress,
            cancel=cancel,
        )
        metrics = meta["metrics"]
        return (
            f"Upscaling table \u201c{request.name}\u201d saved as {output}: held-out Y-PSNR "
            f"{metrics['table_y_psnr']:.2f} dB (bicubic {metrics['bicubic_y_psnr']:.2f} dB)"
        )


KIND = SRKind()
