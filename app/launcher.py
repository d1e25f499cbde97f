"""The `lutlab` command (and `python main.py`): no sub-command opens the editor, a sub-command runs a headless job.

    lutlab [-v] [PHOTO]             the editor (the last session's photo, else the bundled sample photo)
    lutlab [-v] COMMAND ARGS...     a headless job (engine.cli); `lutlab --help` lists them

It lives in app/ because only the app may start the editor; the headless path imports no Qt.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

VERBOSE_FLAGS = ("-v", "--verbose", "-vv")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from engine.cli import command_names
    from engine.cli import main as cli_main

    positional = [arg for arg in args if arg not in VERBOSE_FLAGS]
    if not positional or (
        len(positional) == 1
        and positional[0] not in command_names()
        and not positional[0].startswith("-")
        and _looks_like_photo(positional[0])
    ):
        return _editor(positional[0] if positional else None, _verbosity(args))
    return cli_main(args)


def _verbosity(args: Sequence[str]) -> int:
    return sum(2 if arg == "-vv" else 1 for arg in args if arg in VERBOSE_FLAGS)


def _no_display() -> bool:
    """On Linux without X11 or Wayland, Qt would abort with a misleading "reinstall the application" message."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def _looks_like_photo(arg: str) -> bool:
    """`lutlab photo.jpg` or `lutlab ~/Pictures/x` opens the editor; a bare unknown word is a mistyped command."""
    return "." in arg or "/" in arg


def _editor(path: str | None, verbosity: int) -> int:
    if _no_display():
        sys.stderr.write(
            "error: the editor needs a display and this session has none ($DISPLAY and "
            "$WAYLAND_DISPLAY are unset); for headless work run a sub-command (lutlab --help), "
            "or start the editor inside xvfb-run\n"
        )
        return 2
    from app.main import run_editor
    from engine.logsetup import configure_editor_logging

    log_file = configure_editor_logging(verbosity)
    logging.getLogger(__name__).info("LUTLab editor starting (log file: %s)", log_file)
    return run_editor(path)
