"""numpy pixels <-> Qt images: the one place the app turns engine pixels (float32 H x W x 3 in [0, 1]) into
QImages and pixmaps, and reads rendered QImages back."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(pixels: np.ndarray) -> QImage:
    """8-bit RGB QImage that owns a copy of the rounded pixels (so it may outlive `pixels`)."""
    data = np.ascontiguousarray((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    height, width = data.shape[:2]
    return QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def to_pixmap(pixels: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(pixels))


def from_qimage(image: QImage) -> np.ndarray:
    """Float32 H x W x 3 in [0, 1] from any QImage (converted to 8-bit RGB; row padding dropped)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * height)
    return data.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3) / np.float32(255.0)
