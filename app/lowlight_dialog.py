"""Image > Enhance low light...: tone (gamma), exposure (auto or set) and strength, with a before/after preview.

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
from engine.lowlight import EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA
from engine.lowlight.infer import enhance

PREVIEW_LONG_SIDE = 360
PREVIEW_DELAY_MS = 120


class LowLightDialog(QDialog):
    """Choose gamma, exposure (or auto) and strength; `gamma` / `exposure` / `strength` hold the choice."""

    def __init__(self, pixels: np.ndarray, model: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lowlight-dialog")
        self.setWindowTitle("Enhance low light")
        self._model = model
        self._small = downscale(pixels, PREVIEW_LONG_SIDE / max(pixels.shape[:2]))
        self.gamma_slider = _slider(int(GAMMA_RANGE[0] * 100), int(GAMMA_RANGE[1] * 100), int(OUTPUT_GAMMA * 100))
        self.gamma_slider.setToolTip("Illumination exponent: smaller lifts the shadows more than the highlights")
        self.gamma_label = QLabel()
        self.auto_box = QCheckBox("Automatic exposure (per photo)")
        self.auto_box.setChecked(True)
        # Exposure slider in tenths of a stop: factor = 2 ** (value / 10).
        low, high = (round(10 * np.log2(limit)) for limit in EXPOSURE_RANGE)
        self.exposure_slider = _slider(low, high, 0)
        self.exposure_slider.setToolTip("Brightness in stops; 0 is the paper's output L**gamma * R")
        self.exposure_label = QLabel()
        self.strength_slider = _slider(0, 100, 100)
        self.strength_label = QLabel()
        self.before_view, self.after_view = QLabel(), QLabel()
        for view in (self.before_view, self.after_view):
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.before_view.setPixmap(QPixmap.fromImage(to_qimage(self._small)))
        self.after_preview: np.ndarray | None = None

        form = QFormLayout()
        form.addRow("Gamma", _with_label(self.gamma_slider, self.gamma_label))
        form.addRow(self.auto_box)
        form.addRow("Exposure", _with_label(self.exposure_slider, self.exposure_label))
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
        self.ok_button.setText("Enhance")
        layout = QVBoxLayout(self)
        layout.addLayout(views)
        layout.addLayout(form)
        layout.addWidget(buttons)

        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.update_preview)
        for signal in (self.auto_box.toggled, self.gamma_slider.valueChanged, self.exposure_slider.valueChanged,
                       self.strength_slider.valueChanged):
            signal.connect(self._controls_changed)
        self._controls_changed()
        self.update_preview()

    @property
    def gamma(self) -> float:
        return self.gamma_slider.value() / 100.0

    @property
    def exposure(self) -> float | None:
        """None means automatic exposure."""
        return None if self.auto_box.isChecked() else float(2.0 ** (self.exposure_slider.value() / 10.0))

    @property
    def strength(self) -> float:
        return self.strength_slider.value() / 100.0

    def _controls_changed(self) -> None:
        self.exposure_slider.setEnabled(not self.auto_box.isChecked())
        self.gamma_label.setText(f"{self.gamma:.2f}")
        stops = self.exposure_slider.value() / 10.0
        self.exposure_label.setText("auto" if self.exposure is None else f"{stops:+.1f} EV")
        self.strength_label.setText(f"{self.strength_slider.value()}%")
        self._timer.start()

    def update_preview(self) -> None:
        """Enhance the small copy with the current controls and show it beside the original."""
        self.after_preview = enhance(self._small, self._model, gamma=self.gamma, exposure=self.exposure,
                                     strength=self.strength)
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
