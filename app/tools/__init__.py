"""Editor plug-ins: every module here with ``install(window) -> None`` is installed at start-up.

See :mod:`app.main_window` for the window API a plug-in may use. A plug-in that fails to install is
reported in an error dialog and skipped; the editor still starts.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import traceback

from app.editor_api import Editor

log = logging.getLogger(__name__)


def install_tools(window: Editor) -> list[str]:
    """Install every plug-in module in this package (alphabetical); returns the names installed."""
    installed = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        name = f"{__name__}.{info.name}"
        try:
            module = importlib.import_module(name)
            install = getattr(module, "install", None)
            if install is None:
                continue
            install(window)
        except Exception as exc:  # one broken plug-in must not keep the editor from starting
            log.error("plug-in %s failed to install:\n%s", name, traceback.format_exc())
            window.show_error("Plug-in failed", f"{info.name}: {type(exc).__name__}: {exc}")
            continue
        installed.append(info.name)
    return installed
