"""Runs an engine job off the GUI thread with a progress dialog and Cancel, results back on the GUI thread.

The job follows `engine.jobs`: ``fn(progress, cancel)``. The thread and the hand-back are
`app.background.run_off_gui_thread` (the one background-work helper), so the engine never sees Qt and a job
whose window was closed never calls back into it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.background import post, run_off_gui_thread
from engine.errors import Cancelled, LutLabError
from engine.jobs import CancelToken, ProgressFn

log = logging.getLogger(__name__)
JobFn = Callable[[ProgressFn, CancelToken], Any]
PROGRESS_STEPS = 1000
SHOW_AFTER_MS = 300


class Job(QObject):
    """One running job; exactly one of `on_done(result)`, `on_error(title, text)`, `on_cancel()` is called,
    on the GUI thread, then `on_end(job)`."""

    def __init__(
        self,
        title: str,
        fn: JobFn,
        parent: QWidget,
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[str, str], None],
        on_cancel: Callable[[], None],
        on_end: Callable[[Job], None],
    ) -> None:
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
        self._thread: threading.Thread | None = None
        self._showing_progress = self._ended = False

    def start(self) -> None:
        self.dialog.setValue(0)

        def progress(fraction: float, message: str = "") -> None:
            post(self, self._show_progress, int(round(min(max(fraction, 0.0), 1.0) * PROGRESS_STEPS)), message)

        self._thread = run_off_gui_thread(
            self, lambda: self._fn(progress, self.token), self._done, self._failed, name=f"job: {self.title}"
        )

    def _show_progress(self, value: int, message: str) -> None:
        if self._ended:  # a late report: the dialog is gone
            return
        if message:
            self.dialog.setLabelText(f"{self.title}\n{message}")
        self._showing_progress = True
        try:
            self.dialog.setValue(value)  # a modal QProgressDialog runs the event loop in here
        finally:
            self._showing_progress = False

    def _after_progress(self, end: Callable[[], None]) -> bool:
        """True (and `end` queued) when the job's end arrived inside `_show_progress`'s event loop: closing the
        dialog there, inside its own setValue, crashed Qt (a segmentation fault seen in the merge test)."""
        if self._showing_progress:
            QTimer.singleShot(0, self, end)
        return self._showing_progress

    def _done(self, result: object) -> None:
        """Hand the result over first, then announce the end (a listener of the end, such as the merge
        dialog, must already see the result)."""
        if self._after_progress(lambda: self._done(result)):
            return
        self._close_dialog()
        try:
            self._callbacks[0](result)
        except LutLabError as exc:
            self._callbacks[1](self.title, str(exc))
        self._finish()

    def _failed(self, exc: BaseException) -> None:
        if self._after_progress(lambda: self._failed(exc)):
            return
        self._close_dialog()
        if isinstance(exc, Cancelled):
            self._callbacks[2]()
        elif isinstance(exc, LutLabError):
            self._callbacks[1](self.title, str(exc))
        elif isinstance(exc, MemoryError):
            self._callbacks[1](self.title, "Not enough memory for this operation.")
        else:  # a bug: say so instead of dying silently (the traceback is in the log)
            self._callbacks[1](self.title, f"Unexpected error: {type(exc).__name__}: {exc}")
        self._finish()

    def _close_dialog(self) -> None:
        self._ended = True
        self.dialog.reset()
        self.dialog.close()
        self.dialog.deleteLater()
        if self._thread is not None:
            self._thread.join()

    def _finish(self) -> None:
        self._callbacks[3](self)
