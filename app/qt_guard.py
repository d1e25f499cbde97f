"""Work-around for PySide6 6.12 on Python < 3.12: wrapped C++ methods returning void (and some returning
bool) give back ``None``/``True``/``False`` without taking a reference, so every call such as
``widget.update()`` or ``painter.drawLine()`` drops one reference. After some tens of thousands of calls
the interpreter aborts with "none_dealloc: deallocating None". Python 3.12 made these objects immortal,
which hides the bug there. Here we give the three singletons a billion spare references up front; they
are never freed anyway, so the only effect is that the lost references no longer matter.
"""

from __future__ import annotations

import ctypes
import sys

SPARE_REFERENCES = 1_000_000_000


def protect_singletons() -> None:
    """Add spare references to None, True and False once per process (no-op on Python >= 3.12)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or getattr(sys, "_lutlab_guarded", False):
        return
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt is the first field of every object
        refcount.value += SPARE_REFERENCES
    sys._lutlab_guarded = True  # type: ignore[attr-defined]
