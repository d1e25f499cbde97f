"""pytest-qt set-up for the editor: OpenGL 3.3 core as Qt's default format before the QApplication,
xcb under Xvfb (the offscreen platform only gives a compatibility profile), settings in a temp file.
With LUTLAB_REQUIRE_GL=1 (CI) a window without a GL preview fails instead of skipping."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

# Under Xvfb (./dev.sh test starts it) xcb gives a GL 4.5 core context; without a display the offscreen
# platform at least lets the CPU-preview tests run (GL tests then skip, or fail with LUTLAB_REQUIRE_GL=1).
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

import app  # noqa: E402,F401  (the PySide6 refcount guard, before any Qt call)
from app.main import configure_opengl  # noqa: E402
from engine.image import Photo, save_photo  # noqa: E402
from engine.lut import LUT3D, identity_table  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    configure_opengl()


def gl_missing(reason: str) -> None:
    if os.environ.get("LUTLAB_REQUIRE_GL") == "1":
        pytest.fail(f"OpenGL 3.3 is required (LUTLAB_REQUIRE_GL=1) but the preview has none: {reason}")
    pytest.skip(f"no OpenGL 3.3 preview: {reason}")


@pytest.fixture
def settings(tmp_path: Path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings) -> Iterator:
    """Factory for a shown main window of a fixed size; `preview` is "gpu" (GL required) or "cpu"."""
    from app.main_window import MainWindow
    from app.preview import GLPreview

    def make(preview: str = "gpu") -> MainWindow:
        window = MainWindow(settings=settings, preview=preview)
        # closing at teardown must not stop at the "unsaved edits" question (tests that want it ask for it)
        qtbot.addWidget(window, before_close_func=lambda w: w.document is not None and w.document.mark_saved())
        window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        if preview == "gpu":
            if not isinstance(window.preview, GLPreview):
                gl_missing(window._gl_label.toolTip() or "Qt offers no OpenGL 3.3 context")
            window.preview.grabFramebuffer()  # forces initializeGL
            if window.preview.failure:
                gl_missing(window.preview.failure)
        return window

    yield make


@pytest.fixture(scope="session")
def test_photo_pixels() -> np.ndarray:
    """An 8-bit-exact 120 x 160 photo: gradients and noise (values k/255)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:120, 0:160].astype(np.float32)
    base = np.stack([x / 159.0, y / 119.0, 0.5 + 0.5 * np.cos(x / 11.0 - y / 7.0)], axis=-1)
    noisy = np.clip(base + rng.normal(0.0, 0.06, base.shape), 0.0, 1.0)
    return (np.round(noisy * 255.0) / 255.0).astype(np.float32)


@pytest.fixture
def photo_file(tmp_path: Path, test_photo_pixels: np.ndarray) -> Path:
    path = tmp_path / "photo.png"
    save_photo(Photo(test_photo_pixels), path)
    return path


@pytest.fixture(scope="session")
def curved_lut() -> LUT3D:
    """A LUT far from the identity so before and after differ everywhere."""
    unit = identity_table(17)
    r, g, b = unit[..., 0], unit[..., 1], unit[..., 2]
    table = np.stack([1.0 - r**1.5, 0.5 + 0.4 * np.sin(4.0 * g + b), 0.2 + 0.6 * r * b], axis=-1)
    return LUT3D(table.astype(np.float32), title="curved")
