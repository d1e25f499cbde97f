"""Logging, configured once per process by its entry point; modules only call ``logging.getLogger(__name__)``.

- The command line logs to stderr: warnings by default, ``-v`` adds progress notes (INFO), ``-vv`` DEBUG.
- The editor also keeps a log file in the platform's log folder (engine.locations.user_log_dir), so what
  happened before a crash or a fallback (e.g. "GPU export unavailable; using the CPU") can be read later.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from engine.locations import user_log_dir

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES, LOG_FILE_BACKUPS = 1 << 20, 3


def level_for(verbosity: int) -> int:
    """0 -> WARNING, 1 -> INFO, 2 or more -> DEBUG."""
    return (logging.WARNING, logging.INFO, logging.DEBUG)[max(0, min(verbosity, 2))]


def configure_cli_logging(verbosity: int = 0) -> None:
    """Log records of `verbosity`'s level and above to stderr, one line each."""
    logging.basicConfig(level=level_for(verbosity), format="%(levelname)s %(name)s: %(message)s", force=True)


def configure_editor_logging(verbosity: int = 0, folder: Path | None = None) -> Path | None:
    """INFO and above (DEBUG with -vv) to a rotating file in `folder` (default: the user's log folder), warnings
    (or the -v level) also to stderr. Returns the log file, or None when the folder cannot be written."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler()
    console.setLevel(level_for(verbosity))
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    root.setLevel(min(logging.INFO, level_for(verbosity)))
    path = (folder or user_log_dir()) / "lutlab.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS,
                                                       encoding="utf-8")
    except OSError as exc:  # a read-only home must not stop the editor
        logging.getLogger(__name__).warning("no log file in %s: %s", path.parent, exc)
        return None
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(to_file)
    return path
