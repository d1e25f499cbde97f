"""The Train dialog's form for one kind's options, made from its `engine.train_kinds.Option` descriptors.

A bool becomes a check box, an option with choices a combo box (its data the value), an int a spin box;
each widget is an attribute named like its option (``form.lut_size``), and `values()` reads them all.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from engine.train_kinds import Option, TrainKind

SPIN_LIMIT = 2**31 - 1  # QSpinBox holds a C int


def _widget(option: Option) -> QWidget:
    start = option.start_value
    if option.type is bool:
        box = QCheckBox(option.label)
        box.setChecked(bool(start))
        return box
    if option.choices:
        combo = QComboBox()
        for value, label in option.choices:
            combo.addItem(label, value)
        combo.setCurrentIndex(combo.findData(start))
        return combo
    if option.type is int:
        low = option.low if option.low is not None else -SPIN_LIMIT
        high = min(option.high, SPIN_LIMIT) if option.high is not None else SPIN_LIMIT
        return QSpinBox(minimum=low, maximum=high, value=start)
    raise TypeError(f"option {option.name}: no form field for {option.type.__name__} without choices")


def _value(widget: QWidget) -> Any:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    assert isinstance(widget, QSpinBox)
    return widget.value()


class OptionsForm(QWidget):
    def __init__(self, kind: TrainKind) -> None:
        super().__init__()
        self.fields: dict[str, QWidget] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        if kind.note:
            note = QLabel(kind.note)
            note.setWordWrap(True)
            form.addRow(note)
        for option in kind.options:
            if not option.in_form:
                continue
            widget = _widget(option)
            widget.setObjectName(option.name)
            widget.setToolTip(option.help[:1].upper() + option.help[1:])
            self.fields[option.name] = widget
            setattr(self, option.name, widget)
            form.addRow("" if option.type is bool else option.label, widget)

    def values(self) -> dict[str, Any]:
        """The form's settings by option name (options the form does not show are left to their defaults)."""
        return {name: _value(widget) for name, widget in self.fields.items()}
