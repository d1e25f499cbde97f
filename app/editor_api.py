"""The typed interface a plug-in (``app/tools/*``) gets instead of the whole main window.

Why: plug-ins should depend on what the editor promises, not on the window's internals; a type checker then
flags any use outside it. `app.main_window.MainWindow` implements it; see its module docstring for the
meaning of each member.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtWidgets import QDockWidget, QMenu, QStatusBar, QWidget

from engine.document import EditDocument
from engine.image import Photo
from engine.jobs import CancelToken, ProgressFn
from engine.lut import LUT3D


class Editor(Protocol):
    document: EditDocument | None
    photo: Photo | None
    lut: LUT3D | None
    interpolation: str
    settings: QSettings
    photoChanged: SignalInstance
    lutChanged: SignalInstance
    documentChanged: SignalInstance
    jobsIdle: SignalInstance

    @property
    def strength(self) -> float: ...

    @property
    def source_photo(self) -> Photo | None: ...

    @property
    def busy(self) -> bool: ...

    def menu(self, name: str) -> QMenu: ...

    def replace_photo(self, photo: Photo, description: str, kind: str, params: dict[str, Any]) -> None: ...

    def set_lut(self, lut: LUT3D | None, description: str, path: Path | None = None) -> None: ...

    def apply_preset(self, name: str, stem: str, lut: LUT3D) -> None: ...

    def open_merged(self, reference: Photo, merged: Photo, description: str, params: dict[str, Any]) -> None: ...

    def run_job(
        self, title: str, fn: Callable[[ProgressFn, CancelToken], Any], on_done: Callable[[Any], None]
    ) -> Any: ...

    def add_dock(self, widget: QWidget, title: str, tab_with: str | None = None) -> QDockWidget: ...

    def show_error(self, title: str, text: str) -> None: ...

    def on_photos_dropped(self, handler: Callable[[list[Path]], None]) -> None: ...

    def ask_export_lut(self) -> None: ...

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 - Qt's name


def as_parent(editor: Editor) -> QWidget:
    """The editor as the Qt parent of a plug-in's dialogs (the main window, which implements `Editor`, is one)."""
    if not isinstance(editor, QWidget):
        raise TypeError(f"the editor must be a QWidget to parent dialogs, not {type(editor).__name__}")
    return editor
