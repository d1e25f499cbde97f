"""Image > Upscale under pytest-qt: the dialog, the job, undo, and the pixel-limit refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from engine.sr.infer import SRTable, save_table, upscale_uint8


@pytest.fixture
def user_table(tmp_path, monkeypatch) -> SRTable:
    """A user's x2 EC-LUT table (random entries) in a private LUTLab data folder."""
    monkeypatch.setenv("LUTLAB_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "data" / "sr"
    folder.mkdir(parents=True)
    values = np.random.default_rng(0).integers(-60, 60, size=(256**2, 9 * 4)).astype(np.int8)
    table = SRTable("eclut", 2, values, meta={"kind": "eclut", "scale": 2})
    save_table(table, folder / "mine.npz")
    (folder / "other_x4.npz").write_bytes(b"")
    (folder / "other_x4.json").write_text(json.dumps({"kind": "srlut", "scale": 4}))
    return table


def open_photo(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.jobsIdle, timeout=20000):
        window.open_photo(path)


def test_upscale_x2_replaces_the_photo_undoably(qtbot, make_window, photo_file, user_table):
    from app.tools.upscale import install
    from app.upscale_dialog import UpscaleDialog

    window = make_window("cpu")
    install(window)
    open_photo(qtbot, window, photo_file)
    original = window.photo
    action = next(a for a in window.menu("Image").actions() if a.objectName() == "upscale-x2")
    action.trigger()
    dialog = window.findChild(UpscaleDialog, "upscale-dialog")
    names = [dialog.model_box.itemData(i)[0] for i in range(dialog.model_box.count())]
    assert "mine" in names and "other_x4" not in names  # only tables of the chosen factor
    dialog.model_box.setCurrentIndex(names.index("mine"))
    assert "160 × 120 → 320 × 240" in dialog.size_label.text()
    with qtbot.waitSignal(window.jobsIdle, timeout=30000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    expected = upscale_uint8(np.round(original.pixels * 255).astype(np.uint8), user_table)
    assert window.photo.pixels.shape == (240, 320, 3)
    np.testing.assert_array_equal(np.round(window.photo.pixels * 255).astype(np.uint8), expected)
    assert window.document.undo_text == "Upscale ×2 (mine)"
    window.document.undo()
    assert window.photo is original


def test_too_large_output_is_refused_with_a_clear_message(qtbot, make_window, photo_file, user_table, tmp_path):
    from app.tools.upscale import start_upscale
    from app.upscale_dialog import UpscaleDialog

    window = make_window("cpu")
    open_photo(qtbot, window, photo_file)
    original = window.photo
    dialog = UpscaleDialog(window, original, 4, max_pixels=100_000)
    qtbot.addWidget(dialog)
    assert "Too large" in dialog.size_label.text() and "above the limit" in dialog.size_label.text()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    start_upscale(window, 2, "mine", tmp_path / "data" / "sr" / "mine.npz", max_pixels=70_000)
    assert window.last_error is not None
    assert "would make 320x240 = 76,800 pixels, above the limit of 70,000" in window.last_error[1]
    assert window.photo is original
