"""File > Batch export under pytest-qt: the open photo's edit on a folder, a job with Cancel, the summary."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from engine.image import Photo, load_photo, save_photo
from engine.lut import LUT3D, apply_lut, load_lut, write_cube


def test_batch_export_applies_the_current_edit_and_lists_failures(qtbot, make_window, photo_file, curved_lut, tmp_path):
    from app.batch_dialog import BatchDialog
    from app.tools.batch import install

    cube = tmp_path / "curved.cube"
    write_cube(curved_lut, cube)
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    out.mkdir()
    rng = np.random.default_rng(7)
    for index in range(3):
        save_photo(Photo(rng.random((40, 50, 3), dtype=np.float32)), shoot / f"p{index}.png")
    (shoot / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")

    window = make_window("cpu")
    install(window)
    with qtbot.waitSignal(window.jobsIdle, timeout=20000):
        window.open_photo(photo_file)
    window.set_lut(load_lut(cube), "Load LUT", cube)
    window.set_strength(0.5)
    next(a for a in window.menu("File").actions() if a.objectName() == "batch-export").trigger()
    dialog = window.findChild(BatchDialog, "batch-dialog")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # nothing chosen yet
    dialog.add_inputs([shoot])
    dialog.output.setText(str(out))
    dialog.workers.setValue(1)
    with qtbot.waitSignal(window.jobsIdle, timeout=60000):
        ok.click()
    expected_lut = LUT3D(curved_lut.table).blended(0.5)
    for index in range(3):
        source = load_photo(shoot / f"p{index}.png").pixels
        expected = apply_lut(source, expected_lut, window.interpolation)
        np.testing.assert_allclose(load_photo(out / f"p{index}.png").pixels, expected, atol=1.01 / 255)
    assert not (out / "broken.png").exists()
    summary = window.findChild(QMessageBox, "batch-summary")
    assert summary.text().startswith("3 done, 0 already done, 1 failed")
    assert "broken.png" in summary.text()


def test_batch_export_refuses_without_an_edit(qtbot, make_window, photo_file):
    from app.tools.batch import ask_batch

    window = make_window("cpu")
    with qtbot.waitSignal(window.jobsIdle, timeout=20000):
        window.open_photo(photo_file)
    assert ask_batch(window) is None
    assert "no edit to apply" in window.last_error[1]


def test_cancel_stops_the_batch_and_leaves_only_whole_files(qtbot, make_window, photo_file, curved_lut, tmp_path):
    from app.tools.batch import current_recipe, start_batch

    cube = tmp_path / "curved.cube"
    write_cube(curved_lut, cube)
    shoot, out = tmp_path / "shoot", tmp_path / "out"
    shoot.mkdir()
    out.mkdir()
    rng = np.random.default_rng(8)
    for index in range(12):
        save_photo(Photo(rng.random((300, 400, 3), dtype=np.float32), bit_depth=16), shoot / f"p{index:02d}.png")
    window = make_window("cpu")
    with qtbot.waitSignal(window.jobsIdle, timeout=20000):
        window.open_photo(photo_file)
    window.set_lut(load_lut(cube), "Load LUT", cube)
    with qtbot.waitSignal(window.jobsIdle, timeout=60000):
        job = start_batch(window, current_recipe(window), [shoot], out, False, 2)
        qtbot.waitUntil(lambda: len(list(out.iterdir())) >= 1, timeout=30000)
        job.token.cancel()
    written = sorted(p.name for p in out.iterdir())
    assert 1 <= len(written) < 12 and all(not name.startswith(".") for name in written)
    for name in written:
        assert load_photo(out / name).pixels.shape == (300, 400, 3)
    assert window.findChild(QMessageBox, "batch-summary") is None  # cancelled: no summary, the status bar says so
