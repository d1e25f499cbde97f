"""Plug-in: Image > Upscale ×2… / ×4…: LUT super-resolution of the open photo (undoable)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.editor_api import Editor, as_parent
from app.upscale_dialog import UpscaleDialog, upscale_job
from engine.errors import InputError
from engine.sr.infer import MAX_OUTPUT_PIXELS, check_output_size


def install(window: Editor) -> None:
    menu = window.menu("Image")
    for scale in (2, 4):
        action = menu.addAction(f"Upscale ×{scale}…")
        action.setObjectName(f"upscale-x{scale}")
        action.triggered.connect(lambda checked=False, scale=scale: ask_upscale(window, scale))


def ask_upscale(window: Editor, scale: int) -> UpscaleDialog | None:
    """Show the upscale dialog for the open photo; OK starts the job."""
    if window.photo is None:
        window.show_error("Upscale", "Open a photo first.")
        return None
    dialog = UpscaleDialog(as_parent(window), window.photo, scale)
    dialog.setObjectName("upscale-dialog")
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def start() -> None:
        if dialog.model is not None:  # None only while no table exists for the factor (OK is disabled then)
            start_upscale(window, dialog.scale, *dialog.model)

    dialog.accepted.connect(start)
    dialog.show()
    return dialog


def start_upscale(window: Editor, scale: int, name: str, path, max_pixels: int = MAX_OUTPUT_PIXELS) -> None:
    """Upscale the open photo with the table at `path` as a job; the result replaces it (undoable)."""
    photo = window.photo
    if photo is None:
        return
    try:
        check_output_size(photo.height, photo.width, scale, max_pixels)
    except InputError as exc:
        window.show_error("Upscale", str(exc))
        return
    description = f"Upscale ×{scale} ({name})"
    window.run_job(
        description,
        upscale_job(photo, path, max_pixels),
        lambda result: window.replace_photo(result, description, "upscale", {"scale": scale, "model": name}),
    )
