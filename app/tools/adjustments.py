"""Plug-in: the Adjustments panel (exposure, white balance, tone, colour), tabbed with the adaptive presets."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget

from app.editor_api import Editor


def install(window: Editor) -> None:
    from app.adjust_panel import AdjustPanel

    panel = AdjustPanel(window)
    dock = window.add_dock(panel, "Adjustments")
    presets = window.findChild(QDockWidget, "dock-Adaptive presets")
    if presets is not None:
        window.tabifyDockWidget(presets, dock)
        presets.raise_()
    window.adjustments_panel = panel
