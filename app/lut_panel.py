"""The LUT panel: import a .cube or Hald CLUT, clear it, strength slider, interpolation choice."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from engine.lut import INTERPOLATIONS

STRENGTH_STEPS = 100


class LutPanel(QWidget):
    importRequested = Signal()
    clearRequested = Signal()
    strengthChanged = Signal(float)
    interpolationChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No LUT")
        self.title.setWordWrap(True)
        self.import_button = QPushButton("Import .cube / Hald…")
        self.clear_button = QPushButton("Clear")
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, STRENGTH_STEPS)
        self.strength.setValue(STRENGTH_STEPS)
        self.strength_label = QLabel("100%")
        self.interpolation = QComboBox()
        for name in INTERPOLATIONS:
            self.interpolation.addItem(name.capitalize(), name)

        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.clear_button)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(self.strength_label)
        form = QFormLayout()
        form.addRow("Strength", strength_row)
        form.addRow("Interpolation", self.interpolation)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addStretch(1)

        self.import_button.clicked.connect(self.importRequested)
        self.clear_button.clicked.connect(self.clearRequested)
        self.strength.valueChanged.connect(self._strength_moved)
        self.interpolation.currentIndexChanged.connect(
            lambda index: self.interpolationChanged.emit(self.interpolation.itemData(index))
        )
        self.set_lut_title(None)

    def _strength_moved(self, value: int) -> None:
        self.strength_label.setText(f"{value}%")
        self.strengthChanged.emit(value / STRENGTH_STEPS)

    def set_lut_title(self, title: str | None) -> None:
        self.title.setText(f"LUT: {title or 'untitled'}" if title is not None else "No LUT")
        self.clear_button.setEnabled(title is not None)

    def set_strength(self, strength: float) -> None:
        """Show the document's strength (no signal: it is not a user change)."""
        self.strength.blockSignals(True)
        self.strength.setValue(round(strength * STRENGTH_STEPS))
        self.strength.blockSignals(False)
        self.strength_label.setText(f"{self.strength.value()}%")

    def set_interpolation(self, name: str) -> None:
        self.interpolation.setCurrentIndex(max(0, self.interpolation.findData(name)))
