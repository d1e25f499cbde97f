"""Drive the editor like a person: open, drop a .cube, drag the split, undo, export, and bad input."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from engine.errors import InputError
from engine.gpu.renderer import Layout
from engine.image import load_photo
from engine.lut import apply_lut
from engine.lut.cube import read_cube, write_cube

JOB_TIMEOUT_MS = 30_000


def open_and_wait(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window.open_photo(path)


def drop(window, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)


def test_open_drop_split_undo_export(qtbot, make_window, photo_file, test_photo_pixels, curved_lut, tmp_path):
    window = make_window("gpu")
    open_and_wait(qtbot, window, photo_file)
    assert np.array_equal(window.photo.pixels, test_photo_pixels)
    assert str(photo_file.resolve()) in window._recent()

    cube = tmp_path / "look.cube"
    write_cube(curved_lut, cube)
    drop(window, cube)
    assert window.lut is not None and np.allclose(window.lut.table, curved_lut.table, atol=1e-6)

    # Drag the split line from the middle to a quarter of the width.
    window.set_layout(Layout.SPLIT_VERTICAL)
    window.set_split(0.5)
    preview = window.preview
    ratio = preview.devicePixelRatioF()
    middle = QPoint(round(preview.width() / 2), preview.height() // 2)
    quarter = QPoint(round(preview.width() / 4), preview.height() // 2)
    qtbot.mousePress(preview, Qt.MouseButton.LeftButton, pos=middle)
    qtbot.mouseMove(preview, quarter)
    qtbot.mouseRelease(preview, Qt.MouseButton.LeftButton, pos=quarter)
    assert preview.state.compare.split == pytest.approx(quarter.x() * ratio / preview.state.target_size[0], abs=0.01)

    # Undo removes the LUT, redo brings it back.
    window.document.undo()
    assert window.lut is None
    window.document.redo()
    assert window.lut is not None

    window.lut_panel.strength.setValue(60)
    assert window.strength == pytest.approx(0.6)
    target = tmp_path / "graded.png"
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window.export_image(target, bit_depth=16)
    exported = load_photo(target)
    assert exported.bit_depth == 16
    expected = apply_lut(test_photo_pixels, window.lut, window.interpolation)  # the strength is in the LUT
    assert np.abs(exported.pixels - expected).max() <= 1.0 / 255.0

    cube_out = tmp_path / "out.cube"
    assert window.export_lut(cube_out)
    written = read_cube(cube_out)
    assert np.allclose(written.table, curved_lut.blended(0.6).table, atol=1e-5)


def test_bad_cube_shows_an_error_and_keeps_the_lut(qtbot, make_window, photo_file, curved_lut, tmp_path):
    window = make_window("gpu")
    open_and_wait(qtbot, window, photo_file)
    window.set_lut(curved_lut, "look")
    bad = tmp_path / "broken.cube"
    bad.write_text("LUT_3D_SIZE 2\n0 0 0\n1 1 1\n")
    with qtbot.waitSignal(window.errorShown):
        drop(window, bad)
    title, text = window.last_error
    assert "broken.cube" in text
    assert np.array_equal(window.lut.table, curved_lut.table)
    assert any(box.isVisible() for box in window.findChildren(QMessageBox))


def test_corrupt_photo_shows_an_error_and_keeps_the_photo(qtbot, make_window, photo_file, tmp_path):
    window = make_window("gpu")
    open_and_wait(qtbot, window, photo_file)
    before = window.photo
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20)
    with qtbot.waitSignal(window.errorShown, timeout=JOB_TIMEOUT_MS):
        drop(window, corrupt)
    qtbot.waitUntil(lambda: not window.busy)
    assert "corrupt.jpg" in window.last_error[1]
    assert window.photo is before


def test_keyboard_toggles_before_and_side_by_side(qtbot, make_window):
    window = make_window("gpu")
    window.set_layout(Layout.SPLIT_VERTICAL)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    layout = lambda: window.preview.state.compare.layout  # noqa: E731
    qtbot.keyClick(window.preview, Qt.Key.Key_Backslash)
    assert layout() == Layout.BEFORE
    qtbot.keyClick(window.preview, Qt.Key.Key_Backslash)
    assert layout() == Layout.SPLIT_VERTICAL
    qtbot.keyClick(window.preview, Qt.Key.Key_Y)
    assert layout() == Layout.SIDE_BY_SIDE
    qtbot.keyClick(window.preview, Qt.Key.Key_H)
    assert layout() == Layout.SPLIT_HORIZONTAL


def test_clear_lut_shortcut_is_undoable(qtbot, make_window, photo_file, curved_lut):
    window = make_window("gpu")
    open_and_wait(qtbot, window, photo_file)
    window.set_lut(curved_lut, "Look")
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    control_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.preview, Qt.Key.Key_L, control_shift)
    assert window.lut is None and window.document.undo_text == "Clear LUT"
    window.document.undo()
    assert window.lut is not None and np.allclose(window.lut.table, curved_lut.table)


def test_zoom_keeps_the_point_under_the_cursor(make_window, test_photo_pixels):
    from engine.image import Photo

    window = make_window("gpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    state = window.preview.state
    view = state.view()
    cursor = (200.0, 150.0)
    photo_point = ((cursor[0] - view.offset[0]) / view.scale, (cursor[1] - view.offset[1]) / view.scale)
    state.zoom(2.0, cursor)
    zoomed = state.view()
    assert zoomed.scale == pytest.approx(view.scale * 2.0)
    assert (cursor[0] - zoomed.offset[0]) / zoomed.scale == pytest.approx(photo_point[0])
    assert (cursor[1] - zoomed.offset[1]) / zoomed.scale == pytest.approx(photo_point[1])


def test_run_job_reports_errors_and_cancellation(qtbot, make_window, photo_file):
    window = make_window("cpu")
    open_and_wait(qtbot, window, photo_file)
    photo = window.photo
    results = []

    def failing(progress, cancel):
        progress(0.5, "half way")
        raise InputError("the input was bad at line 3")

    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window.run_job("Failing job", failing, results.append)
    assert window.last_error == ("Failing job", "the input was bad at line 3")
    assert results == [] and window.photo is photo

    def waits_for_cancel(progress, cancel):
        while True:
            cancel.check()
            time.sleep(0.005)

    job = window.run_job("Long job", waits_for_cancel, results.append)
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        job.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    assert results == [] and "cancelled" in window.statusBar().currentMessage()


def test_plugin_api_menus_and_docks(make_window):
    from PySide6.QtWidgets import QLabel

    window = make_window("cpu")
    tools = window.menu("Tools")
    assert window.menu("Tools") is tools
    names = [a.text() for a in window.menuBar().actions()]
    assert names.index("Image") < names.index("Tools")
    dock = window.add_dock(QLabel("hello"), "My panel")
    assert dock.widget().text() == "hello"
    assert "My panel" in [a.text() for a in window.menu("View").actions()]
    view = [a.text() for a in window.menu("View").actions()]
    assert view[-3:] == ["LUT", "Histogram", "My panel"]  # panels together, after the view commands
    file_menu = window.menu("File")
    file_menu.addAction("From a plug-in")
    assert [a.text() for a in file_menu.actions()][-3:] == ["From a plug-in", "", "&Quit"]  # Quit stays last
