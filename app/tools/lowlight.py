"""Image > Enhance low light...: load the model off the GUI thread, ask, enhance the full photo as a job.

The result replaces the photo as one undoable step ("Enhance low light"); the dialog's before/after
preview shows the effect first. Torch is imported only when the action is first used.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from app.editor_api import Editor
from engine.image import Photo

UNDO_TEXT = "Enhance low light"


class LowLightTool(QObject):
    """The action and its flow; `dialog` and `job` are kept for inspection (tests, status)."""

    def __init__(self, window: Editor) -> None:
        super().__init__(window)
        self.setObjectName("lowlight-tool")
        self.window = window
        self.dialog = None
        self.job = None
        self.action = QAction("Enhance low light…", window)
        self.action.setObjectName("enhance-low-light")
        self.action.setStatusTip("Brighten a dark, noisy photo at full resolution (PairLIE)")
        self.action.triggered.connect(self.start)
        window.menu("Image").addAction(self.action)

    def start(self) -> None:
        if self.window.photo is None:
            self.window.show_error("Enhance low light", "Open a photo first.")
            return
        from engine.lowlight.infer import shipped_model

        self.job = self.window.run_job("Loading the low-light model", lambda progress, cancel: shipped_model(),
                                       self._ask)

    def _ask(self, model: Any) -> None:
        from app.lowlight_dialog import LowLightDialog

        photo = self.window.photo
        self.dialog = LowLightDialog(photo.pixels, model, self.window)
        self.dialog.accepted.connect(
            lambda: self._enhance(photo, model, self.dialog.gamma, self.dialog.exposure, self.dialog.strength))
        self.dialog.open()

    def _enhance(self, photo: Photo, model: Any, gamma: float, exposure: float | None, strength: float) -> None:
        from engine.lowlight.infer import enhance

        def work(progress, cancel) -> Photo:
            pixels = enhance(photo.pixels, model, gamma=gamma, exposure=exposure, strength=strength,
                             progress=progress, cancel=cancel)
            return photo.with_pixels(pixels)

        params = {"gamma": gamma, "exposure": exposure, "strength": strength}
        self.job = self.window.run_job(
            UNDO_TEXT, work, lambda result: self.window.replace_photo(result, UNDO_TEXT, "lowlight", params))


def install(window: Editor) -> None:
    LowLightTool(window)
