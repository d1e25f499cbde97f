"""The *Train preset...* dialog: pick a folder of before/after pairs, read the report, train with live curves.

The kind selector lists every kind of `engine.train_kinds` (the descriptors the `train` command reads too);
each kind's options become a form (`app.train_options`). Validation and training run on worker threads; the
dialog shows a progress bar with ETA, the loss and closeness (PSNR, dB) curves per epoch (pyqtgraph), and
Cancel, which stops after the current step and leaves any earlier model of that name untouched. The dialog is
not modal: the editor stays usable while it trains.

A run's `confirm(text)` (engine.training.TrainingEvents): when its model would make the held-out photos worse
than no edit, the worker thread waits while the dialog asks whether to save it anyway.

One module because it is one dialog: its worker thread, curves and save question share its state.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.train_options import OptionsForm
from engine.errors import Cancelled, LutLabError
from engine.jobs import CancelToken
from engine.train_kinds import TrainKind, TrainRequest, kinds
from engine.training import EpochPoint, TrainingEvents

PROGRESS_STEPS = 1000
CURVE_COLOURS = ("#e8a33c", "#3c9be8", "#6cc04a", "#c04a9b")


def format_eta(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Bridge(QObject):
    """Signals that carry the training thread's news to the GUI thread (queued connections)."""

    progressed = Signal(float, str)
    epoch = Signal(object)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()
    ask = Signal(str)  # the worker waits for the answer (see TrainDialog._confirm)


class TrainDialog(QDialog):
    trained = Signal(str)  # summary, after a model was written
    validated = Signal(bool)  # usable

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.kinds = kinds()
        self._background = Background(self)
        self._cancel: CancelToken | None = None
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._usable = False
        self._points: list[EpochPoint] = []
        self._answer = threading.Event()
        self._save_anyway = False
        self.save_question: QMessageBox | None = None
        self.bridge = _Bridge(self)

        self.kind = QComboBox()
        for kind in self.kinds:
            self.kind.addItem(kind.label, kind.key)
        self.data = QLineEdit()
        self.target = QLineEdit()
        self.report = QPlainTextEdit(readOnly=True)
        self.report.setMaximumHeight(110)
        self.name = QLineEdit()
        self.epochs = QSpinBox(minimum=1, maximum=10000, value=self.kinds[0].epoch_default)
        self.options = QStackedWidget()
        self.option_widgets = [OptionsForm(kind) for kind in self.kinds]
        for widget in self.option_widgets:
            self.options.addWidget(widget)
        self.progress = QProgressBar(minimum=0, maximum=PROGRESS_STEPS)
        self.eta = QLabel("")
        self.eta.setWordWrap(True)  # long messages (the saved path) wrap instead of squeezing the progress bar
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(200)
        self.loss_plot = self.plots.addPlot(title="Training loss")
        self.loss_plot.setLabel("bottom", "epoch")
        self.score_plot = self.plots.addPlot(title="Closeness to the targets (PSNR, dB; higher is closer)")
        self.score_plot.setLabel("bottom", "epoch")
        self.score_plot.addLegend(offset=(-10, -10), brush=pg.mkBrush(0, 0, 0, 190))  # legible over curves
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(CURVE_COLOURS[0], width=2))
        self.score_curves: dict[str, pg.PlotDataItem] = {}
        self.train_button = QPushButton("Train")
        self.cancel_button = QPushButton("Close")

        def folder_row(edit: QLineEdit) -> QWidget:
            row = QWidget()  # one widget, so the target row can be disabled as a whole
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(edit, 1)
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda: self._browse(edit))
            layout.addWidget(browse)
            return row

        form = QFormLayout()
        form.addRow("Model", self.kind)
        self.target_row = folder_row(self.target)
        form.addRow("Data", folder_row(self.data))
        form.addRow("Targets", self.target_row)
        form.addRow("Report", self.report)
        form.addRow("Name", self.name)
        form.addRow("Epochs", self.epochs)
        form.addRow("Options", self.options)
        progress_row = QVBoxLayout()
        progress_row.addWidget(self.progress)
        progress_row.addWidget(self.eta)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(progress_row)
        layout.addWidget(self.plots, 1)
        layout.addLayout(buttons)
        self.train_button.setDefault(True)  # only once inside the dialog: before, Qt made Close the default
        self.resize(760, 720)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.data.editingFinished.connect(self.validate)
        self.target.editingFinished.connect(self.validate)
        self.name.textChanged.connect(self._update_buttons)
        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel_or_close)
        self.bridge.progressed.connect(self._show_progress)
        self.bridge.epoch.connect(self._add_point)
        self.bridge.finished.connect(self._finished)
        self.bridge.failed.connect(self._failed)
        self.bridge.cancelled.connect(self._cancelled)
        self.bridge.ask.connect(self._ask_save)
        self._describe_fields(self.kinds[0])
        self._update_buttons()

    @property
    def current_kind(self) -> TrainKind:
        return self.kinds[self.kind.currentIndex()]

    @property
    def training(self) -> bool:
        return self._thread is not None

    # ---------------------------------------------------------------------------------- choosing data
    def set_folders(self, data: str | Path, target: str | Path | None = None) -> None:
        """Fill in the folder(s) and validate (what Browse does; also for scripts and tests)."""
        self.data.setText(str(data))
        self.target.setText(str(target) if target else "")
        self.validate()

    def _browse(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)
            self.validate()

    def _kind_changed(self, index: int) -> None:
        self.options.setCurrentIndex(index)
        self._describe_fields(self.kinds[index])
        self.epochs.setValue(self.kinds[index].epoch_default)
        self.validate()

    def _target_folder(self) -> Path | None:
        text = self.target.text().strip()
        return Path(text) if text and self.target_row.isEnabled() else None

    def _describe_fields(self, kind: TrainKind) -> None:
        """Title, placeholders and the target row say what `kind` wants."""
        self.setWindowTitle(f"Train: {kind.label}")
        self.data.setPlaceholderText(kind.data_hint)
        uses_target = kind.uses_target
        self.target_row.setEnabled(uses_target)
        self.target.setPlaceholderText(
            "optional: folder of targets, when they are in a folder of their own"
            if uses_target
            else "not used: this kind needs no targets"
        )
        self.name.setPlaceholderText(kind.name_hint)

    def validate(self) -> None:
        """Check the folder(s) on a worker thread and show the report."""
        self._usable = False
        self._update_buttons()
        data = self.data.text().strip()
        if not data:
            return
        target = self._target_folder()
        kind = self.current_kind
        options = kind.resolve(self.option_widgets[self.kind.currentIndex()].values())
        self.report.setPlainText("Checking…")
        self._background.submit(lambda: kind.validate(Path(data), target, options), self._validated, self._invalid)

    def _validated(self, result: tuple[str, bool]) -> None:
        text, usable = result
        self.report.setPlainText(text)
        self._usable = usable
        self._update_buttons()
        self.validated.emit(usable)

    def _invalid(self, exc: BaseException) -> None:
        self.report.setPlainText(str(exc) if isinstance(exc, LutLabError) else f"Cannot check: {exc}")
        self._usable = False
        self._update_buttons()
        self.validated.emit(False)

    def _update_buttons(self) -> None:
        self.train_button.setEnabled(self._usable and bool(self.name.text().strip()) and not self.training)
        self.cancel_button.setText("Cancel" if self.training else "Close")

    # ---------------------------------------------------------------------------------------- training
    def start(self) -> None:
        """Train on a worker thread with the chosen settings."""
        if self.training or not self._usable:
            return
        kind = self.current_kind
        request = TrainRequest(
            Path(self.data.text().strip()),
            self._target_folder(),
            self.name.text().strip(),
            self.epochs.value(),
            options=kind.resolve(self.option_widgets[self.kind.currentIndex()].values()),
        )
        self._points = []
        self.loss_curve.setData([], [])
        for curve in self.score_curves.values():
            curve.setData([], [])
        self._cancel = CancelToken()
        self._started = time.monotonic()
        self.progress.setValue(0)
        self.eta.setText("starting…")
        cancel, bridge = self._cancel, self.bridge
        events = TrainingEvents(
            lambda f, m="": bridge.progressed.emit(f, m),
            cancel,
            epoch=bridge.epoch.emit,
            confirm=lambda text: self._confirm(text, cancel),
        )

        def work() -> None:
            try:
                summary = kind.train(request, events)
            except Cancelled:
                bridge.cancelled.emit()
            except LutLabError as exc:
                bridge.failed.emit(str(exc))
            except Exception as exc:  # a bug: report it instead of losing the thread silently
                traceback.print_exc()
                bridge.failed.emit(f"Unexpected error: {type(exc).__name__}: {exc}")
            else:
                bridge.finished.emit(summary)

        self._thread = threading.Thread(target=work, daemon=True, name="lutlab-train")
        self._thread.start()
        self._update_buttons()

    def _confirm(self, text: str, cancel: CancelToken) -> bool:
        """On the worker thread: ask the GUI whether to save a model that makes held-out photos worse; wait."""
        self._answer.clear()
        self._save_anyway = False
        self.bridge.ask.emit(text)
        while not self._answer.wait(0.1):
            if cancel.cancelled:
                return False
        return self._save_anyway

    def _ask_save(self, text: str) -> None:
        """On the GUI thread: a warning with Save anyway / Discard (not blocking the editor)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Save this preset?",
            f"{text}\n\nSave it anyway? Discard keeps any earlier preset of this name.",
            parent=self,
        )
        save = box.addButton("Save anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton("Discard", QMessageBox.ButtonRole.RejectRole))

        def answered(_result: int) -> None:
            self._save_anyway = box.clickedButton() is save
            self.save_question = None
            self._answer.set()

        box.finished.connect(answered)
        self.save_question = box
        box.open()

    def _show_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * PROGRESS_STEPS))
        elapsed = time.monotonic() - self._started
        eta = f"ETA {format_eta(elapsed * (1 - fraction) / fraction)}" if fraction > 0.01 else "estimating…"
        self.eta.setText(f"{message}  {eta}" if message else eta)

    def _add_point(self, point: EpochPoint) -> None:
        self._points.append(point)
        epochs = [p.epoch for p in self._points]
        self.loss_curve.setData(epochs, [p.loss for p in self._points])
        for name in point.scores:
            if name not in self.score_curves:
                colour = CURVE_COLOURS[1 + len(self.score_curves) % (len(CURVE_COLOURS) - 1)]
                self.score_curves[name] = self.score_plot.plot(pen=pg.mkPen(colour, width=2), name=name)
            self.score_curves[name].setData(epochs, [p.scores.get(name, float("nan")) for p in self._points])

    def _end(self, text: str) -> None:
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self._cancel = None
        self.eta.setText(text)
        self._update_buttons()

    def _finished(self, summary: str) -> None:
        self.progress.setValue(PROGRESS_STEPS)
        self._end(summary)
        self.trained.emit(summary)

    def _failed(self, text: str) -> None:
        self._end("Training failed")
        self.report.setPlainText(text)

    def _cancelled(self) -> None:
        self._end("Cancelled; run Train again with the same settings to resume")

    def _cancel_or_close(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()
            self.eta.setText("cancelling…")
        else:
            self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._cancel is not None:
            self._cancel.cancel()
            self._answer.set()
            if self._thread is not None:
                self._thread.join(30)
        super().closeEvent(event)
