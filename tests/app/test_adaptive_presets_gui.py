"""The preset panel (thumbnails off the GUI thread, click applies, strength, export) and the Train dialog."""

from __future__ import annotations

import numpy as np
import pytest

from engine.adaptive.data import validate_pairs
from engine.adaptive.infer import load_model, predict_lut, preset_lut
from engine.adaptive.model import ModelConfig
from engine.adaptive.train import TrainConfig, train_from_folder
from engine.image import Photo, sample_photo
from engine.lut.cube import read_cube
from engine.presets import find_preset, user_presets_dir
from tests.engine.adaptive.adaptive_fixtures import make_pair_folder


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private user data folder, and one torch thread (two thrash on a loaded 2-core box)."""
    import torch

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "userdata"))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def editor(make_window, qtbot):
    from app.tools.adaptive_presets import install

    window = make_window("cpu")
    window._photo_opened(Photo(sample_photo("coffee").pixels[::2, ::2]), None)
    install(window)
    return window


def test_panel_thumbnails_click_strength_and_export(tmp_path, editor, qtbot):
    report = validate_pairs(make_pair_folder(tmp_path / "pairs", 2))
    train_from_folder(
        report,
        "Panel Test",
        user_presets_dir(),
        ModelConfig(2, 9, predictor_size=64),
        TrainConfig(epochs=1, batch_size=2, crop=32),
    )
    panel = editor.adaptive_presets
    with qtbot.waitSignal(panel.thumbnailsReady, timeout=60_000):
        panel.reload()
    stems = [p.stem for p in panel.presets]
    assert "panel-test" in stems and set(panel.luts) == set(stems)
    assert all(not panel.item(stem).icon().isNull() for stem in stems)

    with qtbot.waitSignal(panel.presetApplied, timeout=5_000):
        rect = panel.list.visualItemRect(panel.item("panel-test"))
        qtbot.mouseClick(panel.list.viewport(), _left(), pos=rect.center())
    expected = predict_lut(load_model(find_preset("Panel Test")), editor.photo.pixels)
    np.testing.assert_allclose(editor.lut.table, expected.table, atol=1e-6)
    assert editor.lut.title == "Preset Panel Test"

    editor.lut_panel.strength.setValue(40)  # the one strength slider
    assert editor.strength == pytest.approx(0.4)
    assert editor.export_lut(tmp_path / "photo.cube")
    np.testing.assert_allclose(read_cube(tmp_path / "photo.cube").table, expected.blended(0.4).table, atol=1e-5)

    editor.document.undo()
    assert editor.document.undo_text == "Preset Panel Test" and editor.strength == 1.0
    editor.document.undo()
    assert editor.lut is None


def _answer_save_anyway(dialog) -> None:
    from PySide6.QtCore import QTimer

    def click() -> None:
        box = dialog.save_question
        next(b for b in box.buttons() if b.text() == "Save anyway").click()

    dialog.bridge.ask.connect(lambda _text: QTimer.singleShot(0, click))


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_train_dialog_trains_a_preset_that_appears_in_the_panel(tmp_path, editor, qtbot):
    panel = editor.adaptive_presets
    panel.open_train_dialog()
    dialog = panel.train_dialog
    assert dialog.kind.currentData() == "adaptive"
    assert dialog.train_button.isDefault()  # Return trains (it used to press Close)
    assert dialog.target_row.isEnabled()  # adaptive presets may take targets from a folder of their own

    (tmp_path / "empty" / "input").mkdir(parents=True)
    (tmp_path / "empty" / "target").mkdir()
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(tmp_path / "empty")
    assert blocker.args == [False] and "too few pairs" in dialog.report.toPlainText()
    assert not dialog.train_button.isEnabled()

    data = make_pair_folder(tmp_path / "pairs", 3)
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(data / "input", data / "target")
    assert blocker.args == [True] and "3 usable pair(s)" in dialog.report.toPlainText()
    dialog.name.setText("Dialog Look")
    dialog.epochs.setValue(2)
    options = dialog.option_widgets[0]
    options.lut_size.setValue(9)
    options.luts.setValue(2)
    assert dialog.train_button.isEnabled()

    _answer_save_anyway(dialog)  # two epochs on three tiny pairs may not beat no edit on the held-out pair
    with qtbot.waitSignal(panel.thumbnailsReady, timeout=120_000):  # trained, listed, previewed
        with qtbot.waitSignal(dialog.trained, timeout=120_000):
            qtbot.mouseClick(dialog.train_button, _left())
            assert dialog.training and dialog.cancel_button.text() == "Cancel"
    assert [p.epoch for p in dialog._points] == [1, 2]
    assert len(dialog.loss_curve.getData()[0]) == 2
    assert {"training photos", "held-out photos", "held-out, no edit"} <= set(dialog.score_curves)
    assert "dB closer" in dialog.eta.text() or "worse than no edit" in dialog.eta.text()
    assert dialog.progress.value() == dialog.progress.maximum()
    assert (user_presets_dir() / "dialog-look.safetensors").is_file()
    assert "dialog-look" in [p.stem for p in panel.presets]
    assert find_preset("Dialog Look").meta["model"]["n_luts"] == 2


def test_the_dialog_asks_before_saving_a_preset_that_makes_held_out_photos_worse(tmp_path, editor, qtbot, monkeypatch):
    from engine.adaptive import train as adaptive_train

    panel = editor.adaptive_presets
    panel.open_train_dialog()
    dialog = panel.train_dialog
    with qtbot.waitSignal(dialog.validated, timeout=10_000):
        dialog.set_folders(make_pair_folder(tmp_path / "pairs", 3))
    dialog.name.setText("Harmful")
    dialog.epochs.setValue(1)
    dialog.option_widgets[0].lut_size.setValue(9)
    real = adaptive_train.Outcome
    monkeypatch.setattr(adaptive_train, "Outcome", lambda psnr, untouched, clean=None: real(untouched - 2.0, untouched))
    with qtbot.waitSignal(dialog.bridge.ask, timeout=120_000) as asked:
        dialog.start()
    assert "worse than no edit" in asked.args[0] and "PSNR" not in asked.args[0]
    qtbot.waitUntil(lambda: dialog.save_question is not None, timeout=5_000)
    box = dialog.save_question
    assert "Save it anyway?" in box.text()
    with qtbot.waitSignal(dialog.trained, timeout=60_000) as done:
        next(b for b in box.buttons() if b.text() == "Discard").click()
    assert "was not saved" in done.args[0]
    assert not (user_presets_dir() / "harmful.json").exists()


def test_cancel_in_the_dialog_writes_nothing(tmp_path, editor, qtbot):
    panel = editor.adaptive_presets
    panel.open_train_dialog()
    dialog = panel.train_dialog
    with qtbot.waitSignal(dialog.validated, timeout=10_000):
        dialog.set_folders(make_pair_folder(tmp_path / "pairs", 2))
    dialog.name.setText("Never")
    dialog.epochs.setValue(500)
    dialog.option_widgets[0].lut_size.setValue(9)
    with qtbot.waitSignal(dialog.bridge.epoch, timeout=60_000):
        dialog.start()
    with qtbot.waitSignal(dialog.bridge.cancelled, timeout=60_000):
        qtbot.mouseClick(dialog.cancel_button, _left())
    assert not dialog.training and dialog.cancel_button.text() == "Close"
    assert not (user_presets_dir() / "never.json").exists()
    assert "resume" in dialog.eta.text()


def test_panel_shows_whole_thumbnails_with_names_and_marks_the_applied_preset(editor, qtbot):
    from app.preset_panel import MIN_CELL_WIDTH

    panel = editor.adaptive_presets
    with qtbot.waitSignal(panel.thumbnailsReady, timeout=60_000):
        panel.reload()
    grid = panel.list
    editor.resizeDocks([panel.parentWidget()], [320], _horizontal())  # the dock at its default width
    qtbot.waitUntil(lambda: grid.width() < 2 * MIN_CELL_WIDTH + 100)
    assert [grid.item(i).text() for i in range(grid.count())] == [p.name for p in panel.presets]
    icon = grid.iconSize()
    assert icon.width() >= 100 and icon.height() >= 75
    first, second = (grid.visualItemRect(grid.item(i)) for i in (0, 1))
    assert first.height() > icon.height() and first.width() >= min(icon.width(), icon.height())  # not a sliver
    assert first.top() == second.top() and second.left() > first.right()  # two per row
    assert grid.minimumHeight() >= 2 * grid.gridSize().height()

    stem = panel.presets[1].stem
    with qtbot.waitSignal(panel.presetApplied, timeout=5_000):
        qtbot.mouseClick(grid.viewport(), _left(), pos=grid.visualItemRect(panel.item(stem)).center())
    assert [item.data(_user_role()) for item in grid.selectedItems()] == [stem]
    editor.document.undo()
    assert grid.selectedItems() == []
    editor.document.redo()
    assert [item.data(_user_role()) for item in grid.selectedItems()] == [stem]
    with qtbot.waitSignal(editor.jobsIdle, timeout=60_000):  # the preset's LUT is predicted again
        editor.replace_photo(Photo(editor.photo.pixels[::2, ::2] * 0.5), "darker", "lowlight", {})
        placeholder = grid.item(0).icon().pixmap(grid.iconSize()).toImage()
        assert placeholder.pixelColor(4, 4).getRgb()[:3] == (96, 96, 96)  # not the previous pixels' thumbnail
    assert [item.data(_user_role()) for item in grid.selectedItems()] == [stem]  # still this preset...
    again = preset_lut(panel.preset(stem), editor.photo.pixels)  # a look: Auto's LUT, then the look's
    np.testing.assert_allclose(editor.lut.table, again.table, atol=1e-6)  # ...with the new pixels' own LUT


def _horizontal():
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


def _user_role():
    from PySide6.QtCore import Qt

    return Qt.ItemDataRole.UserRole
