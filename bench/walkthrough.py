"""A photographer's walk through the real editor, with a screenshot after every step.

    xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" .venv/bin/python bench/walkthrough.py [--out DIR]

Open a photo, apply Auto, raise the exposure, compare (labelled split), merge a dropped bracket, undo the
merge, export (the replace question is answered), quit (the unsaved-edits question is answered with
Save), relaunch (the photo and its edits come back). Every step checks what it expects and prints one line;
screenshots go to DIR (default bench/out/walkthrough/NN-step.png). Uses its own settings and data folders.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
import app  # noqa: E402,F401  (the PySide6 refcount guard)
from app.main import build_window, create_application  # noqa: E402
from engine.image import Photo, save_photo  # noqa: E402

TIMEOUT_S = 120.0


def wait_until(qt, condition, what: str) -> None:
    import time

    end = time.monotonic() + TIMEOUT_S
    while not condition():
        qt.processEvents()
        if time.monotonic() > end:
            raise SystemExit(f"walkthrough: timed out waiting for {what}")
        time.sleep(0.02)
    for _ in range(20):  # let the preview paint
        qt.processEvents()


def answer(qt, object_name: str, button) -> None:
    """Click `button` on the question box `object_name` as soon as it shows (it is modal)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == object_name:
            print(f"   question: {box.text()!r} -> {box.button(button).text()}")
            box.button(button).click()
        else:
            QTimer.singleShot(50, click)

    QTimer.singleShot(50, click)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "walkthrough")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lutlab-walk-"))
    os.environ["LUTLAB_DATA_DIR"] = str(work / "data")
    from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QMessageBox
    from skimage import data

    from app.main_window import MainWindow
    from app.merge_dialog import MergeDialog
    from engine.gpu.renderer import Layout

    qt = create_application()
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    photo_path = work / "coffee.png"
    coffee = data.coffee().astype(np.float32) / 255.0
    save_photo(Photo(coffee), photo_path)
    shots = []

    def shot(window: MainWindow, name: str, note: str) -> None:
        path = args.out / f"{len(shots) + 1:02d}-{name}.png"
        window.grab().save(str(path))
        shots.append(path)
        print(f"{len(shots):2d}. {note}  [{path.name}]")

    window = build_window(str(photo_path), settings=settings)
    window.resize(1400, 900)
    window.show()
    wait_until(qt, lambda: window.document is not None and window.document.path is not None, "the photo")
    shot(window, "open", f"opened {photo_path.name}: title {window.windowTitle()!r}, no edit, no split line")

    panel = window.adaptive_presets
    wait_until(qt, lambda: len(panel.luts) == len(panel.presets), "the preset thumbnails")
    auto = next(p for p in panel.presets if p.name == "Auto")
    panel.apply(auto.stem)
    wait_until(qt, lambda: window.lut is not None, "Auto")
    shot(window, "auto", f"Auto applied: {window.lut.title}")

    adjust_panel = getattr(window, "adjustments_panel", None)
    if adjust_panel is not None:
        adjust_panel.set_value("exposure", 0.5)
        wait_until(qt, lambda: window.document.find("adjust") is not None, "the exposure adjustment")
        shot(
            window,
            "exposure",
            f"exposure +0.5 EV on top of Auto: still one LUT ({window.lut.size}^3, {len(window.document.steps)} steps)",
        )

    window.set_layout(Layout.SPLIT_VERTICAL)
    labels = window.preview.labels
    wait_until(qt, lambda: labels["Before"].isVisible() and labels["After"].isVisible(), "the labels")
    shot(window, "compare", "split view: 'Before' left, 'After' right")

    frames = []
    for name, gain in (("dark", 0.35), ("mid", 1.0), ("bright", 2.4)):
        frame = work / f"bracket_{name}.png"
        save_photo(Photo(np.clip(coffee * gain, 0, 1)), frame)
        frames.append(frame)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in frames])
    answer(qt, "unsaved-edits", QMessageBox.StandardButton.Discard)  # the merge opens a new document
    window.dropEvent(
        QDropEvent(
            QPointF(60, 60), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
        )
    )
    wait_until(qt, lambda: window.findChild(MergeDialog, "merge-dialog") is not None, "the merge dialog")
    dialog = window.findChild(MergeDialog, "merge-dialog")
    shot(window, "merge-dialog", f"dropped 3 exposures: the merge dialog lists {len(dialog.frame_cards)} frames")
    dialog.merge_button.click()
    wait_until(qt, lambda: window.document.find("merge") is not None and not window.busy, "the merge")
    assert not any(d.isVisible() for d in window.findChildren(MergeDialog)), "the merge dialog came back"
    shot(window, "merged", "merged; before = the reference exposure, after = the merge; the dialog stays closed")
    window.document.undo()
    wait_until(qt, lambda: not window.document.edited, "undo")
    shot(window, "undo", f"undo: the merge is undone ({window.document.redo_text!r} can be redone)")

    window.open_photo(photo_path)  # after the undo nothing is unsaved: no question
    wait_until(qt, lambda: window.document.path == photo_path and not window.busy, "reopening the photo")
    panel.apply(auto.stem)
    wait_until(qt, lambda: window.lut is not None, "Auto again")
    target = photo_path.parent / "coffee-edit.jpg"
    target.write_bytes(b"an older export")
    dialog = window.export_dialog()
    dialog.show()
    answer(qt, "confirm-replace", QMessageBox.StandardButton.Yes)
    shot(window, "export-dialog", f"export dialog: {dialog.path.text()} (beside the photo)")
    dialog.export_button.click()
    window._export_with(dialog.options())
    wait_until(qt, lambda: not window.busy and target.stat().st_size > 100, "the export")
    shot(window, "exported", f"exported {target.name} after confirming the replacement")

    look = next(p for p in panel.presets if p.name != "Auto")
    panel.apply(look.stem)  # an edit not exported yet
    wait_until(qt, lambda: window.document.modified, "a new edit")
    answer(qt, "unsaved-edits", QMessageBox.StandardButton.Save)
    window.close()
    wait_until(qt, lambda: not window.isVisible(), "quitting")
    print(f"   quit: edits saved in {photo_path.name}.lutlab.json")

    again = build_window(None, settings=settings)
    again.resize(1400, 900)
    again.show()
    wait_until(
        qt,
        lambda: (
            again.document is not None and again.document.path is not None and again.lut is not None and not again.busy
        ),
        "the relaunch",
    )
    labels = [s.label for s in again.document.steps]
    assert labels == [f"Preset {look.name}"], labels
    shot(again, "relaunch", f"relaunched: {again.document.path.name} with its saved edits {labels}")
    again.document.mark_saved()
    again.adaptive_presets._background.wait()  # thumbnails still being made must not outlive the interpreter
    again.close()
    print(f"{len(shots)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
