"""Export options, checked inside the dialog: file (format from the suffix), bit depth, JPEG quality, an
optional resize, the colour profile; replacing an existing file is confirmed before the dialog closes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

IMAGE_FILTER = "JPEG (*.jpg *.jpeg);;PNG (*.png);;TIFF (*.tif *.tiff)"
EIGHT_BIT_ONLY = (".jpg", ".jpeg")
EXPORT_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
NAME_TEMPLATE = "{name}-edit"  # {name}: the photo's file name without its suffix


@dataclass(frozen=True)
class ExportOptions:
    path: Path
    bit_depth: int
    quality: int
    long_side: int  # 0: the photo's own size
    profile: str  # "working" (sRGB) or "source" (the photo's own embedded profile)


def suggested_path(folder: Path, photo_name: str | None, suffix: str) -> Path:
    """The default export file: the name template in `folder`, with `suffix`."""
    return folder / (NAME_TEMPLATE.format(name=photo_name or "photo") + suffix)


class ExportImageDialog(QDialog):
    def __init__(
        self,
        suggested: Path,
        bit_depth: int,
        quality: int,
        parent: QWidget | None = None,
        *,
        long_side: int = 0,
        has_source_profile: bool = False,
    ) -> None:
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
        self.long_side = QSpinBox()
        self.long_side.setRange(0, 65535)
        self.long_side.setSpecialValueText("original size")
        self.long_side.setSuffix(" px")
        self.long_side.setValue(long_side)
        self.long_side.setToolTip("Shrink so the longer side has this many pixels (never enlarges)")
        self.source_profile = QCheckBox("Convert to the photo's own colour profile (instead of sRGB)")
        self.source_profile.setEnabled(has_source_profile)
        self.problem = QLabel("")
        self.problem.setObjectName("export-problem")
        self.problem.setStyleSheet("color: #d04040;")
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("", self.problem)
        form.addRow("Bit depth", self.bit_depth)
        form.addRow("JPEG quality", self.quality)
        form.addRow("Long side", self.long_side)
        form.addRow("Colour", self.source_profile)
        form.addRow(self.buttons)
        self.path.textChanged.connect(self._path_changed)
        self._path_changed(self.path.text())

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export image", self.path.text(), IMAGE_FILTER, options=QFileDialog.Option.DontConfirmOverwrite
        )
        if name:
            self.path.setText(name)

    def problem_with(self, text: str) -> str:
        """Why `text` cannot be exported to ('' when it can)."""
        path = Path(text).expanduser()
        if not text.strip() or not path.name:
            return "Choose a file name."
        if path.suffix.lower() not in EXPORT_SUFFIXES:
            return "End the name with .jpg, .png or .tif (the format follows the suffix)."
        if not path.parent.is_dir():
            return f"The folder {path.parent} does not exist."
        if path.is_dir():
            return f"{path} is a folder."
        return ""

    def _path_changed(self, text: str) -> None:
        jpeg = Path(text).suffix.lower() in EIGHT_BIT_ONLY
        self.quality.setEnabled(jpeg)
        self.bit_depth.setEnabled(not jpeg)
        problem = self.problem_with(text)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.export_button.setEnabled(not problem)

    def accept(self) -> None:
        """Close only with a valid file, and only replace an existing one when the user says so."""
        path = self.options().path
        if self.problem_with(self.path.text()):
            return
        if path.exists():
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Replace file?",
                f"{path.name} already exists in {path.parent}.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                self,
            )
            box.setObjectName("confirm-replace")
            box.setInformativeText("Replace it with this export?")
            box.button(QMessageBox.StandardButton.Yes).setText("Replace")
            box.setDefaultButton(QMessageBox.StandardButton.No)
            if box.exec() != QMessageBox.StandardButton.Yes:
                return
        super().accept()

    def options(self) -> ExportOptions:
        path = Path(self.path.text()).expanduser()
        bit_depth = 8 if path.suffix.lower() in EIGHT_BIT_ONLY else int(self.bit_depth.currentData())
        profile = "source" if self.source_profile.isChecked() and self.source_profile.isEnabled() else "working"
        return ExportOptions(path, bit_depth, self.quality.value(), self.long_side.value(), profile)
