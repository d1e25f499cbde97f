"""The merge dialog: a bracket's frames (thumbnail, name, EV) darkest first, the options, and Merge.

Merging runs as a window job (progress bar with Cancel); the result replaces the current photo as one undo
step. On an error or Cancel the dialog comes back with the same frames, so the user can change an option
(say, turn alignment off) and try again. All the work is `engine.fusion`; this file only shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.editor_api import Editor, as_parent
from app.imaging import to_pixmap
from engine.fusion.merge import MergeOptions, MergeResult, analyse_bracket, merge_photos
from engine.image import Photo, shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn

THUMBNAIL_SIDE = 160


def thumbnail(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> QPixmap:
    """A pixmap whose longer side is `side` pixels."""
    return to_pixmap(shrink_by_blocks(pixels, side))


def ev_text(ev: float) -> str:
    """'+1.3 EV', '−2.0 EV' (a real minus sign), '0 EV'."""
    if abs(ev) < 0.05:
        return "0 EV"
    return f"{'+' if ev > 0 else '−'}{abs(ev):.1f} EV"


class MergeDialog(QDialog):
    """Shows a loaded bracket and merges it into `window` (see `app.main_window` for the window API)."""

    def __init__(self, window: Editor, photos: Sequence[Photo], names: Sequence[str]) -> None:
        super().__init__(as_parent(window))
        self.setWindowTitle(f"Merge {len(photos)} exposures")
        self.window_ = window
        self.photos = list(photos)
        self.names = list(names)
        self.bracket = analyse_bracket(self.photos)
        self.merged: MergeResult | None = None  # not `result`: that is QDialog.result()

        source = "EXIF exposure" if self.bracket.exif_exposures else "measured brightness"
        self.summary = QLabel(f"{len(photos)} frames, darkest first (by {source}); the middle one is the reference.")
        self.frame_cards = [self._card(index) for index in self.bracket.order]
        row = QHBoxLayout()
        for card in self.frame_cards:
            row.addWidget(card)

        self.align_box = QCheckBox("Align frames (handheld shots)")
        self.align_box.setChecked(True)
        self.deghost_box = QCheckBox("Remove ghosts (things that moved take the reference frame)")
        self.crop_box = QCheckBox("Crop to the area every aligned frame covers")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge_button = self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.merge)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        for box in (self.align_box, self.deghost_box, self.crop_box):
            layout.addWidget(box)
        layout.addWidget(self.buttons)
        self.merge_button.setDefault(True)  # only once inside the dialog: before, Qt made Cancel the default

    def _card(self, index: int) -> QWidget:
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        picture = QLabel()
        picture.setPixmap(thumbnail(self.photos[index].pixels))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        name = QLabel(Path(self.names[index]).name)
        name.setToolTip(self.names[index])
        reference = " (reference)" if index == self.bracket.reference else ""
        ev = QLabel(ev_text(self.bracket.evs[index]) + reference)
        ev.setObjectName("ev")
        layout = QVBoxLayout(card)
        for widget in (picture, name, ev):
            layout.addWidget(widget, alignment=Qt.AlignmentFlag.AlignHCenter)
        return card

    def options(self) -> MergeOptions:
        return MergeOptions(
            align=self.align_box.isChecked(), deghost=self.deghost_box.isChecked(), crop=self.crop_box.isChecked()
        )

    def merge(self) -> None:
        """Hide, merge as a window job, then show the result (or come back after an error or Cancel)."""
        photos, options, bracket = self.photos, self.options(), self.bracket

        def work(progress: ProgressFn, cancel: CancelToken) -> MergeResult:
            return merge_photos(photos, options, bracket=bracket, progress=progress, cancel=cancel)

        self.hide()
        self.window_.jobsIdle.connect(self._job_ended)
        self.window_.run_job(f"Merging {len(photos)} exposures", work, self._merged)

    def _merged(self, result: MergeResult) -> None:
        self.merged = result
        options = self.options()
        params = {
            "frames": [str(Path(name).resolve()) for name in self.names],
            "align": options.align,
            "deghost": options.deghost,
            "crop": options.crop,
        }
        reference = self.photos[self.bracket.reference]
        self.window_.open_merged(reference, result.photo, f"Merge {len(self.photos)} exposures", params)
        moved = [s for s in result.shifts if s.dy or s.dx or s.angle]
        shifts = (
            ", ".join(f"({s.dy:+d}, {s.dx:+d}{f', {s.angle:+.2f}°' if s.angle else ''})" for s in result.shifts)
            if moved
            else "none needed"
        )
        self.window_.statusBar().showMessage(f"Merged {len(self.photos)} exposures; alignment shifts: {shifts}", 10000)

    def _job_ended(self) -> None:
        self.window_.jobsIdle.disconnect(self._job_ended)
        if self.merged is not None:
            self.accept()
        else:
            self.show()
