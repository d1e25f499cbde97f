"""Histogram of what the preview shows (R, G, B and luminance), drawn with pyqtgraph.

Log scale by default (as in Lightroom and darktable: a few bright pixels still show beside a large dark
area), with the share of clipped highlights and crushed shadows above the curves."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QWidget

BINS = 256
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 weights on the encoded values (luma)
CURVES = (("r", (230, 60, 60)), ("g", (60, 200, 60)), ("b", (70, 110, 240)), ("luma", (220, 220, 220)))


class HistogramView(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.setBackground((30, 30, 30))
        self.hideAxis("left")
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.setXRange(0, BINS - 1, padding=0)
        self.counts: dict[str, np.ndarray] = {}
        self.log_scale = True
        self.clipped = (0.0, 0.0)  # shares of pixels at level 255 in some channel / at level 0 in all channels
        self._curves = {name: self.plot(pen=pg.mkPen(color, width=1)) for name, color in CURVES}

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """A strip, not a square: the panels below it (presets) need the height more."""
        return QSize(300, 160)

    def show_pixels(self, pixels: np.ndarray) -> None:
        """Count 8-bit levels of each channel and of luminance; curves are normalised to the tallest bin."""
        levels = np.clip(pixels * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.intp)
        luma = np.clip(pixels @ LUMA_WEIGHTS * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.intp)
        channels = {"r": levels[..., 0], "g": levels[..., 1], "b": levels[..., 2], "luma": luma}
        self.counts = {name: np.bincount(values.ravel(), minlength=BINS) for name, values in channels.items()}
        top = levels.max(axis=-1)
        self.clipped = (float((top == BINS - 1).mean()), float((top == 0).mean()))
        self.setTitle(
            f"clipped: highlights {self.clipped[0]:.1%} · shadows {self.clipped[1]:.1%}", size="8pt", color="#d0d0d0"
        )
        scale = np.log1p if self.log_scale else np.asarray
        peak = max(float(scale(c.max())) for c in self.counts.values()) or 1.0
        x = np.arange(BINS)
        for name, curve in self._curves.items():
            curve.setData(x, scale(self.counts[name]) / peak)
