"""Export options: file (format from the suffix), bit depth, JPEG quality."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

IMAGE_FILTER = "JPEG (*.jpg *.jpeg);;PNG (*.png);;TIFF (*.tif *.tiff)"
EIGHT_BIT_ONLY = (".jpg", ".jpeg")


class ExportImageDialog(QDialog):
    def __init__(self, suggested: Path, bit_depth: int, quality: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image")
        self.path = QLineEdit(str(suggested))
        self.path.setMinimumWidth(self.path.fontMetrics().horizontalAdvance("x" * 48))  # the whole path, not its tail
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.bit_depth = QComboBox()
        self.bit_depth.addItem("8 bits per channel", 8)
        self.bit_depth.addItem("16 bits per channel", 16)
        self.bit_depth.setCurrentIndex(0 if bit_depth == 8 else 1)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(quality)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Bit depth", self.bit_depth)
        form.addRow("JPEG quality", self.quality)
        form.addRow(buttons)
        self.path.textChanged.connect(self._suffix_changed)
        self._suffix_changed(self.path.text())

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export image", self.path.text(), IMAGE_FILTER)
        if name:
            self.path.setText(name)

    def _suffix_changed(self, text: str) -> None:
        jpeg = Path(text).suffix.lower() in EIGHT_BIT_ONLY
        self.quality.setEnabled(jpeg)
        self.bit_depth.setEnabled(not jpeg)

    def options(self) -> tuple[Path, int, int]:
        """(path, bit depth, JPEG quality) as chosen."""
        path = Path(self.path.text()).expanduser()
        bit_depth = 8 if path.suffix.lower() in EIGHT_BIT_ONLY else int(self.bit_depth.currentData())
        return path, bit_depth, self.quality.value()
