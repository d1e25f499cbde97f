"""Image > Upscale: choose the factor and the table model, see the output size, then upscale as a job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from engine.errors import InputError
from engine.image import Photo
from engine.jobs import CancelToken, ProgressFn
from engine.sr.infer import MAX_OUTPUT_PIXELS, available_models, check_output_size, load_table, upscale_photo

MODEL_TITLES = {
    "srlut-filter": "SR-LUT + edge filters (sharpest, fast)",
    "srlut": "SR-LUT (2x2, fastest)",
    "mulut": "MuLUT (5x5 context, sharper, 3x slower)",
    "eclut": "EC-LUT (wider context)",
}


class UpscaleDialog(QDialog):
    """Factor + model choice; OK is disabled (with the reason shown) when the result would be too large."""

    def __init__(self, parent: QWidget | None, photo: Photo, scale: int, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
        super().__init__(parent)
        self.setWindowTitle("Upscale")
        self.photo, self.max_pixels = photo, max_pixels
        self.scale_box = QComboBox()
        self.scale_box.setObjectName("scale")
        for factor in (2, 4):
            self.scale_box.addItem(f"×{factor}", factor)
        self.scale_box.setCurrentIndex(0 if scale == 2 else 1)
        self.model_box = QComboBox()
        self.model_box.setObjectName("model")
        self.size_label = QLabel()
        self.size_label.setObjectName("size")
        self.size_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Factor", self.scale_box)
        form.addRow("Model", self.model_box)
        form.addRow(self.size_label)
        form.addRow(self.buttons)
        self.scale_box.currentIndexChanged.connect(self._refresh)
        self._refresh()

    @property
    def scale(self) -> int:
        return int(self.scale_box.currentData())

    @property
    def model(self) -> tuple[str, Path] | None:
        """(name, table path) of the chosen model."""
        return self.model_box.currentData()

    def _refresh(self) -> None:
        self.model_box.clear()
        for name, path in available_models(self.scale):
            self.model_box.addItem(MODEL_TITLES.get(name, name), (name, path))
        problem = None if self.model_box.count() else f"no model for ×{self.scale} is installed"
        height, width = self.photo.height, self.photo.width
        try:
            check_output_size(height, width, self.scale, self.max_pixels)
        except InputError as exc:
            problem = problem or f"Too large: {exc}."
        text = f"{width} × {height} → {width * self.scale} × {height * self.scale} pixels"
        self.size_label.setText(f"{text}\n{problem}" if problem else text)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)


def upscale_job(photo: Photo, path: Path, max_pixels: int = MAX_OUTPUT_PIXELS) -> Any:
    """The worker-thread function for `window.run_job`: load the table, upscale, return the new photo."""

    def work(progress: ProgressFn, cancel: CancelToken) -> Photo:
        return upscale_photo(photo, load_table(path), max_pixels=max_pixels, progress=progress, cancel=cancel)

    return work
