"""Image > Enhance low light...: exposure (auto or gamma) and strength, with a live before/after preview.

The preview runs the same engine call on a small copy of the photo (a few hundred pixels wide), so the
sliders answer at once; OK runs it on the full photo as an undoable job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.preview import downscale, to_qimage
from engine.lowlight.infer import GAMMA_RANGE, enhance
from engine.lowlight.model import DEFAULT_GAMMA

PREVIEW_LONG_SIDE = 360
PREVIEW_DELAY_MS = 120


class LowLightDialog(QDialog):
    """Choose gamma (or auto) and strength; `gamma` / `strength` hold the choice after OK."""

    def __init__(self, pixels: np.ndarray, model: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lowlight-dialog")
        self.setWindowTitle("Enhance low light")
        self._model = model
        self._small = downscale(pixels, PREVIEW_LONG_SIDE / max(pixels.shape[:2]))
        self.auto_box = QCheckBox("Automatic exposure (per photo)")
        self.auto_box.setChecked(True)
        self.gamma_slider = _slider(int(GAMMA_RANGE[0] * 100), int(GAMMA_RANGE[1] * 100), int(DEFAULT_GAMMA * 100))
        self.gamma_slider.setToolTip("Illumination exponent: smaller is brighter")
        self.gamma_label = QLabel()
        self.strength_slider = _slider(0, 100, 100)
        self.strength_label = QLabel()
        self.before_view, self.after_view = QLabel(), QLabel()
        for view in (self.before_view, self.after_view):
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.before_view.setPixmap(QPixmap.fromImage(to_qimage(self._small)))
        self.after_preview: np.ndarray | None = None

        form = QFormLayout()
        form.addRow(self.auto_box)
        form.addRow("Gamma", _with_label(self.gamma_slider, self.gamma_label))
        form.addRow("Strength", _with_label(self.strength_slider, self.strength_label))
        views = QGridLayout()
        views.addWidget(QLabel("Before"), 0, 0, Qt.AlignmentFlag.AlignCenter)
        views.addWidget(QLabel("After"), 0, 1, Qt.AlignmentFlag.AlignCenter)
        views.addWidget(self.before_view, 1, 0)
        views.addWidget(self.after_view, 1, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        layout = QVBoxLayout(self)
        layout.addLayout(views)
        layout.addLayout(form)
        layout.addWidget(buttons)

        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.update_preview)
        for signal in (self.auto_box.toggled, self.gamma_slider.valueChanged, self.strength_slider.valueChanged):
            signal.connect(self._controls_changed)
        self._controls_changed()
        self.update_preview()

    @property
    def gamma(self) -> float | None:
        """None means automatic exposure."""
        return None if self.auto_box.isChecked() else self.gamma_slider.value() / 100.0

    @property
    def strength(self) -> float:
        return self.strength_slider.value() / 100.0

    def _controls_changed(self) -> None:
        self.gamma_slider.setEnabled(not self.auto_box.isChecked())
        self.gamma_label.setText("auto" if self.gamma is None else f"{self.gamma:.2f}")
        self.strength_label.setText(f"{self.strength_slider.value()} %")
        self._timer.start()

    def update_preview(self) -> None:
        """Enhance the small copy with the current controls and show it beside the original."""
        self.after_preview = enhance(self._small, self._model, gamma=self.gamma, strength=self.strength)
        self.after_view.setPixmap(QPixmap.fromImage(to_qimage(self.after_preview)))


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


def _with_label(slider: QSlider, label: QLabel) -> QHBoxLayout:
    label.setMinimumWidth(48)
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(label)
    return row
