"""Runs an engine job on a worker thread with a progress dialog and Cancel, results back on the GUI thread.

The job follows `engine.jobs`: ``fn(progress, cancel)``. Signals carry progress and the outcome across
threads (queued connections), so the engine never sees Qt.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from engine.errors import Cancelled, LutLabError
from engine.jobs import CancelToken, ProgressFn

log = logging.getLogger(__name__)
JobFn = Callable[[ProgressFn, CancelToken], Any]
PROGRESS_STEPS = 1000
SHOW_AFTER_MS = 300


class Job(QObject):
    """One running job; exactly one of `on_done(result)`, `on_error(title, text)`, `on_cancel()` is called,
    on the GUI thread, then `on_end(job)`."""

    _progressed = Signal(int, str)
    _finished = Signal(object)
    _failed = Signal(str, str)
    _cancelled = Signal()

    def __init__(self, title: str, fn: JobFn, parent: QWidget, *, on_done: Callable[[Any], None],
                 on_error: Callable[[str, str], None], on_cancel: Callable[[], None],
                 on_end: Callable[[Job], None]) -> None:
        super().__init__(parent)
        self.title = title
        self.token = CancelToken()
        self._fn = fn
        self._callbacks = (on_done, on_error, on_cancel, on_end)
        self.dialog = QProgressDialog(title, "Cancel", 0, PROGRESS_STEPS, parent)
        self.dialog.setWindowTitle(title)
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(SHOW_AFTER_MS)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.token.cancel)
        # Bound methods of this QObject (GUI thread) receive the worker's signals as queued calls.
        self._progressed.connect(self._show_progress)
        self._finished.connect(self._done)
        self._failed.connect(self._error)
        self._cancelled.connect(self._cancel)
        self._thread = threading.Thread(target=self._work, name=f"job: {title}", daemon=True)

    def start(self) -> None:
        self.dialog.setValue(0)
        self._thread.start()

    def _work(self) -> None:
        def progress(fraction: float, message: str = "") -> None:
            self._progressed.emit(int(round(min(max(fraction, 0.0), 1.0) * PROGRESS_STEPS)), message)

        try:
            result = self._fn(progress, self.token)
        except Cancelled:
            self._cancelled.emit()
        except LutLabError as exc:
            self._failed.emit(self.title, str(exc))
        except MemoryError:
            self._failed.emit(self.title, "Not enough memory for this operation.")
        except Exception as exc:  # a bug: say so instead of dying silently on a worker thread
            log.error("job %r failed:\n%s", self.title, traceback.format_exc())
            self._failed.emit(self.title, f"Unexpected error: {type(exc).__name__}: {exc}")
        else:
            self._finished.emit(result)

    def _show_progress(self, value: int, message: str) -> None:
        if message:
            self.dialog.setLabelText(f"{self.title}\n{message}")
        self.dialog.setValue(value)

    def _done(self, result: object) -> None:
        """Hand the result over first, then announce the end (a listener of the end, such as the merge
        dialog, must already see the result)."""
        self._close_dialog()
        try:
            self._callbacks[0](result)
        except LutLabError as exc:
            self._callbacks[1](self.title, str(exc))
        self._finish()

    def _error(self, title: str, text: str) -> None:
        self._end()
        self._callbacks[1](title, text)

    def _cancel(self) -> None:
        self._end()
        self._callbacks[2]()

    def _end(self) -> None:
        self._close_dialog()
        self._finish()

    def _close_dialog(self) -> None:
        self.dialog.reset()
        self.dialog.close()
        self.dialog.deleteLater()
        self._thread.join()

    def _finish(self) -> None:
        self._callbacks[3](self)
