"""Plug-in: the History panel (every edit step with an on/off checkbox), tabbed with the adjustments."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget

from app.editor_api import Editor


def install(window: Editor) -> None:
    from app.history_panel import HistoryPanel

    panel = HistoryPanel(window)
    dock = window.add_dock(panel, "History")
    neighbour = window.findChild(QDockWidget, "dock-Adjustments")
    if neighbour is not None:
        window.tabifyDockWidget(neighbour, dock)
    window.history_panel = panel  # type: ignore[attr-defined]
    panel.show_document()
