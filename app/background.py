"""Quiet background work (no progress dialog): run a function on a worker thread, get the result on the GUI
thread. For previews and thumbnails; long user-visible jobs use ``window.run_job`` instead."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.errors import LutLabError

log = logging.getLogger(__name__)


class Background(QObject):
    """Runs one function at a time per call on a daemon thread; callbacks arrive as queued signals."""

    _done = Signal(object, object)  # (callback, result)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done.connect(lambda callback, result: callback(result))
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[Exception], None] | None = None) -> threading.Thread:
        def work() -> None:
            try:
                result = fn()
            except Exception as exc:  # reported on the GUI thread; a worker must never die silently
                if not isinstance(exc, LutLabError):  # bad input is expected and shown by the caller
                    log.warning("background work failed:\n%s", traceback.format_exc())
                if on_error is not None:
                    self._done.emit(on_error, exc)
                return
            self._done.emit(on_done, result)

        thread = threading.Thread(target=work, daemon=True, name="lutlab-background")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def wait(self, timeout: float = 30.0) -> None:
        """Join every running thread (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)
