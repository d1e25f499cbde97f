"""The one way LUTLab runs work off the GUI thread, and gets the outcome back on it.

`run_off_gui_thread(owner, fn, on_done, on_error)` runs ``fn()`` on a daemon thread; ``on_done(result)`` or
``on_error(exc)`` then runs on the GUI thread -- and only while `owner` (the widget that asked) still exists,
so a window closed meanwhile is never called back ("Signal source has been deleted"). Every long job
(`app.jobs.Job`, with a progress dialog) and every quiet one (`Background`: previews, thumbnails) uses it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Signal

from engine.errors import LutLabError

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives as long as the application; worker threads emit through it (queued to the GUI thread)."""

    call = Signal(object, object, tuple)  # (owner, callback, args)

    def __init__(self) -> None:
        super().__init__(QCoreApplication.instance())
        self.call.connect(self._deliver)

    @staticmethod
    def _deliver(owner: QObject, callback: Callable[..., Any], args: tuple) -> None:
        if shiboken6.isValid(owner):
            callback(*args)


_relay: _Relay | None = None


def _gui_relay() -> _Relay:
    """The relay, made on first use -- which must be on the GUI thread (its thread receives the calls)."""
    global _relay
    if _relay is None or not shiboken6.isValid(_relay):
        _relay = _Relay()
    return _relay


def post(owner: QObject, callback: Callable[..., Any], *args: Any) -> None:
    """Call ``callback(*args)`` on the GUI thread if `owner` still exists then; safe from any thread."""
    _gui_relay().call.emit(owner, callback, args)


_running: set[threading.Thread] = set()  # every worker `run_off_gui_thread` started that has not ended


def finish_background_work(timeout: float = 30.0) -> None:
    """Wait (up to `timeout` s in all) for the workers still running when the editor quits: a daemon thread
    stopped inside torch or numpy at interpreter exit aborts the process ("terminate called without an active
    exception") instead of letting it exit cleanly."""
    deadline = time.monotonic() + timeout
    for thread in list(_running):
        thread.join(max(0.0, deadline - time.monotonic()))


def run_off_gui_thread(
    owner: QObject,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None] | None = None,
    name: str = "lutlab-background",
) -> threading.Thread:
    """Run ``fn()`` on a daemon thread; its result or exception goes to `on_done` / `on_error` on the GUI
    thread while `owner` lives. An unexpected exception is also logged with its traceback."""
    _gui_relay()  # made here, on the caller's (GUI) thread, before any worker posts through it

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread; a worker must never die silently
            if not isinstance(exc, LutLabError | KeyboardInterrupt):
                log.warning("background work %r failed:\n%s", name, traceback.format_exc())
            if on_error is not None:
                post(owner, on_error, exc)
            return
        finally:
            _running.discard(threading.current_thread())
        post(owner, on_done, result)

    thread = threading.Thread(target=work, daemon=True, name=name)
    _running.add(thread)
    thread.start()
    return thread


class Background(QObject):
    """Quiet background work for a widget (no progress dialog): ``submit(fn, on_done, on_error)``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[threading.Thread] = []

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> threading.Thread:
        thread = run_off_gui_thread(self, fn, on_done, on_error)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return thread

    def wait(self, timeout: float = 30.0) -> None:
        """Join every running thread (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)
