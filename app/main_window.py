"""The LUTLab main window, and the plug-in API every GUI piece builds on.

Plug-ins: every module in ``app/tools/`` with ``install(window) -> None`` is called once at start-up
(see :mod:`app.tools`). What a plug-in may use on ``window``:

- ``window.menu(name) -> QMenu``: the menu "File", "Edit", "View", "Image", "Tools", ... (made on demand).
- ``window.document``: the open :class:`engine.document.EditDocument` (source photo + edit steps; None only
  before the first photo opens). The window is a view of it: every change goes through the document.
- ``window.photo``: the photo after the pixel steps (what colour steps grade); ``window.source_photo``: before.
- ``window.replace_photo(photo, description, kind, params)``: add a pixel step (kind "lowlight", "upscale") whose
  result is `photo`; undoable, saved in the sidecar by its `params`.
- ``window.lut``: every colour step composed into one :class:`engine.lut.LUT3D` (look strength included) or None;
  ``window.strength`` (the look's strength), ``window.interpolation``.
- ``window.set_lut(lut_or_None, description, path=None)``: the imported-LUT step; undoable.
- ``window.apply_preset(name, stem, lut)``: the adaptive-preset step with `lut` predicted for ``window.photo``.
- ``window.run_job(title, fn, on_done)``: run ``fn(progress, cancel)`` on a worker thread with a progress
  dialog and Cancel; ``on_done(result)`` runs on the GUI thread; a ``LutLabError`` (or any crash) becomes
  an error dialog and the photo stays as it was; ``Cancelled`` just says so in the status bar.
- ``window.add_dock(widget, title) -> QDockWidget``: a panel on the right, listed in the View menu.
- ``window.show_error(title, text)``: a non-modal warning box; also recorded in ``window.last_error`` and
  sent as ``errorShown(title, text)`` so tests can check it without blocking.
- ``window.on_photos_dropped(handler)``: ``handler(paths)`` takes drops of several photos at once (e.g. an
  exposure bracket to merge) instead of the default of opening the first one.
- Signals: ``photoChanged()`` (other pixels: a new photo or a pixel step), ``lutChanged()``, ``documentChanged()``
  (any edit, undo or redo), ``jobsIdle()`` (no job left running).

One module because it is the one window plug-ins build on: the API above is one class's.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionEvent, QActionGroup, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QWidget

from app.export_dialog import ExportImageDialog, ExportOptions, suggested_path
from app.histogram import HistogramView
from app.imaging import from_qimage
from app.jobs import Job
from app.lut_panel import LutPanel
from app.preview import CPUPreview, GLPreview, Grading, gl_preview_available
from engine.document import EditDocument, EditState, Step, lut_step, preset_step, read_sidecar, sidecar_path
from engine.errors import LutLabError
from engine.gpu.renderer import Layout
from engine.image import Photo, load_photo, sample_photo, save_photo, shrink_by_blocks
from engine.jobs import CancelToken, ProgressFn
from engine.lut import LUT3D, apply_lut
from engine.lut.files import CUBE_SUFFIXES
from engine.lut.sampling import apply_lut_to_values

log = logging.getLogger(__name__)

MENU_ORDER = ("File", "Edit", "View", "Image", "Tools", "Help")
PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp);;All files (*)"
LUT_FILTER = "LUTs (*.cube *.png *.tif *.tiff);;Cube LUT (*.cube);;Hald CLUT (*.png *.tif *.tiff)"
MAX_RECENT = 10
HISTOGRAM_LONG_SIDE = 512
HISTOGRAM_DELAY_MS = 120
DOCK_WIDTH = 320
LAYOUT_KEYS = {  # layout -> (menu text, shortcut)
    Layout.AFTER: ("After only", "A"),
    Layout.SPLIT_VERTICAL: ("Split left/right", "V"),
    Layout.SPLIT_HORIZONTAL: ("Split top/bottom", "H"),
    Layout.SIDE_BY_SIDE: ("Side by side", "Y"),
    Layout.BEFORE: ("Before only", "\\"),
}
TOGGLE_LAYOUTS = (Layout.BEFORE, Layout.SIDE_BY_SIDE)  # pressing their key again returns to the last layout


class MainWindow(QMainWindow):
    photoChanged = Signal()
    lutChanged = Signal()
    documentChanged = Signal()
    errorShown = Signal(str, str)
    jobsIdle = Signal()

    def __init__(
        self, settings: QSettings | None = None, preview: str | None = None, parent: QWidget | None = None
    ) -> None:
        """`preview`: "gpu", "cpu" or None (GPU when Qt offers OpenGL 3.3; env LUTLAB_PREVIEW overrides)."""
        super().__init__(parent)
        self.setWindowTitle("LUTLab")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.document: EditDocument | None = None
        self.photo: Photo | None = None
        self.lut: LUT3D | None = None
        self.interpolation = str(self.settings.value("preview/interpolation", "tetrahedral"))
        self._refresh_job: Job | None = None
        self._refresh_failed: EditState | None = None
        self.last_error: tuple[str, str] | None = None
        self._jobs: list[Job] = []
        self._menus: dict[str, QMenu] = {}
        self._previous_layout = Layout.SPLIT_VERTICAL
        self._photos_dropped_handlers: list[Callable[[list[Path]], None]] = []

        self._build_status_bar()
        self.preview: GLPreview | CPUPreview = self._make_preview(preview or os.environ.get("LUTLAB_PREVIEW"))
        self.lut_panel = LutPanel()
        self.lut_panel.set_interpolation(self.interpolation)
        self.histogram = HistogramView()
        self._docks = [self.add_dock(self.lut_panel, "LUT"), self.add_dock(self.histogram, "Histogram")]
        self._histogram_timer = QTimer(self, singleShot=True, interval=HISTOGRAM_DELAY_MS)
        self._histogram_timer.timeout.connect(self._update_histogram)
        self._build_menus()
        self._connect_panel()
        self._restore_settings()

    # --------------------------------------------------------------------------------- plug-in API
    def menu(self, name: str) -> QMenu:
        """The menu called `name`, created (in the usual order) the first time it is asked for."""
        if name not in self._menus:
            menu = QMenu(name, self)
            later = (
                [self._menus[n] for n in MENU_ORDER[MENU_ORDER.index(name) + 1 :] if n in self._menus]
                if name in MENU_ORDER
                else []
            )
            if later:
                self.menuBar().insertMenu(later[0].menuAction(), menu)
            else:
                self.menuBar().addMenu(menu)
            self._menus[name] = menu
        return self._menus[name]

    def replace_photo(self, photo: Photo, description: str, kind: str, params: dict[str, Any]) -> None:
        """Add a pixel step of `kind` whose result for the current pixels is `photo` (undoable)."""
        document = self._require_document()
        step = Step(kind, description, params)
        step.store(document.pixel_state_id, photo)
        document.add_step(step)

    def set_lut(self, lut: LUT3D | None, description: str, path: Path | None = None) -> None:
        """The imported LUT (None: remove it), as an undoable step; `path` lets the sidecar find it again."""
        self._require_document().set_step("lut", None if lut is None else lut_step(lut, path), description)

    def apply_preset(self, name: str, stem: str, lut: LUT3D) -> None:
        """The adaptive preset `stem`, whose LUT `lut` was predicted for ``window.photo`` (undoable).

        On another photo (or after a pixel step) the document predicts the preset's LUT again."""
        document = self._require_document()
        step = preset_step(name, stem, lut, document.pixel_state_id)
        document.set_step("preset", step, step.label)

    def set_strength(self, strength: float) -> None:
        """The look's strength (imported LUT + preset mixed with the original colours)."""
        if self.document is not None:
            self.document.set_strength(float(strength))

    @property
    def strength(self) -> float:
        return 1.0 if self.document is None else self.document.strength

    @property
    def source_photo(self) -> Photo | None:
        return None if self.document is None else self.document.source

    def _require_document(self) -> EditDocument:
        if self.document is None:
            raise LutLabError("open a photo first")
        return self.document

    def run_job(self, title: str, fn: Callable[[ProgressFn, CancelToken], Any], on_done: Callable[[Any], None]) -> Job:
        """Run `fn(progress, cancel)` off the GUI thread; see the module docstring."""
        job = Job(
            title,
            fn,
            self,
            on_done=on_done,
            on_error=self.show_error,
            on_cancel=lambda: self.statusBar().showMessage(f"{title}: cancelled", 5000),
            on_end=self._job_ended,
        )
        self._jobs.append(job)
        job.start()
        return job

    def add_dock(self, widget: QWidget, title: str, tab_with: str | None = None) -> QDockWidget:
        """A panel on the right; `tab_with`: the title of a panel to share a tabbed place with (that one
        stays in front)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.menu("View").addAction(dock.toggleViewAction())
        neighbour = self.findChild(QDockWidget, f"dock-{tab_with}") if tab_with else None
        if neighbour is not None:
            self.tabifyDockWidget(neighbour, dock)
            neighbour.raise_()
        return dock

    def show_error(self, title: str, text: str) -> None:
        """A non-modal warning (never blocks a caller or a test); the photo stays as it was."""
        log.warning("%s: %s", title, text)
        self.last_error = (title, text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self.errorShown.emit(title, text)

    def on_photos_dropped(self, handler: Callable[[list[Path]], None]) -> None:
        """Call `handler(paths)` when several photos are dropped at once, instead of opening the first."""
        self._photos_dropped_handlers.append(handler)

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return bool(self._jobs)

    # --------------------------------------------------------------------------------- documents
    def open_photo(self, path: str | Path) -> None:
        """Load a photo (and its edit sidecar, if any) on a worker thread; it becomes the document, with its
        own edits only. Asks first when the open photo has unsaved edits."""
        path = Path(path)
        if not self.confirm_discard(f"Open {path.name}"):
            return

        def load(progress: ProgressFn, cancel: CancelToken) -> tuple[Photo, EditState | None, str]:
            photo = load_photo(path)
            sidecar, state, problem = sidecar_path(path), None, ""
            if sidecar.is_file():
                try:
                    state = read_sidecar(sidecar)
                except LutLabError as exc:  # the photo still opens; the user hears why the edits did not
                    problem = str(exc)
            return photo, state, problem

        def opened(result: tuple[Photo, EditState | None, str]) -> None:
            photo, state, problem = result
            self._photo_opened(photo, path, state)
            if problem:
                self.show_error("Edits not restored", problem)

        self.run_job(f"Opening {path.name}", load, opened)

    def open_sample(self) -> None:
        if self.confirm_discard("Open the sample photo"):
            self._photo_opened(sample_photo(), None)

    def _photo_opened(self, photo: Photo, path: Path | None, state: EditState | None = None) -> None:
        """Make `photo` (with `state`'s edits) the document: fit to the window, title, session."""
        self.show_document(EditDocument(photo, path, state or EditState()))
        log.info("opened %s (%d x %d)", path or "the sample photo", photo.pixels.shape[1], photo.pixels.shape[0])
        if path is not None:
            self._remember_recent(path)
            self.settings.setValue("last_dir", str(path.parent))
            self.settings.setValue("session/photo", str(Path(path).resolve()))

    def show_document(self, document: EditDocument) -> None:
        """View `document` from now on (a new photo, or a merge result)."""
        if self.document is not None:
            self.document.listeners.remove(self._document_changed)
        self.document = document
        document.listeners.append(self._document_changed)
        self._refresh_failed = None
        self.preview.state.fit = True  # a new photo opens whole, not at the last one's zoom and pan
        name = document.path.name if document.path else "untitled"
        self.setWindowTitle(f"{name}[*] — LUTLab")
        self._document_changed()

    def open_merged(self, reference: Photo, merged: Photo, description: str, params: dict[str, Any]) -> None:
        """A merge result as a new document: before = the reference exposure, after = the merge (undo shows
        the reference alone)."""
        if not self.confirm_discard(description):
            return
        document = EditDocument(reference, None)
        step = Step("merge", description, params)
        step.store(document.source_id, merged)
        document.add_step(step)
        self.show_document(document)

    def confirm_discard(self, action: str) -> bool:
        """True when it is fine to drop the open document's edits: none unsaved, or the user chose Save
        (and it worked) or Discard. Cancel keeps everything as it is."""
        document = self.document
        if document is None or not document.modified:
            return True
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if document.path is not None:
            buttons |= QMessageBox.StandardButton.Save
        box = QMessageBox(QMessageBox.Icon.Question, action, "The photo has edits that are not saved.", buttons, self)
        box.setObjectName("unsaved-edits")
        box.setInformativeText(
            "Save them beside the photo (they come back when it is opened again)?"
            if document.path
            else "This photo has no file of its own: export it to keep it."
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save if document.path else QMessageBox.StandardButton.Cancel)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save_edits()
        return answer == QMessageBox.StandardButton.Discard

    def save_edits(self) -> bool:
        """Write the edits to the photo's sidecar; False (and a dialog) if that is impossible."""
        document = self.document
        if document is None:
            return False
        try:
            written = document.save_sidecar()
        except (LutLabError, OSError) as exc:
            self.show_error("Save edits", str(exc))
            return False
        self.statusBar().showMessage(f"Edits saved in {written.name}", 5000)
        self.setWindowModified(False)
        return True

    def open_lut(self, path: str | Path) -> None:
        """Import a .cube or Hald CLUT (chosen by suffix) as an undoable step; errors become a dialog."""
        from engine.lut.files import load_lut

        path = Path(path)
        try:
            lut = load_lut(path)
        except LutLabError as exc:
            self.show_error("Cannot import LUT", str(exc))
            return
        if not lut.title:
            lut = lut.with_title(path.stem)
        self.set_lut(lut, f"Load LUT {path.name}", path)
        self.settings.setValue("last_lut_dir", str(path.parent))

    def export_image(
        self,
        path: str | Path,
        bit_depth: int | None = None,
        quality: int = 95,
        on_done: Callable[[Path], None] | None = None,
        *,
        long_side: int = 0,
        profile: str = "working",
    ) -> Job | None:
        """Apply the LUT at full resolution (GPU if possible), optionally shrink so the long side is
        `long_side`, and save atomically (tagged with `profile`), as a job."""
        from engine.gpu.export import apply_lut_fast
        from engine.image import fit_long_side

        if self.photo is None:
            self.show_error("Export image", "There is no photo to export.")
            return None
        path, photo, lut, interpolation = Path(path), self.photo, self.lut, self.interpolation

        def work(progress: ProgressFn, cancel: CancelToken) -> str:
            used = "no LUT"
            pixels = photo.pixels
            if lut is not None:
                pixels, used = apply_lut_fast(photo.pixels, lut, interpolation, 1.0, progress=progress, cancel=cancel)
            cancel.check()
            if long_side:
                pixels = fit_long_side(pixels, long_side)
            save_photo(photo.with_pixels(pixels), path, bit_depth=bit_depth, quality=quality, profile=profile)
            return used

        def done(used: str) -> None:
            self.statusBar().showMessage(f"Exported {path} ({used.upper() if used != 'no LUT' else used})", 8000)
            self.settings.setValue("export/dir", str(path.parent))
            self._edits_exported()
            if on_done:
                on_done(path)

        return self.run_job(f"Exporting {path.name}", work, done)

    def export_lut(self, path: str | Path) -> bool:
        """Write the LUT as shown (strength mixed in) as a .cube file; False (and a dialog) if impossible."""
        from engine.lut.cube import write_cube

        if self.lut is None:
            self.show_error("Export LUT", "There is no LUT to export; import or create one first.")
            return False
        try:
            write_cube(self.lut, Path(path))
        except LutLabError as exc:
            self.show_error("Export LUT", str(exc))
            return False
        self.statusBar().showMessage(f"Exported LUT {path}", 8000)
        return True

    def _edits_exported(self) -> None:
        """Exported work is not lost on quit: keep the edits in the sidecar too (when the photo has a file)."""
        document = self.document
        if document is not None and document.modified:
            if document.path is None or not self.save_edits():
                document.mark_saved()
            self.setWindowModified(False)

    # --------------------------------------------------------------------------------- document -> view
    def _document_changed(self) -> None:
        """Show the document as it is now: pixels, before, composed LUT, compare on/off, undo texts."""
        document = self.document
        if document is None:
            return
        photo, lut = document.photo, document.look_lut()
        if photo is not self.photo:
            self.photo = photo
            self.preview.set_pixels(photo.pixels)
            self.preview.set_before(None if photo is document.source else document.source.pixels)
            height, width = photo.pixels.shape[:2]
            self._size_label.setText(f"{width} × {height} px · {photo.bit_depth}-bit")
            self.photoChanged.emit()
        self.preview.set_compare_enabled(document.edited)
        if lut is not self.lut:
            self.lut = lut
            self.lut_panel.set_lut_title(None if lut is None else lut.title)
            self.lutChanged.emit()
        self.lut_panel.set_strength(document.strength)
        self._push_grading()
        self._undo_action.setEnabled(document.can_undo)
        self._undo_action.setText(f"&Undo {document.undo_text}".rstrip())
        self._redo_action.setEnabled(document.can_redo)
        self._redo_action.setText(f"&Redo {document.redo_text}".rstrip())
        self.setWindowModified(document.modified)
        self.documentChanged.emit()
        self._refresh_stale_steps()

    def _refresh_stale_steps(self) -> None:
        """Recompute steps whose output belongs to other pixels (a preset after an upscale, edits read from a
        sidecar) as one job; a failure is shown once per state, not retried in a loop."""
        document = self.document
        if document is None or self._refresh_job is not None or self._refresh_failed is document.state:
            return
        work = document.refresh_work()
        if work is None:
            return
        state = document.state

        def failed(title: str, text: str) -> None:
            self._refresh_failed = state
            self.show_error(title, text)

        def ended(job: Job) -> None:
            self._refresh_job = None
            self._job_ended(job)
            if document is self.document:
                self._refresh_stale_steps()

        job = Job(
            "Applying edits",
            work,
            self,
            on_done=document.fill,
            on_error=failed,
            on_cancel=lambda: failed("Applying edits", "Cancelled: some edits are not shown."),
            on_end=ended,
        )
        self._refresh_job = job
        self._jobs.append(job)
        job.start()

    def _undo(self) -> None:
        if self.document is not None:
            self.document.undo()

    def _redo(self) -> None:
        if self.document is not None:
            self.document.redo()

    def _push_grading(self) -> None:
        self.preview.set_grading(Grading(self.lut, 1.0, self.interpolation, self._clipping_action.isChecked()))
        self._schedule_histogram()

    def _show_pointer(self, point: tuple[int, int] | None) -> None:
        """The photo pixel under the cursor and its 8-bit RGB after every edit, in the status bar."""
        if point is None or self.photo is None:
            self._pointer_label.setText("")
            return
        column, row = point
        rgb = self.photo.pixels[row, column]
        if self.lut is not None:
            rgb = apply_lut_to_values(self.lut, rgb[None], self.interpolation)[0]
        r, g, b = (int(round(float(v) * 255)) for v in np.clip(rgb, 0.0, 1.0))
        self._pointer_label.setText(f"{column}, {row}  R {r}  G {g}  B {b}")

    def show_shortcuts(self) -> QMessageBox:
        """Help > Keyboard shortcuts: every action that has one, read from the actions themselves."""
        rows = sorted(
            {
                (
                    a.text().replace("&", "").rstrip("…").split("\t")[0],
                    ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts()),
                )
                for a in self.actions()
                if a.shortcuts()
            }
        )
        table = "".join(f"<tr><td>{text}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>" for text, keys in rows)
        box = QMessageBox(
            QMessageBox.Icon.NoIcon,
            "Keyboard shortcuts",
            f"<table>{table}</table>",
            QMessageBox.StandardButton.Close,
            self,
        )
        box.setObjectName("shortcuts")
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        return box

    def set_interpolation(self, name: str) -> None:
        self.interpolation = name
        self.settings.setValue("preview/interpolation", name)
        self._push_grading()

    def set_layout(self, layout: Layout) -> None:
        current = self.preview.state.compare.layout
        if layout == current and layout in TOGGLE_LAYOUTS:
            layout = self._previous_layout
        elif current not in TOGGLE_LAYOUTS:
            self._previous_layout = current
        self.preview.state.set_layout(layout)
        self._layout_actions[layout].setChecked(True)
        self.settings.setValue("preview/layout", int(layout))
        self.preview.update()
        self._schedule_histogram()

    def set_split(self, fraction: float) -> None:
        self.preview.state.move_split(*(fraction * s for s in self.preview.state.target_size))
        self.preview.update()

    def _schedule_histogram(self) -> None:
        self._histogram_timer.start()

    def _update_histogram(self) -> None:
        """Histogram of the displayed result, from a small proxy graded on the CPU."""
        if self.photo is None:
            return
        proxy = shrink_by_blocks(self.photo.pixels, HISTOGRAM_LONG_SIDE)
        if self.lut is not None and self.preview.state.compare.layout != Layout.BEFORE:
            proxy = apply_lut(proxy, self.lut, self.interpolation)
        self.histogram.show_pixels(proxy)

    # --------------------------------------------------------------------------------- building
    def _make_preview(self, choice: str | None) -> GLPreview | CPUPreview:
        use_gl, reason = (False, "CPU preview requested") if choice == "cpu" else gl_preview_available()
        if use_gl:
            gl_preview = GLPreview(self)
            log.info("preview: OpenGL")
            gl_preview.glFailed.connect(lambda why: QTimer.singleShot(0, lambda: self._fall_back_to_cpu(why)))
            preview: GLPreview | CPUPreview = gl_preview
        else:
            preview = CPUPreview(self)
            self._set_fallback_message(reason)
        preview.frameRendered.connect(self._frame_rendered)
        preview.viewChanged.connect(self._update_zoom_label)
        preview.pointerMoved.connect(self._show_pointer)
        self.setCentralWidget(preview)
        return preview

    def _fall_back_to_cpu(self, reason: str) -> None:
        old = self.preview
        state = old.state
        self.preview = self._make_preview("cpu")
        self.preview.state.compare = state.compare
        self._set_fallback_message(reason)
        if self.document is not None and self.photo is not None:
            self.preview.set_pixels(self.photo.pixels)
            self.preview.set_before(None if self.photo is self.document.source else self.document.source.pixels)
            self.preview.set_compare_enabled(self.document.edited)
        self._push_grading()
        old.deleteLater()

    def _set_fallback_message(self, reason: str) -> None:
        log.warning("OpenGL 3.3 unavailable (%s); preview on the CPU", reason)
        self._gl_label.setText("CPU preview (no OpenGL 3.3)")
        self._gl_label.setToolTip(reason)
        self.statusBar().showMessage(f"OpenGL 3.3 unavailable ({reason}); preview on the CPU at screen size", 15000)

    def _build_status_bar(self) -> None:
        self._size_label, self._zoom_label = QLabel("no photo"), QLabel("")
        self._frame_label, self._gl_label = QLabel(""), QLabel("GPU preview")
        self._pointer_label = QLabel("")
        for label in (self._pointer_label, self._size_label, self._zoom_label, self._frame_label, self._gl_label):
            label.setContentsMargins(8, 0, 8, 0)  # apart enough to read as separate facts
            self.statusBar().addPermanentWidget(label)

    def _frame_rendered(self, milliseconds: float) -> None:
        self._frame_label.setText(f"frame {milliseconds:.1f} ms")
        self._update_zoom_label()

    def _update_zoom_label(self) -> None:
        state = self.preview.state
        self._zoom_label.setText(f"{state.view().scale * 100:.0f}%")

    def _action(
        self,
        menu: str,
        text: str,
        slot: Callable[[], Any],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda checked=False: slot())
        self.menu(menu).addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        for name in MENU_ORDER[:-1]:
            self.menu(name)
        self.menu("Help").addAction("&Keyboard Shortcuts", self.show_shortcuts)
        self._action("File", "&Open…", self._ask_open_photo, QKeySequence.StandardKey.Open)
        self._recent_menu = self.menu("File").addMenu("Open &Recent")
        self._action("File", "Open &Sample Photo", self.open_sample)
        self._action("File", "Import &LUT…", self._ask_open_lut, "Ctrl+L")
        self.menu("File").addSeparator()
        self._action("File", "&Save Edits", self.save_edits, QKeySequence.StandardKey.Save)
        export = self._action("File", "&Export Image…", self._ask_export_image, "Ctrl+Shift+E")
        export.setShortcuts([QKeySequence("Ctrl+Shift+E"), QKeySequence("Ctrl+E")])
        self._action("File", "Export LUT as .&cube…", self.ask_export_lut, "Ctrl+Alt+E")
        self._quit_separator = self.menu("File").addSeparator()
        self._quit_action = self._action("File", "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.menu("File").installEventFilter(self)  # plug-ins' File entries go above Quit

        self._undo_action = self._action("Edit", "&Undo", self._undo, QKeySequence.StandardKey.Undo)
        self._redo_action = self._action("Edit", "&Redo", self._redo, QKeySequence.StandardKey.Redo)
        self._redo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")])
        for action in (self._undo_action, self._redo_action):
            action.setEnabled(False)
        self.menu("Edit").addSeparator()
        self._action("Edit", "&Clear LUT", lambda: self.set_lut(None, "Clear LUT"), "Ctrl+Shift+L")

        view = self.menu("View")
        self._action("View", "&Fit", self._fit, "F")
        self._action("View", "&100%", lambda: self._zoom_to(1.0), "1")
        self._action("View", "Zoom &In", lambda: self._zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._action("View", "Zoom &Out", lambda: self._zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        view.addSeparator()
        group = QActionGroup(self)
        self._layout_actions: dict[Layout, QAction] = {}
        for layout, (text, key) in LAYOUT_KEYS.items():
            action = self._action("View", text, functools.partial(self.set_layout, layout), key)
            action.setCheckable(True)
            group.addAction(action)
            self._layout_actions[layout] = action
        view.addSeparator()
        self._clipping_action = self._action("View", "Show &Clipping", self._push_grading, "J")
        self._clipping_action.setCheckable(True)
        self._clipping_action.setToolTip("Mark clipped highlights red and crushed shadows blue")
        view.addSeparator()
        for dock in self._docks:  # the panels, with the plug-ins' ones that follow, as the View menu's last group
            view.removeAction(dock.toggleViewAction())
            view.addAction(dock.toggleViewAction())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if (
            watched is self.menu("File")
            and isinstance(event, QActionEvent)
            and event.type() == QEvent.Type.ActionAdded
            and event.action() not in (self._quit_separator, self._quit_action)
        ):
            for action in (self._quit_separator, self._quit_action):
                watched.removeAction(action)
                watched.addAction(action)
        return super().eventFilter(watched, event)

    def _connect_panel(self) -> None:
        self.lut_panel.importRequested.connect(self._ask_open_lut)
        self.lut_panel.clearRequested.connect(lambda: self.set_lut(None, "Clear LUT"))
        self.lut_panel.strengthChanged.connect(self.set_strength)
        self.lut_panel.interpolationChanged.connect(self.set_interpolation)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:  # first start: a slim panel column, the photo gets the room (after the first layout pass)
            QTimer.singleShot(0, lambda: self.resizeDocks(self._docks, [DOCK_WIDTH] * 2, Qt.Orientation.Horizontal))
        try:
            layout = Layout(self._int_setting("preview/layout", int(Layout.SPLIT_VERTICAL)))
        except ValueError:
            layout = Layout.SPLIT_VERTICAL
        self.preview.state.set_layout(layout)
        self._layout_actions[layout].setChecked(True)
        self._rebuild_recent_menu()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if not self.confirm_discard("Quit LUTLab"):
            event.ignore()
            return
        for job in list(self._jobs):
            job.token.cancel()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        super().closeEvent(event)

    # --------------------------------------------------------------------------------- view actions
    def _fit(self) -> None:
        self.preview.state.fit = True
        self._view_changed()

    def _zoom_to(self, scale: float) -> None:
        self.preview.state.set_scale(scale)
        self._view_changed()

    def _zoom_by(self, factor: float) -> None:
        self.preview.state.zoom(factor)
        self._view_changed()

    def _view_changed(self) -> None:
        self._update_zoom_label()
        self.preview.update()

    # --------------------------------------------------------------------------------- files
    def _start_dir(self, key: str) -> str:
        return str(self.settings.value(key, str(Path.home())))

    def _ask_open_photo(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open photo", self._start_dir("last_dir"), PHOTO_FILTER)
        if name:
            self.open_photo(name)

    def _ask_open_lut(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import LUT", self._start_dir("last_lut_dir"), LUT_FILTER)
        if name:
            self.open_lut(name)

    def _ask_export_image(self) -> None:
        if self.photo is None:
            return
        dialog = self.export_dialog()
        if dialog.exec():
            self._export_with(dialog.options())

    def export_dialog(self) -> ExportImageDialog:
        """The export dialog, filled with the remembered settings: the photo's own folder (else the last
        export folder), the name template, the last format, bit depth, quality and size."""
        photo = self.photo
        assert photo is not None, "File > Export needs an open photo"
        source = self.document.path if self.document is not None else None
        folder = source.parent if source is not None else Path(self._start_dir("export/dir"))
        suffix = str(self.settings.value("export/suffix", ".jpg"))
        dialog = ExportImageDialog(
            suggested_path(folder, source.stem if source else None, suffix),
            self._int_setting("export/bit_depth", photo.bit_depth),
            self._int_setting("export/quality", 95),
            self,
            long_side=self._int_setting("export/long_side", 0),
            has_source_profile=photo.source_icc is not None,
        )
        dialog.setObjectName("export-dialog")
        return dialog

    def _export_with(self, options: ExportOptions) -> None:
        for key, value in (
            ("suffix", options.path.suffix.lower()),
            ("bit_depth", options.bit_depth),
            ("quality", options.quality),
            ("long_side", options.long_side),
        ):
            self.settings.setValue(f"export/{key}", value)
        self.export_image(
            options.path, options.bit_depth, options.quality, long_side=options.long_side, profile=options.profile
        )

    def ask_export_lut(self) -> None:
        """Ask where to write this photo's look as a .cube (default: beside the photo, named after it)."""
        if self.lut is None:
            self.show_error("Export LUT", "There is no LUT to export; import or create one first.")
            return
        source = self.document.path if self.document is not None else None
        folder = source.parent if source is not None else Path(self._start_dir("export/dir"))
        default = folder / f"{source.stem if source else 'look'}.cube"
        name, _ = QFileDialog.getSaveFileName(self, "Export LUT", str(default), "Cube LUT (*.cube)")
        if name:
            self.export_lut(name if name.lower().endswith(".cube") else name + ".cube")

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent() if p != str(path.resolve())]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else [str(item) for item in value] if isinstance(value, list) else []

    def _int_setting(self, key: str, default: int) -> int:
        """A remembered number (an INI file gives it back as text); `default` when missing or garbled."""
        try:
            return int(str(self.settings.value(key, default)))
        except ValueError:
            return default

    def _rebuild_recent_menu(self) -> None:
        self._recent_menu.clear()
        for name in self._recent():
            action = self._recent_menu.addAction(name)
            action.triggered.connect(lambda checked=False, n=name: self.open_photo(n))
        self._recent_menu.setEnabled(bool(self._recent()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """Dropped .cube files load as the LUT; other files open as the photo, or go to the handlers of
        several photos dropped at once (`on_photos_dropped`)."""
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        for path in paths:
            if path.suffix.lower() in CUBE_SUFFIXES:
                self.open_lut(path)
        photos = [p for p in paths if p.suffix.lower() not in CUBE_SUFFIXES]
        if len(photos) > 1 and self._photos_dropped_handlers:
            for handler in self._photos_dropped_handlers:
                handler(photos)
        elif photos:
            self.open_photo(photos[0])
        event.acceptProposedAction()

    def _job_ended(self, job: Job) -> None:
        self._jobs.remove(job)
        if not self._jobs:
            self.jobsIdle.emit()


def rendered_pixels(window: MainWindow) -> np.ndarray:
    """What the preview shows right now, as float32 H x W x 3 (for tests and screenshots)."""
    preview = window.preview
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage, QPainter, QRegion

    if isinstance(preview, GLPreview):
        image = preview.grabFramebuffer()
    else:  # the widget alone, without the Before/After labels over it
        image = QImage(preview.size() * preview.devicePixelRatioF(), QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(preview.devicePixelRatioF())
        painter = QPainter(image)
        preview.render(painter, QPoint(), QRegion(), QWidget.RenderFlag.DrawWindowBackground)
        painter.end()

    return from_qimage(image)
