"""The Train dialog's super-resolution kind: a folder of photos -> a user table the Upscale dialog lists."""

from __future__ import annotations

import numpy as np
import pytest

from engine.image import Photo, sample_photo, save_photo


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private user data folder, one torch thread, and 2 steps per dialog epoch (a tiny run)."""
    import torch

    import engine.train_kinds.sr as sr_kind

    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.setattr(sr_kind, "STEPS_PER_EPOCH", 2)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_train_dialog_trains_an_upscaling_table(tmp_path, qtbot):
    from app.train_dialog import TrainDialog
    from engine.sr.infer import available_models, load_table, user_models_dir

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex([kind.key for kind in dialog.kinds].index("sr"))
    assert not dialog.target_row.isEnabled() and "Upscaling" in dialog.windowTitle()  # no targets for SR
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(tmp_path / "empty")
    assert blocker.args == [False] and "0 of 0 photos" in dialog.report.toPlainText()

    photos = tmp_path / "photos"
    photos.mkdir()
    coffee = sample_photo("coffee").pixels
    save_photo(Photo(np.ascontiguousarray(coffee[:150, :200])), photos / "a.png")
    save_photo(Photo(np.ascontiguousarray(coffee[200:360, 300:500])), photos / "b.jpg")
    save_photo(Photo(np.ascontiguousarray(coffee[:50, :50])), photos / "tiny.png")
    with qtbot.waitSignal(dialog.validated, timeout=10_000) as blocker:
        dialog.set_folders(photos)
    report = dialog.report.toPlainText()
    assert blocker.args == [True] and "2 of 3 photos" in report and "skipped tiny.png: 50x50" in report

    options = dialog.option_widgets[dialog.kind.currentIndex()]
    options.scale.setCurrentIndex(options.scale.findData(2))
    dialog.name.setText("My Upscaler")
    dialog.epochs.setValue(2)
    with qtbot.waitSignal(dialog.trained, timeout=120_000) as done:
        dialog.start()
    assert [p.epoch for p in dialog._points] == [1, 2]
    table = load_table(user_models_dir() / "my-upscaler.npz")
    assert (table.kind, table.scale, table.meta["steps"]) == ("srlut", 2, 4)
    assert options.refine.isChecked() and table.refinement is not None  # filters on by default
    assert ("my-upscaler", user_models_dir() / "my-upscaler.npz") in available_models(2)
    assert "my-upscaler.npz: held-out Y-PSNR" in done.args[0]
