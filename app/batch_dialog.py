"""File > Batch export: the current edit applied to chosen photos or a folder, as one cancellable job.

The dialog only collects inputs; the work is `engine.batch` on local worker processes, so the editor stays
responsive and its own torch settings are untouched. What failed is listed when the job ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.editor_api import Editor
from engine.batch import BatchReport, Recipe, default_workers, plan, run_batch
from engine.image import PHOTO_SUFFIXES
from engine.jobs import CancelToken, ProgressFn

MAX_LISTED_FAILURES = 20
NamedWidget = TypeVar("NamedWidget", bound=QWidget)


def _named(widget: NamedWidget, name: str) -> NamedWidget:
    """The widget with an object name (tests find it by name); PySide6's typing has no objectName= keyword."""
    widget.setObjectName(name)
    return widget


class BatchDialog(QDialog):
    """Photos and folders to grade, the output folder, overwrite and worker count; OK starts the batch."""

    def __init__(self, parent: QWidget | None, edit_title: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.inputs = _named(QListWidget(), "inputs")
        add_photos = _named(QPushButton("Add photos…"), "add-photos")
        add_folder = _named(QPushButton("Add folder…"), "add-folder")
        clear = _named(QPushButton("Clear"), "clear")
        add_photos.clicked.connect(self._ask_photos)
        add_folder.clicked.connect(self._ask_folder)
        clear.clicked.connect(self.inputs.clear)
        row = QHBoxLayout()
        for button in (add_photos, add_folder, clear):
            row.addWidget(button)
        self.output = _named(QLineEdit(), "output")
        self.output.setPlaceholderText("folder for the results (not the photos' own)")
        choose = _named(QPushButton("Choose…"), "choose-output")
        choose.clicked.connect(self._ask_output)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output)
        out_row.addWidget(choose)
        self.overwrite = _named(QCheckBox("Redo photos already in the output folder"), "overwrite")
        self.workers = _named(QSpinBox(), "workers")
        self.workers.setRange(1, 64)
        self.workers.setValue(default_workers())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Apply <b>{edit_title}</b> to each photo (a preset predicts each photo's own LUT)."))
        layout.addWidget(self.inputs)
        layout.addLayout(row)
        form = QFormLayout()
        form.addRow("Output folder", out_row)
        form.addRow("Worker processes", self.workers)
        form.addRow(self.overwrite)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.inputs.model().rowsInserted.connect(self._refresh)
        self.inputs.model().rowsRemoved.connect(self._refresh)
        self.output.textChanged.connect(self._refresh)
        self._refresh()

    def add_inputs(self, paths: Iterable[str | Path]) -> None:
        for path in paths:
            self.inputs.addItem(str(path))

    @property
    def input_paths(self) -> list[Path]:
        return [Path(self.inputs.item(i).text()) for i in range(self.inputs.count())]

    def _refresh(self) -> None:
        ready = self.inputs.count() > 0 and bool(self.output.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    def _ask_photos(self) -> None:
        pattern = " ".join(f"*{suffix}" for suffix in PHOTO_SUFFIXES)
        paths, _ = QFileDialog.getOpenFileNames(self, "Photos to export", "", f"Photos ({pattern})")
        self.add_inputs(paths)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos")
        if folder:
            self.add_inputs([folder])

    def _ask_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder")
        if folder:
            self.output.setText(folder)


def batch_job(recipe: Recipe, inputs: list[Path], output: Path, overwrite: bool, workers: int):
    """The job: plan (skips and refusals are known at once), then run the rest; returns the whole report."""

    def work(progress: ProgressFn, cancel: CancelToken) -> BatchReport:
        tasks, known = plan(inputs, output, overwrite)
        report = run_batch(recipe, tasks, workers=workers, in_process=False, progress=progress, cancel=cancel)
        report.outcomes[:0] = known
        return report

    return work


def summary_text(report: BatchReport) -> str:
    """What the user reads when the batch ends: the counts, then each failed photo with its reason."""
    lines = [report.summary() + "."]
    failed = report.failed
    if failed:
        lines.append("")
        lines += [f"• {outcome.message}" for outcome in failed[:MAX_LISTED_FAILURES]]
        if len(failed) > MAX_LISTED_FAILURES:
            lines.append(f"… and {len(failed) - MAX_LISTED_FAILURES} more")
    return "\n".join(lines)


def show_summary(window: Editor, report: BatchReport) -> QMessageBox:
    icon = QMessageBox.Icon.Warning if report.failed else QMessageBox.Icon.Information
    parent = window if isinstance(window, QWidget) else None
    box = QMessageBox(icon, "Batch export", summary_text(report), QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("batch-summary")
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box
