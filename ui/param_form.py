"""A form built from an engine's parameter schema: no per-engine widget code.

A parameter whose default is None means "the model's own" (its scheduler, its native
size); its editor stays off until the user ticks it, and it is left out of `values()`, so
an untouched form gives exactly the bare library call.
"""
from __future__ import annotations

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget,
)

from engines.api import Param, ParamError, validate


class ParamForm(QWidget):
    def __init__(self, params: tuple[Param, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self._params = [p for p in params if p.type != "loras"]  # LoRA lists get their own editor later
        self._editors: dict[str, QWidget] = {}
        self._enabled: dict[str, QCheckBox] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for p in self._params:
            editor = _editor(p)
            editor.setToolTip(p.help)
            self._editors[p.name] = editor
            row: QWidget = editor
            if p.default is None:
                toggle = QCheckBox()
                toggle.setToolTip("Off: the model's own value")
                editor.setEnabled(False)
                toggle.toggled.connect(editor.setEnabled)
                self._enabled[p.name] = toggle
                row = QWidget()
                box = QHBoxLayout(row)
                box.setContentsMargins(0, 0, 0, 0)
                box.addWidget(toggle)
                box.addWidget(editor, 1)
            label = QLabel(p.name.replace("_", " "))
            label.setToolTip(p.help)
            layout.addRow(label, row)
        self.error = QLabel()
        self.error.setStyleSheet("color: #d9534f")
        self.error.setWordWrap(True)
        layout.addRow(self.error)

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def set_value(self, name: str, value) -> None:
        """Set a parameter (and switch it on when its default is the model's own)."""
        if name in self._enabled:
            self._enabled[name].setChecked(value is not None)
        if value is None:
            return
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if isinstance(value, list) else str(value))
        else:
            editor.setValue(value)

    def values(self) -> dict:
        """The parameters the user set (not left at their default), validated by the
        engine's own schema (ParamError)."""
        raw = {}
        for p in self._params:
            if p.name in self._enabled and not self._enabled[p.name].isChecked():
                continue
            editor = self._editors[p.name]
            if isinstance(editor, QComboBox):
                raw[p.name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                raw[p.name] = editor.isChecked()
            elif isinstance(editor, QLineEdit):
                text = editor.text().strip()
                if text and p.type == "int":
                    raw[p.name] = int(text)
                elif text:
                    raw[p.name] = [s.strip() for s in text.split(",")] if p.type == "strings" else text
            else:
                raw[p.name] = editor.value()
        # What equals its default is left out: the engine applies (and records) defaults itself.
        defaults = {p.name: p.default for p in self._params}
        raw = {k: v for k, v in raw.items() if v != defaults[k]}
        try:
            checked = validate(self._params, raw)
        except ParamError as exc:
            self.error.setText(str(exc))
            raise
        self.error.clear()
        return checked


INT_MAX = 2**31 - 1  # what a QSpinBox holds


def _editor(p: Param) -> QWidget:
    if p.type == "int" and (p.max or 0) > INT_MAX:  # seeds: digits in a line edit, range-checked on use
        line = QLineEdit("" if p.default is None else str(p.default))
        line.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}")))
        return line
    if p.type == "int":
        box = QSpinBox()
        box.setRange(int(p.min if p.min is not None else -2**31), int(p.max if p.max is not None else 2**31 - 1))
        if p.multiple_of:
            box.setSingleStep(p.multiple_of)
        box.setValue(int(p.default) if p.default is not None else 512 if p.multiple_of else box.minimum())
        return box
    if p.type == "float":
        box = QDoubleSpinBox()
        box.setDecimals(3)
        box.setRange(p.min if p.min is not None else -1e9, p.max if p.max is not None else 1e9)
        box.setSingleStep(0.5 if (p.max or 0) > 5 else 0.05)
        box.setValue(float(p.default) if p.default is not None else box.minimum())
        return box
    if p.type == "choice":
        combo = QComboBox()
        combo.addItems(list(p.choices or ()))
        if p.default is not None:
            combo.setCurrentText(str(p.default))
        return combo
    if p.type == "bool":
        check = QCheckBox()
        check.setChecked(bool(p.default))
        return check
    line = QLineEdit("" if p.default is None else str(p.default))
    if p.type == "file":
        line.setPlaceholderText("path to a file")
    return line
