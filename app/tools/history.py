"""Plug-in: the History panel (every edit step with an on/off checkbox), tabbed with the adjustments."""

from __future__ import annotations

from app.editor_api import Editor


def install(window: Editor) -> None:
    from app.history_panel import HistoryPanel

    panel = HistoryPanel(window)
    window.add_dock(panel, "History", tab_with="Adjustments")
    window.history_panel = panel  # type: ignore[attr-defined]
    panel.show_document()
