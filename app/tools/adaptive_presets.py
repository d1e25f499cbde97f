"""Plug-in: the adaptive-preset panel (dock) and Tools > Train Model… (presets, upscaling tables, ...)"""

from __future__ import annotations

from app.editor_api import Editor


def install(window: Editor) -> None:
    from app.preset_panel import PresetPanel

    panel = PresetPanel(window)
    window.add_dock(panel, "Adaptive presets")
    window.menu("Tools").addAction("&Train Model…", panel.open_train_dialog)
    window.adaptive_presets = panel  # type: ignore[attr-defined]  # published for tests and other plug-ins
