"""Starts the editor: OpenGL 3.3 core as Qt's default surface format, the window, its plug-ins, the photo."""

from __future__ import annotations

import sys

import engine.gpu  # noqa: F401  (picks the PyOpenGL platform before anything imports OpenGL)


def configure_opengl() -> None:
    """Ask Qt for an OpenGL 3.3+ core context everywhere; must run before the QApplication exists."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QSurfaceFormat

    surface = QSurfaceFormat()
    surface.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
    surface.setVersion(3, 3)
    surface.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    surface.setSwapInterval(0)
    QSurfaceFormat.setDefaultFormat(surface)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def create_application(argv: list[str] | None = None):  # -> QApplication
    """The QApplication with LUTLab's names (QSettings location) and GL format; reuses an existing one."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from engine.locations import icon_path

    app = QApplication.instance()
    if app is None:
        configure_opengl()
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("LUTLab")
    app.setApplicationName("LUTLab")
    QApplication.setDesktopFileName("lutlab")  # Wayland and taskbars match the window with lutlab.desktop
    QApplication.setWindowIcon(QIcon(str(icon_path())))
    return app


def build_window(path: str | None = None, **window_options):  # -> MainWindow
    """The main window with its plug-ins, showing `path` (opened as a job), else the photo of the last
    session (with its saved edits), else the bundled sample photo."""
    from pathlib import Path

    from app.main_window import MainWindow
    from app.tools import install_tools

    window = MainWindow(**window_options)
    install_tools(window)
    last = window.settings.value("session/photo")
    if path is None and last and Path(str(last)).is_file():
        path = str(last)
    if path is None:
        window.open_sample()
    else:
        window.open_photo(path)
    return window


def run_editor(path: str | None = None) -> int:
    """Open the editor (blocking) and return the exit status. $LUTLAB_QUIT_AFTER=SECONDS closes it that long after
    it shows (the packaging smoke test opens a photo and checks the log)."""
    import os

    from PySide6.QtCore import QTimer

    from app.background import finish_background_work

    app = create_application()
    window = build_window(path)
    window.show()
    if os.environ.get("LUTLAB_QUIT_AFTER"):
        QTimer.singleShot(int(1000 * float(os.environ["LUTLAB_QUIT_AFTER"])), window.close)
    status = int(app.exec())
    finish_background_work()
    return status
