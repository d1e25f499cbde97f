"""The photo preview: zoom around the cursor, fit, 100%, pan, a draggable before/after split.

Two widgets share the interaction (:class:`PreviewInteraction`) and the view model
(:class:`ViewState`): :class:`GLPreview` draws with `engine.gpu.LutRenderer` inside the
QOpenGLWidget's context; :class:`CPUPreview` is the fallback without OpenGL 3.3 and draws a
screen-sized proxy graded by `engine.lut.apply_lut` with QPainter. View coordinates are device pixels.

One module because the GL and CPU previews share one interaction and one view model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, SignalInstance
from PySide6.QtGui import QColor, QImage, QMouseEvent, QOpenGLContext, QPainter, QPen, QWheelEvent
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QLabel, QWidget

from app.imaging import to_qimage
from engine.color import mark_clipping
from engine.gpu.renderer import Compare, Layout, LutRenderer, View
from engine.image import shrink_by_blocks
from engine.lut import LUT3D, apply_lut

log = logging.getLogger(__name__)

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 1.0 / 64.0, 64.0
SPLIT_GRAB_PX = 8.0
DIVIDER_PX = 2.0
BACKGROUND = (0.16, 0.16, 0.16, 1.0)
PROXY_LONG_SIDE = 2048
LABEL_MARGIN = 8
LABEL_STYLE = "QLabel { color: white; background: rgba(0, 0, 0, 150); padding: 2px 6px; border-radius: 3px; }"


@dataclass
class Grading:
    """What the preview shows: the LUT (or None), strength and interpolation."""

    lut: LUT3D | None = None
    strength: float = 1.0
    interpolation: str = "tetrahedral"
    clip_warning: bool = False  # mark clipped highlights and crushed shadows on the "after" side


class ViewState:
    """Zoom, pan and before/after layout of a preview; pure arithmetic in device pixels."""

    def __init__(self) -> None:
        self.image_size = (0, 0)
        self.target_size = (1, 1)
        self.scale = 1.0
        self.offset = (0.0, 0.0)
        self.fit = True
        self.compare = Compare(divider_width=DIVIDER_PX, background=BACKGROUND)
        self.compare_enabled = True  # False while there is no edit: nothing to compare, no split line

    @property
    def shown(self) -> Compare:
        """The layout drawn now: the chosen one, or the photo alone while there is no edit."""
        return self.compare if self.compare_enabled else replace(self.compare, layout=Layout.AFTER)

    @property
    def pane_size(self) -> tuple[float, float]:
        width, height = self.target_size
        return (width / 2.0, float(height)) if self.shown.layout == Layout.SIDE_BY_SIDE else (float(width), height)

    def view(self) -> View:
        if self.fit:
            self.fit_to_pane()
        return View(self.scale, self.offset)

    def fit_to_pane(self) -> None:
        pane_w, pane_h = self.pane_size
        img_w, img_h = self.image_size
        if img_w and img_h:
            self.scale = min(pane_w / img_w, pane_h / img_h)
            self.offset = ((pane_w - img_w * self.scale) / 2.0, (pane_h - img_h * self.scale) / 2.0)

    def pane_point(self, x: float, y: float) -> tuple[float, float]:
        """A target point in the coordinates of the pane under it (side by side has two panes)."""
        pane_w, _ = self.pane_size
        return (x - pane_w if self.shown.layout == Layout.SIDE_BY_SIDE and x >= pane_w else x), y

    def zoom(self, factor: float, around: tuple[float, float] | None = None) -> None:
        """Multiply the scale, keeping the photo point under `around` (default: pane centre) in place."""
        self.view()
        pane_w, pane_h = self.pane_size
        cx, cy = self.pane_point(*around) if around else (pane_w / 2.0, pane_h / 2.0)
        self.set_scale(self.scale * factor, (cx, cy))

    def set_scale(self, scale: float, around: tuple[float, float] | None = None) -> None:
        self.view()
        pane_w, pane_h = self.pane_size
        cx, cy = around or (pane_w / 2.0, pane_h / 2.0)
        new = min(max(scale, MIN_SCALE), MAX_SCALE)
        ratio = new / self.scale
        self.offset = (cx - (cx - self.offset[0]) * ratio, cy - (cy - self.offset[1]) * ratio)
        self.scale = new
        self.fit = False

    def pan(self, dx: float, dy: float) -> None:
        self.view()
        self.offset = (self.offset[0] + dx, self.offset[1] + dy)
        self.fit = False

    def split_distance(self, x: float, y: float) -> float | None:
        """Distance of a target point from the draggable split line, None when there is none."""
        width, height = self.target_size
        if self.shown.layout == Layout.SPLIT_VERTICAL:
            return abs(x - self.compare.split * width)
        if self.shown.layout == Layout.SPLIT_HORIZONTAL:
            return abs(y - self.compare.split * height)
        return None

    def move_split(self, x: float, y: float) -> None:
        width, height = self.target_size
        fraction = x / width if self.compare.layout == Layout.SPLIT_VERTICAL else y / height
        self.compare = replace(self.compare, split=min(max(fraction, 0.0), 1.0))

    def set_layout(self, layout: Layout) -> None:
        self.compare = replace(self.compare, layout=layout)


class PreviewInteraction:
    """Mouse handling shared by both preview widgets (a mixin for a QWidget subclass)."""

    state: ViewState
    grading: Grading
    viewChanged: SignalInstance  # the widget class's Signal, as an instance sees it
    pointerMoved: SignalInstance  # (image x, image y) under the cursor, or None off the photo

    def _init_interaction(self) -> None:
        """The state both widgets start with; call from `__init__` after the QWidget is constructed."""
        self.state = ViewState()
        self.grading = Grading()
        self.setMouseTracking(True)  # type: ignore[attr-defined]
        self.setMinimumSize(200, 150)  # type: ignore[attr-defined]
        self.labels = {name: QLabel(name, self) for name in ("Before", "After")}  # type: ignore[call-overload]
        for label in self.labels.values():
            label.setObjectName(f"label-{label.text().lower()}")
            label.setStyleSheet(LABEL_STYLE)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.adjustSize()
            label.hide()

    def set_compare_enabled(self, enabled: bool) -> None:
        """Compare only when there is an edit; without one the photo shows alone, unlabelled."""
        if enabled != self.state.compare_enabled:
            self.state.compare_enabled = enabled
            self.viewChanged.emit()
            self.update()  # type: ignore[attr-defined]

    def place_labels(self) -> None:
        """ "Before" and "After" in the corner of their part of every compare layout."""
        layout = self.state.shown.layout
        width, height = self.width(), self.height()  # type: ignore[attr-defined]
        before, after = self.labels["Before"], self.labels["After"]
        m = LABEL_MARGIN
        places = (
            {  # label -> top-left corner (logical pixels), per layout
                Layout.AFTER: {after: (m, m)},
                Layout.BEFORE: {before: (m, m)},
                Layout.SPLIT_VERTICAL: {before: (m, m), after: (width - after.width() - m, m)},
                Layout.SPLIT_HORIZONTAL: {before: (m, m), after: (m, height - after.height() - m)},
                Layout.SIDE_BY_SIDE: {before: (m, m), after: (width // 2 + m, m)},
            }[layout]
            if self.state.compare_enabled
            else {}
        )
        for label in (before, after):
            if label in places:
                label.move(*places[label])
                label.show()
            else:
                label.hide()

    def _device(self, point: QPointF) -> tuple[float, float]:
        ratio = self.devicePixelRatioF()  # type: ignore[attr-defined]
        return point.x() * ratio, point.y() * ratio

    def _begin_drag(self, event: QMouseEvent) -> None:
        x, y = self._device(event.position())
        distance = self.state.split_distance(x, y)
        self._drag: str | None = "split" if distance is not None and distance <= SPLIT_GRAB_PX else "pan"
        self._last = (x, y)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin_drag(event)

    def image_point(self, x: float, y: float) -> tuple[int, int] | None:
        """The photo pixel under a target point (device pixels), None off the photo."""
        view = self.state.view()
        pane_x, pane_y = self.state.pane_point(x, y)
        column, row = int((pane_x - view.offset[0]) // view.scale), int((pane_y - view.offset[1]) // view.scale)
        width, height = self.state.image_size
        return (column, row) if 0 <= column < width and 0 <= row < height else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x, y = self._device(event.position())
        self.pointerMoved.emit(self.image_point(x, y))
        drag = getattr(self, "_drag", None)
        if drag == "split":
            self.state.move_split(x, y)
        elif drag == "pan":
            self.state.pan(x - self._last[0], y - self._last[1])
        else:
            distance = self.state.split_distance(x, y)
            near = distance is not None and distance <= SPLIT_GRAB_PX
            vertical = self.state.compare.layout == Layout.SPLIT_VERTICAL
            cursor = (
                (Qt.CursorShape.SplitHCursor if vertical else Qt.CursorShape.SplitVCursor)
                if near
                else Qt.CursorShape.OpenHandCursor
            )
            self.setCursor(cursor)  # type: ignore[attr-defined]
            return
        self._last = (x, y)
        self.viewChanged.emit()
        self.update()  # type: ignore[attr-defined]

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.state.zoom(ZOOM_STEP**steps, self._device(event.position()))
            self.viewChanged.emit()
            self.update()  # type: ignore[attr-defined]

    def _sync_target(self) -> None:
        ratio = self.devicePixelRatioF()  # type: ignore[attr-defined]
        self.state.target_size = (max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))  # type: ignore[attr-defined]
        self.place_labels()


class GLPreview(PreviewInteraction, QOpenGLWidget):
    """The real-time preview: one LUT pass per frame in the widget's GL 3.3 core context."""

    frameRendered = Signal(float)  # milliseconds of the LUT pass
    glFailed = Signal(str)
    viewChanged = Signal()
    pointerMoved = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._init_interaction()
        self._pixels: np.ndarray | None = None
        self._before_pixels: np.ndarray | None = None
        self._photo_dirty = self._lut_dirty = self._before_dirty = False
        self._renderer: LutRenderer | None = None
        self.failure: str | None = None
        self.renderer_name = ""

    def set_pixels(self, pixels: np.ndarray) -> None:
        self._pixels = pixels
        self.state.image_size = (pixels.shape[1], pixels.shape[0])
        self._photo_dirty = True
        self.update()

    def set_before(self, pixels: np.ndarray | None) -> None:
        """The original to show as "before" when it is not the photo itself (after pixel edits)."""
        if pixels is not self._before_pixels:
            self._before_pixels = pixels
            self._before_dirty = True
            self.update()

    def set_grading(self, grading: Grading) -> None:
        self._lut_dirty = self._lut_dirty or grading.lut is not self.grading.lut
        self.grading = grading
        self.update()

    def initializeGL(self) -> None:  # noqa: N802
        try:
            self._renderer = LutRenderer()
            from OpenGL import GL

            self.renderer_name = GL.glGetString(GL.GL_RENDERER).decode(errors="replace")
        except Exception as exc:  # GLUnavailable or any driver failure must end in the CPU fallback
            self.failure = str(exc)
            log.warning("GL preview unavailable: %s", exc)
            self.glFailed.emit(self.failure)
            return
        self._photo_dirty = self._lut_dirty = self._before_dirty = True
        self.context().aboutToBeDestroyed.connect(self._release)

    def _release(self) -> None:
        if self._renderer is not None:
            self.makeCurrent()
            self._renderer.release()
            self._renderer = None
            self.doneCurrent()

    def resizeGL(self, width: int, height: int) -> None:  # noqa: N802
        self._sync_target()

    def paintGL(self) -> None:  # noqa: N802
        from OpenGL import GL

        renderer = self._renderer
        if renderer is None:
            GL.glClearColor(*BACKGROUND)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT)
            return
        self._sync_target()
        start = time.perf_counter()
        try:
            if self._photo_dirty and self._pixels is not None:
                renderer.set_photo(self._pixels)
                self._photo_dirty = False
            if self._lut_dirty:
                renderer.set_lut(self.grading.lut)
                self._lut_dirty = False
            if self._before_dirty:
                renderer.set_before(self._before_pixels)
                self._before_dirty = False
            renderer.interpolation = self.grading.interpolation
            renderer.strength = self.grading.strength
            renderer.clip_warning = self.grading.clip_warning
            renderer.draw(self.state.target_size, self.state.view(), self.state.shown, reuse_graded=True)
            GL.glFinish()
        except Exception as exc:  # a driver error mid-frame (e.g. out of memory): fall back, never crash
            log.exception("GL preview failed")
            self._renderer = None
            self.failure = f"{type(exc).__name__}: {exc}"
            self.glFailed.emit(self.failure)
            return
        self.frameRendered.emit((time.perf_counter() - start) * 1000.0)


class CPUPreview(PreviewInteraction, QWidget):
    """Fallback preview without OpenGL 3.3: a screen-sized proxy graded on the CPU, drawn with QPainter."""

    frameRendered = Signal(float)
    viewChanged = Signal()
    pointerMoved = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._init_interaction()
        self._proxy: np.ndarray | None = None
        self._before: QImage | None = None
        self._original: QImage | None = None  # set_before's image; None: the photo itself
        self._after: QImage | None = None
        self.setAutoFillBackground(False)

    def set_before(self, pixels: np.ndarray | None) -> None:
        """The original to show as "before" (any size: drawn over the photo's rectangle)."""
        self._original = None if pixels is None else to_qimage(shrink_by_blocks(pixels, PROXY_LONG_SIDE))
        self.update()

    def set_pixels(self, pixels: np.ndarray) -> None:
        height, width = pixels.shape[:2]
        self._proxy = shrink_by_blocks(pixels, PROXY_LONG_SIDE)
        self.state.image_size = (width, height)
        self._before = to_qimage(self._proxy)
        self._after = None
        self.update()

    def set_grading(self, grading: Grading) -> None:
        self.grading = grading
        self._after = None
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802
        start = time.perf_counter()
        self._sync_target()
        painter = QPainter(self)
        ratio = self.devicePixelRatioF()
        painter.scale(1.0 / ratio, 1.0 / ratio)
        width, height = self.state.target_size
        painter.fillRect(QRectF(0, 0, width, height), QColor.fromRgbF(*BACKGROUND))
        if self._proxy is not None and self._before is not None:
            if self._after is None:
                graded = (
                    self._proxy
                    if self.grading.lut is None
                    else apply_lut(self._proxy, self.grading.lut, self.grading.interpolation, self.grading.strength)
                )
                self._after = to_qimage(mark_clipping(graded) if self.grading.clip_warning else graded)
            self._paint_layout(painter, width, height, self._original or self._before, self._after)
        painter.end()
        self.frameRendered.emit((time.perf_counter() - start) * 1000.0)

    def _paint_layout(self, painter: QPainter, width: int, height: int, before: QImage, after: QImage) -> None:
        state, compare = self.state, self.state.shown
        split_x, split_y = compare.split * width, compare.split * height
        regions = {  # (clip rect, pane x origin, image) for each part of the layout
            Layout.AFTER: [(QRectF(0, 0, width, height), 0.0, after)],
            Layout.BEFORE: [(QRectF(0, 0, width, height), 0.0, before)],
            Layout.SPLIT_VERTICAL: [
                (QRectF(0, 0, split_x, height), 0.0, before),
                (QRectF(split_x, 0, width - split_x, height), 0.0, after),
            ],
            Layout.SPLIT_HORIZONTAL: [
                (QRectF(0, 0, width, split_y), 0.0, before),
                (QRectF(0, split_y, width, height - split_y), 0.0, after),
            ],
            Layout.SIDE_BY_SIDE: [
                (QRectF(0, 0, width / 2, height), 0.0, before),
                (QRectF(width / 2, 0, width / 2, height), width / 2, after),
            ],
        }[compare.layout]
        view = state.view()
        img_w, img_h = state.image_size
        smooth = view.scale < 1.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        for clip, pane_x, image in regions:
            painter.save()
            painter.setClipRect(clip)
            target = QRectF(pane_x + view.offset[0], view.offset[1], img_w * view.scale, img_h * view.scale)
            painter.drawImage(target, image)
            painter.restore()
        divider = {
            Layout.SPLIT_VERTICAL: ((split_x, 0), (split_x, height)),
            Layout.SPLIT_HORIZONTAL: ((0, split_y), (width, split_y)),
            Layout.SIDE_BY_SIDE: ((width / 2, 0), (width / 2, height)),
        }.get(compare.layout)
        if divider:
            painter.setPen(QPen(QColor.fromRgbF(*compare.divider_color), compare.divider_width))
            painter.drawLine(QPointF(*divider[0]), QPointF(*divider[1]))


def gl_preview_available() -> tuple[bool, str]:
    """Whether Qt can make an OpenGL 3.3 core context here; (False, reason) otherwise."""
    context = QOpenGLContext()
    if not context.create():
        return False, "no OpenGL context could be created"
    version = context.format().version()
    if version < (3, 3):
        return False, f"OpenGL {version[0]}.{version[1]} is below 3.3"
    return True, ""
