"""The *Train...* dialog's "Auto from your good photos" kind: an Auto preset that undoes synthetic capture
faults (exposure, white balance, contrast, saturation) made from a folder of good photos; no targets needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from app.train_kinds import EpochPoint, TrainRequest
from app.train_kinds.adaptive import epoch_point, train_and_summarise
from engine.jobs import CancelToken, ProgressFn


class PhotosOptions(QWidget):
    def __init__(self) -> None:
        super().__init__()
        note = QLabel(
            "Pick a folder of photos that already look right. Training spoils copies of them (too dark, "
            "too bright, colour casts, flat or harsh contrast, dull or garish colour) and learns to "
            "undo that, while leaving good photos alone. A fifth of the photos are held out to check it."
        )
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(note)

    def values(self) -> dict:
        return {}


class AdaptivePhotosKind:
    key = "adaptive"
    label = "Auto preset from your good photos (no targets needed)"
    default_epochs = 20
    data_hint = "folder of good photos"
    uses_target = False
    name_hint = "name of the new preset, e.g. My Auto"
    asks_before_saving = True

    def options_widget(self) -> PhotosOptions:
        return PhotosOptions()

    def validate(self, data: Path, target: Path | None) -> tuple[str, bool]:
        from engine.adaptive.train import MIN_PHOTOS
        from engine.image import PHOTO_SUFFIXES

        if not Path(data).is_dir():
            return f"{data}: no such folder", False
        count = sum(1 for p in Path(data).iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        usable = count >= MIN_PHOTOS
        text = f"{count} photo(s) in {data}"
        if not usable:
            text += f"; at least {MIN_PHOTOS} are needed (one is held out to check the preset)"
        elif count < 10:
            text += "; a few dozen varied photos give a steadier Auto"
        return text, usable

    def train(
        self,
        request: TrainRequest,
        on_epoch: Callable[[EpochPoint], None],
        progress: ProgressFn,
        cancel: CancelToken,
        confirm: Callable[[str], bool] | None = None,
    ) -> str:
        from dataclasses import replace

        from engine.adaptive.train import PHOTOS_TRAIN, train_from_photos
        from engine.presets import user_presets_dir

        return train_and_summarise(
            request.name,
            confirm,
            lambda ask: train_from_photos(
                request.data,
                request.name,
                user_presets_dir(),
                config=replace(PHOTOS_TRAIN, epochs=request.epochs),
                on_epoch=lambda m: on_epoch(epoch_point(m)),
                confirm=ask,
                progress=progress,
                cancel=cancel,
            ),
        )


KIND = AdaptivePhotosKind()
