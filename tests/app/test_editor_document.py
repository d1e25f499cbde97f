"""The editor as a photographer's tool, driven through the real widgets: each test here failed on the editor
before the edit document (merge dialog coming back, a preset's LUT carried to the next photo, export
overwriting silently, quitting without asking, no true before, zoom/title carried over)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from app.main_window import rendered_pixels
from engine.document import sidecar_path
from engine.gpu.renderer import Layout
from engine.image import Photo, load_photo, save_photo
from engine.lut import apply_lut

JOB_TIMEOUT_MS = 60_000


def answer_next_question(qtbot, object_name: str, button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click `button` on the next modal question box called `object_name` (and record its text)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != object_name:
            QTimer.singleShot(20, click)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(20, click)


def open_and_wait(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window.open_photo(path)


@pytest.fixture
def two_photos(tmp_path, test_photo_pixels):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    save_photo(Photo(test_photo_pixels), first)
    save_photo(Photo(test_photo_pixels[::-1, :, ::-1].copy()), second)
    return first, second


def test_a_preset_is_never_carried_to_the_next_photo(qtbot, make_window, two_photos):
    from app.tools.adaptive_presets import install

    window = make_window("cpu")
    install(window)
    panel = window.adaptive_presets
    open_and_wait(qtbot, window, two_photos[0])
    with qtbot.waitSignal(panel.thumbnailsReady, timeout=JOB_TIMEOUT_MS):
        pass
    panel.apply(panel.presets[0].stem)
    assert window.lut is not None and panel.applied_stem() == panel.presets[0].stem
    window.preview.state.set_scale(3.0)  # zoomed in on the first photo
    window.document.mark_saved()
    open_and_wait(qtbot, window, two_photos[1])
    assert window.lut is None and window.document.steps == ()  # the second photo has its own (no) edits
    assert panel.applied_stem() is None and panel.list.selectedItems() == []
    assert window.preview.state.fit  # opens whole, not at the first photo's zoom
    assert window.windowTitle().startswith("second.png")
    assert not window.preview.labels["After"].isVisible()  # nothing to compare: no labels, no split


def test_before_is_the_source_after_a_pixel_step_and_labels_show(qtbot, make_window, test_photo_pixels, curved_lut):
    window = make_window("gpu")
    window._photo_opened(Photo(test_photo_pixels), None)
    window.set_layout(Layout.SPLIT_VERTICAL)
    shown = rendered_pixels(window)
    height, width = test_photo_pixels.shape[:2]
    state = window.preview.state
    state.fit, state.scale, state.offset = False, 1.0, (0.0, 0.0)
    window.preview.update()
    qtbot.wait(50)
    shown = rendered_pixels(window)
    assert np.abs(shown[:height, :width] - test_photo_pixels).max() <= 1 / 255 + 1e-6  # no divider line drawn
    assert not window.preview.labels["Before"].isVisible()

    darker = Photo(test_photo_pixels * 0.25)
    window.replace_photo(darker, "Darken", "lowlight", {})
    window.set_lut(curved_lut, "look")
    window.set_split(1.0)  # all "before"
    qtbot.wait(50)
    shown = rendered_pixels(window)
    assert np.abs(shown[:height, :width] - test_photo_pixels).max() <= 1 / 255 + 1e-6  # the source, not darker
    window.set_split(0.0)  # all "after": the darkened photo graded
    qtbot.wait(50)
    shown = rendered_pixels(window)
    expected = apply_lut(darker.pixels, curved_lut, window.interpolation)
    assert np.abs(shown[:height, 1:width] - expected[:, 1:]).max() <= 1 / 255 + 1e-6
    labels = window.preview.labels
    assert labels["Before"].isVisible() and labels["After"].isVisible()
    assert labels["After"].x() > labels["Before"].x()
    window.set_layout(Layout.SPLIT_HORIZONTAL)
    qtbot.wait(50)
    assert labels["After"].y() > labels["Before"].y()


def test_merge_dialog_does_not_come_back_after_a_merge(qtbot, make_window, tmp_path, test_photo_pixels):
    from app.merge_dialog import MergeDialog
    from app.tools.merge import open_bracket

    paths = []
    for name, gain in (("dark", 0.3), ("mid", 1.0), ("bright", 2.5)):
        path = tmp_path / f"{name}.png"
        save_photo(Photo(np.clip(test_photo_pixels * gain, 0, 1)), path)
        paths.append(path)
    window = make_window("cpu")
    window.open_sample()
    open_bracket(window, paths)
    qtbot.waitUntil(lambda: window.findChild(MergeDialog, "merge-dialog") is not None, timeout=JOB_TIMEOUT_MS)
    dialog = window.findChild(MergeDialog, "merge-dialog")
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        dialog.align_box.setChecked(False)
        dialog.merge_button.click()
    qtbot.wait(100)
    assert all(not d.isVisible() for d in window.findChildren(MergeDialog))
    assert [s.kind for s in window.document.steps] == ["merge"]
    assert Path(window.document.source.path).stem == "mid"


def test_export_confirms_before_replacing_and_checks_the_name_inside_the_dialog(
    qtbot, make_window, photo_file, curved_lut, tmp_path
):
    window = make_window("cpu")
    open_and_wait(qtbot, window, photo_file)
    window.set_lut(curved_lut, "look")
    dialog = window.export_dialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert Path(dialog.path.text()) == photo_file.parent / "photo-edit.jpg"  # beside the photo, named after it
    dialog.path.setText(str(tmp_path / "no-suffix"))
    assert not dialog.export_button.isEnabled() and ".jpg" in dialog.problem.text()
    dialog.path.setText(str(tmp_path / "missing" / "x.png"))
    assert not dialog.export_button.isEnabled() and "does not exist" in dialog.problem.text()

    existing = tmp_path / "taken.png"
    existing.write_bytes(b"keep me")
    dialog.path.setText(str(existing))
    assert dialog.export_button.isEnabled()
    seen: list[str] = []
    answer_next_question(qtbot, "confirm-replace", QMessageBox.StandardButton.No, seen)
    dialog.export_button.click()
    assert seen and "taken.png" in seen[0]
    assert dialog.isVisible() and existing.read_bytes() == b"keep me"  # still in the dialog, nothing written

    dialog.long_side.setValue(80)
    answer_next_question(qtbot, "confirm-replace", QMessageBox.StandardButton.Yes, seen)
    dialog.export_button.click()
    assert not dialog.isVisible()
    with qtbot.waitSignal(window.jobsIdle, timeout=JOB_TIMEOUT_MS):
        window._export_with(dialog.options())
    written = load_photo(existing)
    assert max(written.pixels.shape[:2]) == 80
    assert window.export_dialog().long_side.value() == 80  # remembered for the next export


def test_quit_with_unsaved_edits_asks_and_the_session_comes_back(
    qtbot, make_window, settings, photo_file, curved_lut, tmp_path
):
    from app.main import build_window

    cube = tmp_path / "look.cube"
    from engine.lut.cube import write_cube

    write_cube(curved_lut, cube)
    window = make_window("cpu")
    open_and_wait(qtbot, window, photo_file)
    window.open_lut(cube)
    assert window.isWindowModified()
    seen: list[str] = []
    answer_next_question(qtbot, "unsaved-edits", QMessageBox.StandardButton.Cancel, seen)
    assert window._quit_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)  # Ctrl+Q
    window._quit_action.trigger()
    assert seen and window.isVisible()  # Cancel keeps the window and the edits
    answer_next_question(qtbot, "unsaved-edits", QMessageBox.StandardButton.Save, seen)
    window.close()
    assert not window.isVisible() and sidecar_path(photo_file).is_file()

    again = build_window(preview="cpu", settings=settings)
    qtbot.addWidget(again, before_close_func=lambda w: w.document.mark_saved())
    qtbot.waitUntil(lambda: again.document is not None and again.document.path is not None, timeout=JOB_TIMEOUT_MS)
    assert again.document.path == photo_file.resolve()
    assert [s.kind for s in again.document.steps] == ["lut"]
    assert np.allclose(again.lut.table, curved_lut.table, atol=1e-6) and not again.document.modified


def test_a_background_result_for_a_closed_window_is_dropped(qtbot, make_window):
    import threading

    from app.background import Background

    window = make_window("cpu")
    background = Background(window)
    release, calls = threading.Event(), []
    background.submit(lambda: release.wait(5), calls.append)
    window.close()
    window.deleteLater()
    qtbot.wait(50)  # the window (and its Background) are gone now
    release.set()
    background_threads = [t for t in threading.enumerate() if t.name == "lutlab-background"]
    for thread in background_threads:
        thread.join(5)
    qtbot.wait(50)
    assert calls == []  # and no "Signal source has been deleted" on the worker thread (that would fail the test)


@pytest.mark.parametrize("preview", ["gpu", "cpu"])
def test_clipping_warning_histogram_and_pixel_readout(qtbot, make_window, test_photo_pixels, preview):
    from engine.color import CLIPPED_HIGHLIGHT, CRUSHED_SHADOW

    pixels = test_photo_pixels.copy()
    pixels[:10, :10] = 1.0  # clipped white
    pixels[-10:, -10:] = 0.0  # crushed black
    window = make_window(preview)
    window._photo_opened(Photo(pixels), None)
    state = window.preview.state
    state.fit, state.scale, state.offset = False, 1.0, (0.0, 0.0)
    window._clipping_action.trigger()  # View > Show Clipping (J)
    assert window._clipping_action.shortcut().toString() == "J"
    qtbot.wait(50)
    shown = rendered_pixels(window)
    height, width = pixels.shape[:2]
    assert np.abs(shown[2, 2] - CLIPPED_HIGHLIGHT).max() <= 1 / 255
    assert np.abs(shown[height - 3, width - 3] - CRUSHED_SHADOW).max() <= 1 / 255
    assert np.abs(shown[50, 50] - pixels[50, 50]).max() <= 1 / 255  # unclipped pixels untouched
    qtbot.waitUntil(lambda: window.histogram.clipped[0] > 0, timeout=5000)
    clipped_high = (np.round(pixels * 255).max(axis=-1) == 255).mean()
    assert window.histogram.clipped[0] == pytest.approx(clipped_high, abs=2e-3)

    ratio = window.preview.devicePixelRatioF()
    window.preview.pointerMoved.emit(window.preview.image_point(30.5 * ratio, 20.5 * ratio))
    r, g, b = np.round(pixels[20, 30] * 255).astype(int)
    assert window._pointer_label.text() == f"30, 20  R {r}  G {g}  B {b}"


def test_keyboard_shortcuts_help_lists_the_actions(qtbot, make_window):
    window = make_window("cpu")
    box = window.show_shortcuts()
    text = box.text()
    for entry in ("Export Image", "Ctrl+Shift+E", "Export LUT as .cube", "Ctrl+Alt+E", "Show Clipping", "Undo"):
        assert entry in text
    box.close()


def test_adjustment_sliders_are_one_lut_with_the_preset(qtbot, make_window, test_photo_pixels, curved_lut):
    from app.tools.adjustments import install
    from engine.lut.adjust import Adjustments
    from engine.lut.tone import ToneControls

    window = make_window("gpu")
    install(window)
    panel = window.adjustments_panel
    window._photo_opened(Photo(test_photo_pixels), None)
    window.set_lut(curved_lut, "look")
    for value in (0.1, 0.3, 0.5):  # a drag: one undo step
        panel.set_value("exposure", value)
    panel.set_value("vibrance", 0.4)
    assert [s.kind for s in window.document.steps] == ["lut", "adjust"]
    assert window.document.undo_text == "Adjust vibrance"
    # the preview's one LUT = the imported LUT, then the adjustments (numpy reference, sequentially)
    exposure, vibrance = panel.value("exposure"), panel.value("vibrance")
    assert exposure == pytest.approx(0.5, abs=0.005) and vibrance == pytest.approx(0.4, abs=0.005)
    reference = ToneControls(vibrance=vibrance).apply(
        Adjustments(exposure=exposure).apply(apply_lut(test_photo_pixels, curved_lut, "tetrahedral"))
    )
    shown_lut = apply_lut(test_photo_pixels, window.lut, "tetrahedral")
    assert np.abs(shown_lut - reference).max() < 0.02 and np.abs(shown_lut - reference).mean() < 2e-3
    window.document.undo()
    assert panel.value("vibrance") == 0 and panel.value("exposure") == exposure
    window.document.undo()
    assert window.document.find("adjust") is None and panel.value("exposure") == 0
    window.document.redo()
    assert panel.value("exposure") == exposure
    panel.reset()
    assert window.document.find("adjust") is None and window.document.find("lut") is not None


def test_preset_tiles_fill_for_any_aspect_and_user_presets_can_be_managed(qtbot, make_window, tmp_path, monkeypatch):
    import shutil

    from app.tools.adaptive_presets import install
    from engine.presets import SHIPPED_DIR, delete_user_preset, import_preset, list_presets, rename_user_preset

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "data"))
    window = make_window("cpu")
    window._photo_opened(Photo(np.full((300, 120, 3), 0.5, np.float32)), None)  # a tall, narrow photo
    install(window)
    panel = window.adaptive_presets
    qtbot.waitUntil(lambda: len(panel.luts) == len(panel.presets), timeout=JOB_TIMEOUT_MS)
    icon = panel.list.item(0).icon().pixmap(panel.list.iconSize()).toImage()
    corner, centre = icon.pixelColor(1, icon.height() // 2), icon.pixelColor(icon.width() // 2, icon.height() // 2)
    assert corner.getRgb() == centre.getRgb()  # the photo reaches the tile's sides: no grey strips
    assert not panel.list.wordWrap()  # one line per name, elided, the whole name in the tooltip

    shipped = panel.presets[0]
    menu = panel.context_menu(panel.item(shipped.stem))
    assert [a.text() for a in menu.actions() if a.text()] == ["Rename…", "Delete…", "Import preset…"]
    assert not any(a.isEnabled() for a in menu.actions()[:2])  # shipped presets stay as they are

    copy = tmp_path / "mine"
    copy.mkdir()
    for suffix in (".json", ".safetensors"):
        shutil.copy(SHIPPED_DIR / f"{shipped.stem}{suffix}", copy / f"{shipped.stem}{suffix}")
    assert panel.run_preset_action(lambda: import_preset(copy / f"{shipped.stem}.json"))
    mine = next(p for p in panel.presets if not p.shipped)
    assert all(a.isEnabled() for a in panel.context_menu(panel.item(mine.stem)).actions()[:2])
    assert panel.run_preset_action(lambda: rename_user_preset(mine, "  My   Look "))
    assert "My Look" in [p.name for p in list_presets()] and "My Look" in [
        panel.list.item(i).text() for i in range(panel.list.count())
    ]
    assert not panel.run_preset_action(lambda: rename_user_preset(shipped, "x"))
    assert "cannot be renamed" in panel.status.text()
    renamed = next(p for p in panel.presets if p.name == "My Look")
    assert panel.run_preset_action(lambda: delete_user_preset(renamed))
    assert [p.name for p in panel.presets if not p.shipped] == []
    assert list((tmp_path / "data" / "presets").iterdir()) == []


def test_history_lists_every_step_and_toggles_it(qtbot, make_window, test_photo_pixels, curved_lut):
    from PySide6.QtCore import Qt

    from app.tools.history import install

    window = make_window("cpu")
    install(window)
    panel = window.history_panel
    window._photo_opened(Photo(test_photo_pixels), None)
    assert panel.list.count() == 0 and not panel.hint.isHidden()
    window.set_lut(curved_lut, "look")
    window.replace_photo(Photo(test_photo_pixels * 0.5), "Enhance low light", "lowlight", {})
    assert [panel.list.item(i).text() for i in range(2)] == ["Enhance low light", "LUT curved"]  # pixels first
    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)  # the LUT off: as clicking its box
    assert window.lut is None and window.document.undo_text == "Disable LUT curved"
    assert window.preview.state.compare_enabled  # the low-light step still differs from the source
    panel.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert window.photo is window.document.source and not window.preview.state.compare_enabled
    window.document.undo()
    assert panel.list.item(0).checkState() == Qt.CheckState.Checked and window.photo is not window.document.source
