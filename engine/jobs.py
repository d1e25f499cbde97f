"""The one Progress/Cancel protocol every long job (training, upscaling, merging, export) follows.

A job function takes keyword arguments ``progress`` and ``cancel``:

    def upscale(photo, scale, *, progress: ProgressFn = no_progress, cancel: CancelToken | None = None)

It calls ``progress(fraction, message)`` now and then (fraction in [0, 1]) and calls
``cancel.check()`` between units of work, which raises :class:`Cancelled`. A cancelled job leaves no
partial output. The app runs jobs on a worker thread and wires both to a progress bar with Cancel;
the CLI prints progress to stderr and cancels on Ctrl+C.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from engine.errors import Cancelled

T = TypeVar("T")


class ProgressFn(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


def no_progress(fraction: float, message: str = "") -> None:
    """Default progress sink for callers that do not display progress."""


class CancelToken:
    """Thread-safe flag a GUI thread sets and a worker polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def check(cancel: CancelToken | None) -> None:
    """`cancel.check()` that tolerates a missing token."""
    if cancel is not None:
        cancel.check()


def sub_progress(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a sub-task's [0, 1] progress onto [start, stop] of the parent's bar."""

    def report(fraction: float, message: str = "") -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report


def track(
    items: Iterable[T],
    total: int,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    message: str = "",
) -> Iterator[T]:
    """Iterate `items`, checking for cancellation before each and reporting progress after each."""
    for index, item in enumerate(items):
        check(cancel)
        yield item
        progress((index + 1) / max(total, 1), message)
