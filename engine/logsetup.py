"""Logging, configured once per process by its entry point; modules only call ``logging.getLogger(__name__)``.

- The command line logs to stderr: warnings by default, ``-v`` adds progress notes (INFO), ``-vv`` DEBUG.
- The editor also keeps a log file in the platform's log folder (engine.locations.user_log_dir), so what
  happened before a crash or a fallback (e.g. "GPU export unavailable; using the CPU") can be read later.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import TextIO

from engine.locations import user_log_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES, LOG_FILE_BACKUPS = 1 << 20, 3


def level_for(verbosity: int) -> int:
    """0 -> WARNING, 1 -> INFO, 2 or more -> DEBUG."""
    return (logging.WARNING, logging.INFO, logging.DEBUG)[max(0, min(verbosity, 2))]


def _install(handler: logging.Handler, name: str) -> None:
    """Add `handler` to the root logger in place of an earlier one of ours with that name; handlers others
    installed (a test runner's, an embedding program's) are left alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == name]:
        root.removeHandler(old)
        old.close()
    handler.set_name(name)
    root.addHandler(handler)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (test runners swap it; a handler holding the
    stream of its creation would write into a closed capture)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _to_stderr(level: int) -> logging.Handler:
    handler = _StderrHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    return handler


def configure_cli_logging(verbosity: int = 0) -> None:
    """Log records of `verbosity`'s level and above to stderr, one line each."""
    _install(_to_stderr(level_for(verbosity)), "lutlab-stderr")
    logging.getLogger().setLevel(level_for(verbosity))


def configure_editor_logging(verbosity: int = 0, folder: Path | None = None) -> Path | None:
    """INFO and above (DEBUG with -vv) to a rotating file in `folder` (default: the user's log folder), warnings
    (or the -v level) also to stderr. Returns the log file, or None when the folder cannot be written."""
    _install(_to_stderr(level_for(verbosity)), "lutlab-stderr")
    logging.getLogger().setLevel(min(logging.INFO, level_for(verbosity)))
    path = (folder or user_log_dir()) / "lutlab.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:  # a read-only home must not stop the editor
        logging.getLogger(__name__).warning("no log file in %s: %s", path.parent, exc)
        return None
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    _install(to_file, "lutlab-file")
    return path
