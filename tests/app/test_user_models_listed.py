"""Any model a user trains appears in the editor: a low-light net in the user's model folder is offered by
Image > Enhance low light... and, chosen, denoises the photo (and the edit step records it by name)."""

from __future__ import annotations

import numpy as np

from engine.image import Photo, sample_photo, shrink_by_blocks
from engine.lowlight.data import LowLight, darken


def _write_user_lowlight_model(name: str) -> None:
    import torch

    from engine.lowlight.model import ModelInfo, PairLIE, save_model
    from engine.modelfile import user_models_dir

    torch.manual_seed(0)
    folder = user_models_dir("lowlight")
    folder.mkdir(parents=True, exist_ok=True)
    save_model(PairLIE(8), folder / f"{name}.safetensors", ModelInfo(channels=8, data="test", steps=1))


def test_a_user_lowlight_model_is_listed_and_used(qtbot, make_window, tmp_path, monkeypatch):
    from app.lowlight_dialog import LowLightDialog
    from app.tools.lowlight import install
    from engine.lowlight import models
    from engine.lowlight.pipeline import enhance as classical
    from engine.modelfile import user_models, user_models_dir

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "userdata"))
    _write_user_lowlight_model("my-night")
    (user_models_dir("lowlight") / "broken.safetensors").write_bytes(b"no sidecar beside it")
    assert [model.name for model in user_models("lowlight")] == ["my-night"]  # the broken one is left out

    clean = shrink_by_blocks(sample_photo("chelsea").pixels, 120)
    dark = Photo(darken(clean, LowLight(exposure=1 / 12, photons=6000, read_noise=1e-3), np.random.default_rng(9)))
    window = make_window("cpu")
    install(window)
    window._photo_opened(dark, None)
    action = next(a for a in window.menu("Image").actions() if a.objectName() == "enhance-low-light")
    action.trigger()
    dialog = window.findChild(LowLightDialog, "lowlight-dialog")
    offered = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert offered[0] is None and "my-night" in offered and "broken" not in offered
    dialog.model.setCurrentIndex(dialog.model.findData("my-night"))
    qtbot.waitUntil(lambda: dialog.auto_exposure is not None, timeout=60000)
    dialog.auto_box.setChecked(False)
    dialog.exposure_slider.setValue(30)  # +3 EV
    with qtbot.waitSignal(window.jobsIdle, timeout=60000):
        dialog.ok_button.click()

    expected = models.enhance(dark.pixels, model="my-night", exposure=8.0)
    np.testing.assert_allclose(window.photo.pixels, expected, atol=1e-5)
    assert np.abs(expected - classical(dark.pixels, exposure=8.0)).max() > 0.01  # the net did the denoising
    assert window.document.state.steps[-1].params["model"] == "my-night"


def test_the_lowlight_command_takes_a_user_model_by_name(tmp_path, monkeypatch, capsys):
    from engine.cli import main
    from engine.image import Photo, load_photo, save_photo
    from engine.lowlight import models

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "userdata"))
    _write_user_lowlight_model("my-night")
    clean = shrink_by_blocks(sample_photo("chelsea").pixels, 96)
    dark = darken(clean, LowLight(exposure=1 / 12, photons=6000, read_noise=1e-3), np.random.default_rng(3))
    save_photo(Photo(dark), tmp_path / "dark.png", bit_depth=16)
    source = load_photo(tmp_path / "dark.png").pixels
    argv = ["lowlight", str(tmp_path / "dark.png"), str(tmp_path / "out.png"), "--exposure", "8", "--model"]
    assert main([*argv, "my-night"]) == 0
    expected = models.enhance(source, model="my-night", exposure=8.0)
    assert np.abs(load_photo(tmp_path / "out.png").pixels - expected).max() < 2 / 255  # 8-bit rounding
    assert main([*argv, "no-such-model"]) == 2
    assert "no low-light model named 'no-such-model' (available: shipped, my-night)" in capsys.readouterr().err
