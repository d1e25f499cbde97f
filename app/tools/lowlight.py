"""Image > Enhance low light...: ask (the dialog previews off the GUI thread), enhance the full photo as a job.

The result is one undoable pixel step ("Enhance low light") whose params are the dialog's controls, so
the document can recompute it. The default pipeline needs no model and no torch: the dialog is up at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from app.editor_api import Editor, as_parent
from engine.image import Photo

if TYPE_CHECKING:
    from app.lowlight_dialog import LowLightDialog

UNDO_TEXT = "Enhance low light"


class LowLightTool(QObject):
    """The action and its flow; `dialog` and `job` are kept for inspection (tests, status)."""

    def __init__(self, window: Editor) -> None:
        super().__init__(as_parent(window))
        self.setObjectName("lowlight-tool")
        self.window = window
        self.dialog: LowLightDialog | None = None
        self.job: Any = None
        self.action = QAction("Enhance low light…", as_parent(window))
        self.action.setObjectName("enhance-low-light")
        self.action.setStatusTip("Brighten a dark, noisy photo: exposure in linear light, denoising that keeps texture")
        self.action.triggered.connect(self.start)
        window.menu("Image").addAction(self.action)

    def start(self) -> None:
        if self.window.photo is None:
            self.window.show_error("Enhance low light", "Open a photo first.")
            return
        from app.lowlight_dialog import LowLightDialog

        photo = self.window.photo
        dialog = self.dialog = LowLightDialog(photo.pixels, as_parent(self.window))
        dialog.accepted.connect(lambda: self._enhance(photo, dialog.controls()))
        dialog.open()

    def _enhance(self, photo: Photo, controls: dict) -> None:
        from engine.lowlight.models import enhance

        def work(progress, cancel) -> Photo:
            return photo.with_pixels(enhance(photo.pixels, **controls, progress=progress, cancel=cancel))

        self.job = self.window.run_job(
            UNDO_TEXT, work, lambda result: self.window.replace_photo(result, UNDO_TEXT, "lowlight", dict(controls))
        )


def install(window: Editor) -> None:
    LowLightTool(window)
