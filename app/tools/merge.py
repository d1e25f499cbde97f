"""Plug-in: merge exposure brackets. File > Merge Brackets…, or drop several photos on the window at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.editor_api import Editor, as_parent
from app.main_window import PHOTO_FILTER
from app.merge_dialog import MergeDialog
from engine.fusion.merge import load_bracket
from engine.image import Photo
from engine.jobs import CancelToken, ProgressFn


def install(window: Editor) -> None:
    action = window.menu("File").addAction("&Merge Brackets…")
    action.setObjectName("merge-brackets")
    action.triggered.connect(lambda checked=False: ask_for_bracket(window))
    window.on_photos_dropped(lambda paths: open_bracket(window, paths))


def ask_for_bracket(window: Editor) -> None:
    paths, _ = QFileDialog.getOpenFileNames(
        as_parent(window),
        "Merge brackets: choose 2 to 9 exposures",
        str(window.settings.value("last_dir", "")),
        PHOTO_FILTER,
    )
    if paths:
        open_bracket(window, paths)


def open_bracket(window: Editor, paths: Sequence[str | Path]) -> None:
    """Read the frames as a job (errors name the file), then show the merge dialog."""
    names = [str(p) for p in paths]

    def read(progress: ProgressFn, cancel: CancelToken) -> list[Photo]:
        return load_bracket(names, progress=progress, cancel=cancel)

    def show(photos: list[Photo]) -> None:
        dialog = MergeDialog(window, photos, names)
        dialog.setObjectName("merge-dialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    window.run_job(f"Reading {len(paths)} exposures", read, show)
