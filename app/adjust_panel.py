"""The adjustments panel: exposure, white balance, contrast, highlights / shadows, saturation, vibrance and the
black / white points as sliders. All of them are one colour step of the edit document (an analytic LUT from
`engine.lut.tone`), composed with the preset or imported LUT, so the preview stays one GPU pass and a .cube
export carries them. A slider drag is one undo step; double-click a slider to reset it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from app.editor_api import Editor
from engine.document import adjust_step
from engine.lut.tone import SLIDERS

STEPS = 600  # slider positions on each side of 0 (exposure: 0.005 EV a step)
ROWS = (  # (name, label, unit shown after the value)
    ("exposure", "Exposure", " EV"),
    ("temperature", "Temperature", ""),
    ("tint", "Tint", ""),
    ("contrast", "Contrast", ""),
    ("highlights", "Highlights", ""),
    ("shadows", "Shadows", ""),
    ("black", "Blacks", ""),
    ("white", "Whites", ""),
    ("saturation", "Saturation", ""),
    ("vibrance", "Vibrance", ""),
)


class AdjustPanel(QWidget):
    """Dock content; `window` is the editor's main window (plug-in API)."""

    def __init__(self, window: Editor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = window
        self.sliders: dict[str, QSlider] = {}
        self._values: dict[str, QLabel] = {}
        form = QFormLayout()
        for name, text, unit in ROWS:
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"adjust-{name}")
            slider.setRange(-STEPS, STEPS)
            slider.setToolTip(f"{text}: -{SLIDERS[name]:g} .. +{SLIDERS[name]:g}{unit} (double-click: 0)")
            slider.installEventFilter(self)
            value = QLabel("0")
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("-0.00 EV"))
            slider.valueChanged.connect(lambda _, n=name, u=unit: self._moved(n, u))
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(value)
            form.addRow(text, row)
            self.sliders[name], self._values[name] = slider, value
        self.reset_button = QPushButton("Reset all")
        self.reset_button.clicked.connect(self.reset)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        window.documentChanged.connect(self.show_document)

    def value(self, name: str) -> float:
        return self.sliders[name].value() / STEPS * SLIDERS[name]

    def set_value(self, name: str, value: float) -> None:
        self.sliders[name].setValue(round(value / SLIDERS[name] * STEPS))

    def reset(self) -> None:
        if self.editor.document is not None:
            self.editor.document.set_step("adjust", None, "Reset adjustments")

    def _moved(self, name: str, unit: str) -> None:
        self._values[name].setText(f"{self.value(name):+.2f}{unit}" if self.sliders[name].value() else "0")
        document = self.editor.document
        if document is None or self._showing:
            return
        step = adjust_step({n: self.value(n) for n in self.sliders})
        document.set_step("adjust", step, f"Adjust {name}", coalesce=True)

    _showing = False

    def show_document(self) -> None:
        """Sliders follow the document (undo, redo, another photo, a sidecar)."""
        document = self.editor.document
        step = None if document is None else document.find("adjust")
        values = dict(step.params) if step is not None else {}
        self._showing = True
        try:
            for name, slider in self.sliders.items():
                slider.setValue(round(float(values.get(name, 0.0)) / SLIDERS[name] * STEPS))
        finally:
            self._showing = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.MouseButtonDblClick and isinstance(watched, QSlider):
            watched.setValue(0)
            return True
        return super().eventFilter(watched, event)
