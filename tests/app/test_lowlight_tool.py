"""Image > Enhance low light... under pytest-qt: preview, full-resolution job, undo, Cancel."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.image import Photo, sample_photo, shrink_by_blocks
from engine.lowlight.data import LowLight, darken


@pytest.fixture(scope="module")
def dark_photo() -> Photo:
    clean = shrink_by_blocks(sample_photo("chelsea").pixels, 240)
    return Photo(darken(clean, LowLight(exposure=1 / 12, photons=6000, read_noise=1e-3), np.random.default_rng(9)))


def _open_dialog(qtbot, window):
    from app.lowlight_dialog import LowLightDialog

    action = next(a for a in window.menu("Image").actions() if a.objectName() == "enhance-low-light")
    action.trigger()
    qtbot.waitUntil(lambda: window.findChild(LowLightDialog, "lowlight-dialog") is not None, timeout=60000)
    return window.findChild(LowLightDialog, "lowlight-dialog")


def test_dialog_opens_at_once_and_fills_its_preview_in_progressively(qtbot, make_window, dark_photo):
    from app.lowlight_dialog import LowLightDialog
    from app.tools.lowlight import install
    from engine.lowlight.pipeline import measure

    window = make_window("cpu")
    install(window)
    big = Photo(np.ascontiguousarray(np.tile(dark_photo.pixels, (8, 8, 1))))  # ~1400 x 1900: a real measuring job
    window._photo_opened(big, None)
    action = next(a for a in window.menu("Image").actions() if a.objectName() == "enhance-low-light")
    started = time.perf_counter()
    action.trigger()
    dialog = window.findChild(LowLightDialog, "lowlight-dialog")
    assert dialog is not None and time.perf_counter() - started < 1.0  # no model to load, nothing heavy here
    assert dialog.auto_exposure is None and not dialog.preview_ready
    qtbot.waitUntil(lambda: dialog.auto_exposure is not None and dialog.preview_ready, timeout=60000)
    assert dialog.auto_exposure == pytest.approx(measure(big.pixels).exposure)
    assert dialog.exposure is None and dialog.strength == 1.0
    assert dialog.after_preview.mean() > dark_photo.pixels.mean() + 0.15  # brighter


def test_enhance_low_light_replaces_the_photo_undoably(qtbot, make_window, dark_photo):
    from app.tools.lowlight import UNDO_TEXT, install
    from engine.lowlight.pipeline import enhance

    window = make_window("cpu")
    install(window)
    window._photo_opened(dark_photo, None)
    original = window.photo
    dialog = _open_dialog(qtbot, window)
    qtbot.waitUntil(lambda: dialog.auto_exposure is not None, timeout=60000)
    dialog.auto_box.setChecked(False)
    assert dialog.exposure == pytest.approx(dialog.auto_exposure, rel=0.04)  # manual starts where auto was
    dialog.exposure_slider.setValue(20)  # +2 EV
    dialog.gamma_slider.setValue(60)
    dialog.denoise_slider.setValue(50)
    dialog.strength_slider.setValue(80)
    qtbot.waitUntil(lambda: dialog.preview_ready, timeout=60000)
    with qtbot.waitSignal(window.jobsIdle, timeout=60000):
        dialog.ok_button.click()
    expected = enhance(dark_photo.pixels, exposure=4.0, gamma=0.6, denoise=0.5, strength=0.8)
    assert window.photo is not original and window.photo.pixels.shape == dark_photo.pixels.shape
    np.testing.assert_allclose(window.photo.pixels, expected, atol=1e-5)
    assert window.document.undo_text == UNDO_TEXT
    window.document.undo()
    assert window.photo is original


def test_cancel_keeps_the_photo_and_no_photo_is_an_error(qtbot, make_window, dark_photo):
    from app.tools.lowlight import LowLightTool, install

    window = make_window("cpu")
    install(window)
    tool = window.findChild(LowLightTool, "lowlight-tool")
    with qtbot.waitSignal(window.errorShown, timeout=5000) as shown:
        tool.action.trigger()
    assert "Open a photo" in shown.args[1]

    big = Photo(np.ascontiguousarray(np.tile(dark_photo.pixels, (6, 6, 1))))
    window._photo_opened(big, None)
    dialog = _open_dialog(qtbot, window)
    with qtbot.waitSignal(window.jobsIdle, timeout=60000):
        dialog.ok_button.click()
        tool.job.token.cancel()
    assert window.photo is big
    assert "cancelled" in window.statusBar().currentMessage()


def test_train_dialog_trains_a_lowlight_model_from_scene_folders(qtbot, tmp_path, monkeypatch):
    import imageio.v3 as iio
    import torch

    from app.train_dialog import TrainDialog
    from engine.lowlight.model import load_model
    from engine.lowlight.train import user_models_dir

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "userdata"))
    torch.set_num_threads(1)
    data = tmp_path / "scenes"
    rng = np.random.default_rng(0)
    for scene in ("1", "2"):
        for index, level in enumerate((40, 90)):
            (data / scene).mkdir(parents=True, exist_ok=True)
            iio.imwrite(data / scene / f"{index}.png", rng.integers(level - 20, level + 20, (64, 72, 3), np.uint8))
    (data / "3").mkdir()
    iio.imwrite(data / "3" / "only.png", np.zeros((64, 72, 3), np.uint8))

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData("lowlight"))
    assert dialog.epochs.value() == 40
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(data)
    assert blocker.args == [False] and "3: 1 image(s)" in dialog.report.toPlainText()

    (data / "3" / "only.png").unlink()
    (data / "3").rmdir()
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(data)
    assert blocker.args == [True] and "2 usable scene(s)" in dialog.report.toPlainText()
    dialog.name.setText("night")
    dialog.epochs.setValue(1)
    with qtbot.waitSignal(dialog.trained, timeout=120_000):
        dialog.start()
    assert [p.epoch for p in dialog._points] == [1]
    assert load_model(user_models_dir() / "night.safetensors")[1].steps == 25
