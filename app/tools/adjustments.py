"""Plug-in: the Adjustments panel (exposure, white balance, tone, colour), tabbed with the adaptive presets."""

from __future__ import annotations

from app.editor_api import Editor


def install(window: Editor) -> None:
    from app.adjust_panel import AdjustPanel

    panel = AdjustPanel(window)
    window.add_dock(panel, "Adjustments", tab_with="Adaptive presets")
    window.adjustments_panel = panel  # type: ignore[attr-defined]
