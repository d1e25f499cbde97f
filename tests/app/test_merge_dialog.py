"""The merge dialog under pytest-qt: three exposures dropped at once are merged into the current photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from engine.color import linear_to_srgb, srgb_to_linear
from engine.fusion.merge import MergeOptions, merge_files
from engine.image import Photo, sample_photo, save_photo

SHIFTS = [(3, -2), (0, 0), (-2, 4)]


@pytest.fixture
def bracket_files(tmp_path: Path) -> list[Path]:
    """Three exposures (-2, 0, +2 EV) of a real photo, slightly moved, written in a shuffled order."""
    linear = srgb_to_linear(sample_photo("coffee").pixels[:140, :200])
    paths = []
    for name, ev, (dy, dx) in zip(("b_over", "a_mid", "c_under"), (2.0, 0.0, -2.0), SHIFTS[::-1], strict=True):
        frame = linear_to_srgb(np.clip(linear * 2.0**ev, 0, 1))[8 + dy : 128 + dy, 8 + dx : 188 + dx]
        paths.append(tmp_path / f"{name}.png")
        save_photo(Photo(np.ascontiguousarray(frame)), paths[-1])
    return paths


def drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)


def test_dropping_three_exposures_merges_them_into_the_photo_undoably(qtbot, make_window, bracket_files):
    from app.merge_dialog import MergeDialog
    from app.tools.merge import install

    window = make_window("cpu")
    install(window)
    assert any(a.objectName() == "merge-brackets" for a in window.menu("File").actions())
    window.open_sample()
    original = window.photo

    drop(window, bracket_files)
    qtbot.waitUntil(lambda: window.findChild(MergeDialog, "merge-dialog") is not None, timeout=20000)
    dialog = window.findChild(MergeDialog, "merge-dialog")
    assert window.photo is original  # dropping several photos does not open the first one
    assert dialog.merge_button.isDefault()  # Return merges (it used to press Cancel)
    evs = [card.findChild(type(dialog.summary), "ev").text() for card in dialog.frame_cards]
    assert evs[1] == "0 EV (reference)"
    assert evs[0].startswith("−2.") or evs[0].startswith("−1.9")
    assert evs[2].startswith("+2.") or evs[2].startswith("+1.9")
    assert [Path(dialog.names[i]).stem for i in dialog.bracket.order] == ["c_under", "a_mid", "b_over"]

    dialog.deghost_box.setChecked(True)
    with qtbot.waitSignal(window.jobsIdle, timeout=30000):
        dialog.merge_button.click()
    assert dialog.merged is not None
    expected = merge_files(bracket_files, MergeOptions(deghost=True))
    assert window.photo is dialog.merged.photo
    np.testing.assert_allclose(window.photo.pixels, expected.photo.pixels, atol=1e-6)
    by_name = {Path(p).stem: s for p, s in zip(bracket_files, dialog.merged.shifts, strict=True)}
    assert (by_name["c_under"].dy, by_name["c_under"].dx) == SHIFTS[0]
    assert (by_name["b_over"].dy, by_name["b_over"].dx) == SHIFTS[2]
    assert "Merged 3 exposures" in window.statusBar().currentMessage()

    assert Path(window.document.source.path).stem == "a_mid"  # before = the reference exposure
    window.document.undo()
    assert window.photo is window.document.source  # the merge switched off: the reference alone
    window.document.redo()
    assert window.photo is dialog.merged.photo


def test_a_bracket_of_mixed_sizes_is_refused_with_the_file_named(qtbot, make_window, bracket_files, tmp_path):
    from app.tools.merge import open_bracket

    window = make_window("cpu")
    small = tmp_path / "small.png"
    save_photo(Photo(np.zeros((50, 60, 3), np.float32)), small)
    with qtbot.waitSignal(window.errorShown, timeout=20000) as shown:
        open_bracket(window, [*bracket_files[:2], small])
    assert "small.png" in shown.args[1] and "differs" in shown.args[1]
    assert window.photo is None
