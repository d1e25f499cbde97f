"""Plug-in: File > Batch export…: the open photo's edit (LUT, preset, adjustments, strength) on many photos."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.batch_dialog import BatchDialog, batch_job, show_summary
from app.editor_api import Editor, as_parent
from engine.batch import Recipe
from engine.errors import InputError


def install(window: Editor) -> None:
    action = window.menu("File").addAction("Batch export…")
    action.setObjectName("batch-export")
    action.triggered.connect(lambda checked=False: ask_batch(window))


def current_recipe(window: Editor) -> Recipe:
    """The window's edit as a batch recipe; InputError when there is none or it cannot go to other photos."""
    document = window.document
    if document is None or not document.edited:
        raise InputError("There is no edit to apply: open a photo and give it a LUT, a preset or adjustments.")
    return Recipe.from_steps(document.steps, document.strength, window.interpolation)


def ask_batch(window: Editor) -> BatchDialog | None:
    try:
        recipe = current_recipe(window)
    except InputError as exc:
        window.show_error("Batch export", str(exc))
        return None
    title = " + ".join(label for _kind, label, _params, enabled in recipe.steps if enabled)
    dialog = BatchDialog(as_parent(window), title)
    dialog.setObjectName("batch-dialog")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.output.setText(str(window.settings.value("batch/output", "")))
    dialog.accepted.connect(
        lambda: start_batch(
            window,
            recipe,
            dialog.input_paths,
            Path(dialog.output.text()),
            dialog.overwrite.isChecked(),
            dialog.workers.value(),
        )
    )
    dialog.show()
    return dialog


def start_batch(window: Editor, recipe: Recipe, inputs: list[Path], output: Path, overwrite: bool, workers: int):
    """Run the batch as a job with progress and Cancel; the summary (and what failed) shows at the end."""
    window.settings.setValue("batch/output", str(output))

    def done(report) -> None:
        show_summary(window, report)

    return window.run_job(f"Batch export to {output.name}", batch_job(recipe, inputs, output, overwrite, workers), done)
