"""The adaptive-preset panel: a live thumbnail of the open photo under every preset, click to apply.

Thumbnails and per-photo LUTs are computed on a worker thread, one preset after another, as soon as a
photo opens (or the preset list changes). Each preset's LUT for this photo is predicted from the photo's
small downsample and kept, so a click only hands the cached `LUT3D` to ``window.apply_preset`` -- the GPU
preview then shows it at full resolution. The look's strength is the LUT panel's one slider.

One module because it is one widget: its thumbnails, their worker and the clicks share the cached LUTs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.editor_api import Editor
from engine.errors import InputError
from engine.image import shrink_by_blocks
from engine.lut import LUT3D
from engine.presets import Preset, all_presets, delete_user_preset, import_preset, rename_user_preset

THUMB_SIDE = 160
PREDICT_SIDE = 512  # the predictor's square view is taken from this downsample
MIN_CELL_WIDTH = 120  # a thumbnail narrower than this is too small to judge a look by
CELL_PADDING = 12
TEXT_LINES_HEIGHT = 22  # one line for the preset name under its thumbnail (elided, whole in the tooltip)
TILE_ASPECT = 4 / 3  # thumbnails are cropped to fill this shape, whatever the photo's


def crop_to_tile(pixels: np.ndarray) -> np.ndarray:
    """The centre of `pixels` in the tile's 4:3 shape, so square and portrait photos fill their tile too."""
    height, width = pixels.shape[:2]
    if width / height > TILE_ASPECT:
        keep = max(1, round(height * TILE_ASPECT))
        return pixels[:, (width - keep) // 2 : (width - keep) // 2 + keep]
    keep = max(1, round(width / TILE_ASPECT))
    return pixels[(height - keep) // 2 : (height - keep) // 2 + keep]


def to_pixmap(pixels: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8))
    height, width, _ = rgb.shape
    return QPixmap.fromImage(QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy())


def preset_look(preset: Preset, small: np.ndarray, thumb: np.ndarray) -> tuple[LUT3D, np.ndarray]:
    """(this photo's LUT under `preset`, the thumbnail seen through it); runs on a worker thread."""
    from engine.adaptive.infer import preset_lut
    from engine.lut import apply_lut

    lut = preset_lut(preset, small, title=f"{preset.name} (adaptive)")
    return lut, apply_lut(thumb, lut)


def thumbnail_icon(pixmap: QPixmap) -> QIcon:
    """An icon drawn the same selected or not: a selection tint would change the very colours being judged."""
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pixmap, mode)
    return icon


class PresetGrid(QListWidget):
    """Thumbnails with the preset name under each, as many columns as fit (two in the default dock width).

    The cell size follows the widget's width so thumbnails use the room there is; the scroll bar's width is
    always reserved so its appearing cannot change the column count (which would re-lay out in a loop).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(0)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # the applied preset: a frame round thumbnail and name (Qt alone only colours the name)
        self.setStyleSheet(
            "QListView::item:selected { border: 2px solid palette(highlight); border-radius: 4px;"
            " color: palette(text); background: palette(base); }"
        )
        self._fit_cells(2 * MIN_CELL_WIDTH)

    def placeholder(self) -> QIcon:
        """A neutral grey tile shown until the preset's thumbnail is computed."""
        pixmap = QPixmap(self.iconSize())
        pixmap.fill(QColor(96, 96, 96))
        return QIcon(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        self._fit_cells(event.size().width() - 2 * self.frameWidth() - scroll_bar)
        super().resizeEvent(event)

    def _fit_cells(self, available: int) -> None:
        columns = max(1, available // MIN_CELL_WIDTH)
        cell_width = max(MIN_CELL_WIDTH, available // columns)
        icon_width = cell_width - CELL_PADDING
        icon = QSize(icon_width, icon_width * 3 // 4)
        if icon != self.iconSize():
            self.setIconSize(icon)
            self.setGridSize(QSize(cell_width, icon.height() + TEXT_LINES_HEIGHT))
            self.setMinimumHeight(2 * self.gridSize().height() + 2 * self.frameWidth())  # two rows with names


class PresetPanel(QWidget):
    """Dock content; `editor` is the editor's main window seen through the plug-in API."""

    thumbnailsReady = Signal()  # every preset has a thumbnail and a LUT for the current photo
    presetApplied = Signal(str)  # stem

    def __init__(self, editor: Editor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.presets: list[Preset] = []
        self.luts: dict[str, LUT3D] = {}
        self._generation = 0
        self._pending_click: str | None = None
        self._background = Background(self)

        self.list = PresetGrid()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.export_button = QPushButton("Export this photo's LUT…")
        self.train_button = QPushButton("Train preset…")

        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.train_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self.list.itemClicked.connect(lambda item: self.apply(item.data(Qt.ItemDataRole.UserRole)))
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(
            lambda pos: self.context_menu(self.list.itemAt(pos)).popup(self.list.viewport().mapToGlobal(pos))
        )
        self.export_button.clicked.connect(editor.ask_export_lut)
        self.train_button.clicked.connect(self.open_train_dialog)
        editor.photoChanged.connect(self.refresh_thumbnails)
        editor.documentChanged.connect(self._mark_applied)
        self.reload()

    # ------------------------------------------------------------------------------------ presets
    def reload(self) -> None:
        """Re-read the shipped and user presets (after training one) and recompute thumbnails."""
        self.presets, problems = all_presets()
        self.list.clear()
        for preset in self.presets:
            item = QListWidgetItem(self.list.placeholder(), preset.name)
            item.setData(Qt.ItemDataRole.UserRole, preset.stem)
            item.setToolTip(f"{preset.name}\n{preset.description}\n{'shipped' if preset.shipped else preset.json_path}")
            self.list.addItem(item)
        self.status.setText("\n".join(f"Refused: {p}" for p in problems))
        self.refresh_thumbnails()

    # ------------------------------------------------------------------------------------ user presets
    def context_menu(self, item: QListWidgetItem | None) -> QMenu:
        """Rename / Delete (the user's own presets only) and Import, for the tile under the mouse."""
        menu = QMenu(self)
        if item is not None:
            preset = self.preset(item.data(Qt.ItemDataRole.UserRole))
            actions: tuple[tuple[str, Callable[[Preset], None]], ...] = (
                ("Rename…", self._ask_rename),
                ("Delete…", self._ask_delete),
            )
            for text, slot in actions:
                action = menu.addAction(text, partial(slot, preset))
                action.setEnabled(not preset.shipped)
                action.setToolTip("" if not preset.shipped else "Shipped presets cannot be changed")
            menu.addSeparator()
        menu.addAction("Import preset…", self._ask_import)
        return menu

    def _ask_rename(self, preset: Preset) -> None:
        name, ok = QInputDialog.getText(self, "Rename preset", "Name:", text=preset.name)
        if ok:
            self.run_preset_action(lambda: rename_user_preset(preset, name))

    def _ask_delete(self, preset: Preset) -> None:
        answer = QMessageBox.question(
            self, "Delete preset", f"Delete the preset {preset.name!r}? Its files are removed from your presets folder."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.run_preset_action(lambda: delete_user_preset(preset))

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import preset", "", "LUTLab preset (*.json)")
        if path:
            self.run_preset_action(lambda: import_preset(Path(path)))

    def run_preset_action(self, action: Callable[[], object]) -> bool:
        """Run a rename / delete / import; a refusal is shown in the panel, success reloads the list."""
        try:
            action()
        except InputError as exc:
            self.status.setText(str(exc))
            return False
        self.reload()
        return True

    def preset(self, stem: str) -> Preset:
        return next(p for p in self.presets if p.stem == stem)

    def item(self, stem: str) -> QListWidgetItem:
        return next(
            self.list.item(i)
            for i in range(self.list.count())
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == stem
        )

    def refresh_thumbnails(self) -> None:
        """Start computing every preset's LUT and thumbnail for the current photo (off the GUI thread)."""
        self._generation += 1
        self.luts = {}
        self._mark_applied()  # a LUT predicted for the previous photo is no preset's look for this one
        for index in range(self.list.count()):  # no thumbnails of the previous photo meanwhile
            self.list.item(index).setIcon(self.list.placeholder())
        photo = self.editor.photo
        if photo is None or not self.presets:
            return
        pixels = photo.pixels
        generation = self._generation
        self._background.submit(
            lambda: (shrink_by_blocks(pixels, PREDICT_SIDE), crop_to_tile(shrink_by_blocks(pixels, THUMB_SIDE))),
            lambda views: self._next_thumbnail(generation, views, 0),
            self._failed,
        )

    def _next_thumbnail(self, generation: int, views: tuple[np.ndarray, np.ndarray], index: int) -> None:
        if generation != self._generation:
            return  # a newer photo or preset list took over
        if index == len(self.presets):
            self.thumbnailsReady.emit()
            return
        preset = self.presets[index]

        def done(result: tuple[LUT3D, np.ndarray]) -> None:
            if generation != self._generation:
                return
            lut, thumb = result
            self.luts[preset.stem] = lut
            self.item(preset.stem).setIcon(thumbnail_icon(to_pixmap(thumb)))
            if self._pending_click == preset.stem:
                self.apply(preset.stem)
            self._next_thumbnail(generation, views, index + 1)

        self._background.submit(lambda: preset_look(preset, *views), done, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"Preset preview failed: {exc}")

    # ------------------------------------------------------------------------------------ actions
    def apply(self, stem: str) -> None:
        """Show the preset on the open photo: its cached LUT goes to the preview (undoable)."""
        lut = self.luts.get(stem)
        if lut is None:  # still being computed: applied as soon as it is ready
            self._pending_click = stem
            self.status.setText(f"Preparing {self.preset(stem).name}…")
            return
        self._pending_click = None
        self.status.setText("")
        self.editor.apply_preset(self.preset(stem).name, stem, lut)
        self.presetApplied.emit(stem)

    def applied_stem(self) -> str | None:
        """The preset the document applies now (None: no preset step, or it is switched off)."""
        document = self.editor.document
        step = None if document is None else document.find("preset")
        return str(step.params["stem"]) if step is not None and step.enabled else None

    def _mark_applied(self) -> None:
        """Keep the highlight on the preset actually shown, also after undo, Clear LUT or a .cube import."""
        stem = self.applied_stem()
        if stem is None or stem not in {p.stem for p in self.presets}:
            self.list.clearSelection()
        else:
            self.list.setCurrentItem(self.item(stem))

    def open_train_dialog(self) -> None:
        from app.train_dialog import TrainDialog

        dialog = TrainDialog(self)
        dialog.trained.connect(lambda _: self.reload())
        dialog.show()
        self.train_dialog = dialog
