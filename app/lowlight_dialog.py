"""Image > Enhance low light...: exposure (auto or set), shadows, noise reduction and strength, with a
before/after preview that fills in progressively.

Nothing heavy runs on the GUI thread, so the dialog is up at once: a coarse preview (a tiny copy) comes
first, then the full-size preview; meanwhile the whole photo is measured once (its noise model and
automatic exposure, what OK will use), and the preview is redone with that exposure. All of it goes
through the app's background helper; results of controls already changed again are dropped.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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

from app.background import Background, post
from app.imaging import to_qimage
from engine.image import fit_long_side
from engine.lowlight import DENOISE_RANGE, EXPOSURE_RANGE, GAMMA_RANGE, OUTPUT_GAMMA

PREVIEW_LONG_SIDE = 480
COARSE_LONG_SIDE = 120
PREVIEW_DELAY_MS = 80


def shrink(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """An area-averaged copy whose long side is at most `long_side`, its short side kept at 8 px or more
    (the low-light pipeline's smallest input)."""
    height, width = pixels.shape[:2]
    return fit_long_side(pixels, max(long_side, -(-8 * max(height, width) // min(height, width))))


class LowLightDialog(QDialog):
    """The controls; `exposure` (None = automatic), `gamma`, `denoise` and `strength` hold the choice.

    `auto_exposure` is the whole photo's automatic exposure once measured; `after_preview` the latest
    full-size preview and `preview_ready` whether it matches the current controls.
    """

    def __init__(self, pixels: np.ndarray, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lowlight-dialog")
        self.setWindowTitle("Enhance low light")
        self._pixels = pixels
        self._small = shrink(pixels, PREVIEW_LONG_SIDE)
        self._coarse = shrink(self._small, COARSE_LONG_SIDE)
        self._background = Background(self)
        self._generation = 0
        self.auto_exposure: float | None = None
        self.after_preview: np.ndarray | None = None
        self.preview_ready = False

        self.auto_box = QCheckBox("Automatic exposure (the photo's brightest 0.1 % become white)")
        self.auto_box.setChecked(True)
        low, high = (round(10 * np.log2(limit)) for limit in EXPOSURE_RANGE)  # tenths of a stop
        self.exposure_slider = _slider(low, high, 0)
        self.exposure_slider.setToolTip("Brightness in stops of linear gain (+1 doubles the light)")
        self.exposure_label = QLabel()
        self.gamma_slider = _slider(int(GAMMA_RANGE[0] * 100), int(GAMMA_RANGE[1] * 100), int(OUTPUT_GAMMA * 100))
        self.gamma_slider.setToolTip("Below 1 lifts the shadows more than the highlights; 1 keeps the photo's contrast")
        self.gamma_label = QLabel()
        self.denoise_slider = _slider(int(DENOISE_RANGE[0] * 100), int(min(DENOISE_RANGE[1], 2.0) * 100), 100)
        self.denoise_slider.setToolTip("Noise reduction: 0 = none, 100% = as tuned, more = smoother")
        self.denoise_label = QLabel()
        self.model = QComboBox()  # the classical denoiser, the shipped net and every net the user trained
        self.model.setObjectName("lowlight-model")
        from engine.lowlight.models import choices

        for name, label in choices():
            self.model.addItem(label, name)
        self.model.setToolTip("What removes the noise: the photo's own noise model, or a PairLIE net (Train...)")
        self.strength_slider = _slider(0, 100, 100)
        self.strength_label = QLabel()
        self.before_view, self.after_view = QLabel(), QLabel()
        for view in (self.before_view, self.after_view):
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            view.setMinimumSize(self._small.shape[1], self._small.shape[0])
        self.before_view.setPixmap(QPixmap.fromImage(to_qimage(self._small)))
        self.after_view.setText("…")

        form = QFormLayout()
        form.addRow(self.auto_box)
        form.addRow("Exposure", _with_label(self.exposure_slider, self.exposure_label))
        form.addRow("Shadows (gamma)", _with_label(self.gamma_slider, self.gamma_label))
        form.addRow("Noise reduction", _with_label(self.denoise_slider, self.denoise_label))
        form.addRow("Denoiser", self.model)
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
        for signal in (
            self.auto_box.toggled,
            self.exposure_slider.valueChanged,
            self.gamma_slider.valueChanged,
            self.denoise_slider.valueChanged,
            self.strength_slider.valueChanged,
            self.model.currentIndexChanged,
        ):
            signal.connect(self._controls_changed)
        self.auto_box.toggled.connect(self._auto_toggled)
        self._controls_changed()
        self.update_preview()
        self._background.submit(self._measure, self._measured)

    # ------------------------------------------------------------------ the choice
    @property
    def exposure(self) -> float | None:
        """Linear gain, or None for automatic."""
        return None if self.auto_box.isChecked() else float(2.0 ** (self.exposure_slider.value() / 10.0))

    @property
    def gamma(self) -> float:
        return self.gamma_slider.value() / 100.0

    @property
    def denoise(self) -> float:
        return self.denoise_slider.value() / 100.0

    @property
    def strength(self) -> float:
        return self.strength_slider.value() / 100.0

    def controls(self) -> dict:
        """`engine.lowlight.models.enhance`'s keyword arguments for the current choice (also the document step's
        params); "model" only when a net denoises."""
        controls = {"exposure": self.exposure, "gamma": self.gamma, "denoise": self.denoise, "strength": self.strength}
        return controls | ({"model": self.model.currentData()} if self.model.currentData() else {})

    # ------------------------------------------------------------------ preview
    def _controls_changed(self) -> None:
        self.exposure_slider.setEnabled(not self.auto_box.isChecked())
        stops = self.exposure_slider.value() / 10.0
        if self.exposure is not None:
            self.exposure_label.setText(f"{stops:+.1f} EV")
        elif self.auto_exposure is not None:
            self.exposure_label.setText(f"auto {np.log2(self.auto_exposure):+.1f} EV")
        else:
            self.exposure_label.setText("auto")
        self.gamma_label.setText(f"{self.gamma:.2f}")
        self.denoise_label.setText(f"{self.denoise_slider.value()}%")
        self.strength_label.setText(f"{self.strength_slider.value()}%")
        self.preview_ready = False
        self._timer.start()

    def _auto_toggled(self, automatic: bool) -> None:
        if not automatic and self.auto_exposure is not None:  # start the manual slider where auto was
            self.exposure_slider.setValue(round(10 * np.log2(self.auto_exposure)))

    def _measure(self):
        from engine.lowlight.pipeline import measure

        return measure(self._pixels)

    def _measured(self, measurement) -> None:
        self.auto_exposure = measurement.exposure
        self._controls_changed()
        if self.exposure is None:
            self.update_preview()

    def _preview_controls(self) -> dict:
        controls = self.controls()
        if controls["exposure"] is None and self.auto_exposure is not None:
            controls["exposure"] = float(np.clip(self.auto_exposure, *EXPOSURE_RANGE))
        return controls

    def update_preview(self) -> None:
        """Enhance the coarse copy, show it, then the preview-size copy (both off the GUI thread)."""
        from engine.lowlight.models import enhance

        self._timer.stop()
        self._generation += 1
        generation, controls = self._generation, self._preview_controls()

        def work() -> np.ndarray:
            post(self, self._show, generation, enhance(self._coarse, **controls), False)
            return enhance(self._small, **controls)

        self._background.submit(work, lambda result: self._show(generation, result, True))

    def _show(self, generation: int, pixels: np.ndarray, final: bool) -> None:
        if generation != self._generation or (not final and self.preview_ready):
            return  # the controls changed since, or the full-size preview is already up
        size = self.before_view.pixmap().size()
        pixmap = QPixmap.fromImage(to_qimage(pixels))
        if pixmap.size() != size:
            pixmap = pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.after_view.setPixmap(pixmap)
        if final:
            self.after_preview = pixels
            self.preview_ready = True


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


def _with_label(slider: QSlider, label: QLabel) -> QHBoxLayout:
    label.setMinimumWidth(80)
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(label)
    return row
