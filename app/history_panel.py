"""The edit history as a list of steps, each with a checkbox to switch it off and on (like darktable's
history stack): pixel steps first, then the colour steps that compose into the one preview LUT. Toggling is
an undoable edit of the document; a step that is being recomputed says so."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.editor_api import Editor

UID_ROLE = Qt.ItemDataRole.UserRole


class HistoryPanel(QWidget):
    def __init__(self, window: Editor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = window
        self.list = QListWidget()
        self.list.setObjectName("history")
        self.hint = QLabel("No edits yet: the photo as it was opened.")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        self.list.itemChanged.connect(self._item_changed)
        window.documentChanged.connect(self.show_document)

    def show_document(self) -> None:
        document = self.editor.document
        self.list.blockSignals(True)
        self.list.clear()
        stale = {step.uid for step in document.stale()} if document is not None else set()
        for step in sorted(document.steps if document else (), key=lambda s: not s.is_pixel):
            item = QListWidgetItem(step.label + ("  (updating…)" if step.uid in stale else ""))
            item.setData(UID_ROLE, step.uid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if step.enabled else Qt.CheckState.Unchecked)
            item.setToolTip("pixel step (its result is kept)" if step.is_pixel else "colour step (part of the LUT)")
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.hint.setVisible(self.list.count() == 0)

    def _item_changed(self, item: QListWidgetItem) -> None:
        document = self.editor.document
        uid = item.data(UID_ROLE)
        if document is not None and document.step(uid).enabled != (item.checkState() == Qt.CheckState.Checked):
            document.toggle(uid)
