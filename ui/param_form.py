"""A form built from an engine's parameter schema: no per-engine widget code.

A parameter whose default is None means "the model's own" (its scheduler, its native
size); it shows as such until the user ticks its box, and it is left out of `values()`, so
an untouched form gives exactly the bare library call. `advanced` parameters sit in a
collapsed section. A text parameter can list the values the chosen model offers (its voices)
in a drop-down beside it (`set_suggestions`, from the engine's `suggestions(path)`).
"""
from __future__ import annotations

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QCompleter, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMenu,
    QSizePolicy, QSpinBox, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from engines.api import Param, ParamError, validate
from ui.loras_editor import LorasEditor
from ui.widgets import Collapsible, LabeledSlider

INT_MAX = 2**31 - 1  # what a QSpinBox holds
SLIDER_SPAN = 10_000  # wider ranges (seeds, token counts) get a plain number box
SMALL = 0.01  # a float whose default is this small (a learning rate) gets a box with enough decimals


class ParamForm(QWidget):
    def __init__(self, params: tuple[Param, ...], parent: QWidget | None = None):
        super().__init__(parent)
        self._params = list(params)
        self._editors: dict[str, QWidget] = {}
        self._enabled: dict[str, QCheckBox] = {}
        self._offered: dict[str, QToolButton] = {}  # text parameters' drop-downs of the model's values
        self.labels: list[QLabel] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        basic = QFormLayout()
        outer.addLayout(basic)
        self.advanced: Collapsible | None = None
        advanced = QFormLayout()
        advanced.setContentsMargins(0, 0, 0, 0)
        if any(p.advanced for p in self._params):
            self.advanced = Collapsible("Advanced")
            body = QWidget()
            body.setLayout(advanced)
            self.advanced.addWidget(body)
            outer.addWidget(self.advanced)
        for p in self._params:
            label = QLabel(p.name.replace("_", " "), toolTip=p.help)
            self.labels.append(label)
            (advanced if p.advanced else basic).addRow(label, self._row(p))
        self.error = QLabel(wordWrap=True)  # the engine's own message, when the form is invalid
        self.error.setStyleSheet("color: #d9534f")
        self.error.hide()
        outer.addWidget(self.error)

    def _row(self, p: Param) -> QWidget:
        editor = _editor(p)
        editor.setToolTip(p.help)
        self._editors[p.name] = editor
        widget = editor
        if p.type == "file":
            widget = _with_browse(editor, p)
        offered = None
        if p.type == "str":  # the drop-down sits outside the on/off stack: choosing a value ticks it
            offered = self._offered[p.name] = QToolButton(text="▾", visible=False, popupMode=QToolButton.InstantPopup)
            offered.setMenu(QMenu(offered))
            offered.setStyleSheet("QToolButton::menu-indicator { image: none; }")  # the ▾ says it
        if p.default is not None or p.type == "loras":  # an empty list of LoRAs is "none"
            if offered is None:
                return widget
            row = _row_widget()
            row.layout().addWidget(widget, 1)
            row.layout().addWidget(offered)
            return row
        # Off: a placeholder says what the engine will do; on: the editor.
        toggle = QCheckBox(toolTip=f"Set {p.name.replace('_', ' ')} (off: {_unset_text(p)})")
        stack = QStackedWidget()
        unset = QLineEdit(enabled=False, placeholderText=_unset_text(p), toolTip=p.help)
        stack.addWidget(unset)
        stack.addWidget(widget)
        stack.setFixedHeight(max(unset.sizeHint().height(), widget.sizeHint().height()))
        toggle.toggled.connect(lambda on: stack.setCurrentIndex(int(on)))
        self._enabled[p.name] = toggle
        row = _row_widget()
        row.layout().addWidget(toggle)
        row.layout().addWidget(stack, 1)
        if offered is not None:
            row.layout().addWidget(offered)
        return row

    def editor(self, name: str) -> QWidget:
        return self._editors[name]

    def set_suggestions(self, found: dict[str, list[str]]) -> None:
        """Offer each text parameter the values the chosen model has for it (its voices), in a
        drop-down beside it and as completions; none hides the drop-down."""
        for name, button in self._offered.items():
            values = [str(v) for v in found.get(name) or ()]
            menu, editor = button.menu(), self._editors[name]
            menu.clear()
            for value in values:
                action = menu.addAction(value)
                action.triggered.connect(lambda _=False, v=value, n=name: self.set_value(n, v))
            button.setVisible(bool(values))
            button.setToolTip(f"The model's {len(values)} {name.replace('_', ' ')} values" if values else "")
            editor.setCompleter(QCompleter(values, editor) if values else None)

    def suggestions(self, name: str) -> list[str]:
        """What the drop-down of a text parameter offers now."""
        button = self._offered.get(name)
        return [a.text() for a in button.menu().actions()] if button is not None else []

    def is_set(self, name: str) -> bool:
        """False while a parameter is left to the model (its box unticked)."""
        return name not in self._enabled or self._enabled[name].isChecked()

    def set_value(self, name: str, value) -> None:
        """Set a parameter (and switch it on when its default is the model's own)."""
        if name in self._enabled:
            self._enabled[name].setChecked(value is not None)
        if value is None:
            return
        param = next(p for p in self._params if p.name == name)
        if param.advanced and value != param.default and self.advanced is not None:
            self.advanced.expand()  # a value set from a recipe is not hidden
        editor = self._editors[name]
        if isinstance(editor, LorasEditor):
            editor.set_value(value)
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if isinstance(value, list) else str(value))
        else:
            editor.setValue(value)

    def values(self) -> dict:
        """The parameters the user set (not left at their default), validated by the
        engine's own schema; ParamError (also shown under the form) when invalid."""
        raw = {}
        for p in self._params:
            if not self.is_set(p.name):
                continue
            editor = self._editors[p.name]
            if isinstance(editor, LorasEditor):
                if editor.value():
                    raw[p.name] = editor.value()
            elif isinstance(editor, QComboBox):
                raw[p.name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                raw[p.name] = editor.isChecked()
            elif isinstance(editor, QLineEdit):
                text = editor.text().strip()
                if text and p.type == "int":
                    raw[p.name] = int(text)
                elif text:
                    raw[p.name] = [s.strip() for s in text.split(",") if s.strip()] if p.type == "strings" else text
            else:
                raw[p.name] = editor.value()
        # What equals its default is left out: the engine applies (and records) defaults itself.
        defaults = {p.name: p.default for p in self._params}
        raw = {k: v for k, v in raw.items() if v != defaults[k]}
        try:
            checked = validate(self._params, raw)
        except ParamError as exc:
            self.error.setText(str(exc))
            self.error.show()
            raise
        self.error.clear()
        self.error.hide()
        return checked


def _unset_text(p: Param) -> str:
    return "none" if p.type in ("file", "strings", "str") else "model's own"


def _editor(p: Param) -> QWidget:
    if p.type == "loras":
        return LorasEditor()
    if p.type == "int" and (p.max or 0) > INT_MAX:  # seeds: digits in a line edit, range-checked on use
        line = QLineEdit("" if p.default is None else str(p.default), placeholderText="a number")
        line.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}")))
        return line
    if p.type == "float" and p.default is not None and 0 < abs(p.default) < SMALL:  # learning rates: 1e-4
        box = QDoubleSpinBox(decimals=7, singleStep=float(p.default) / 2)
        box.setRange(p.min if p.min is not None else -1e9, p.max if p.max is not None else 1e9)
        box.setValue(float(p.default))
        return box
    if (p.type == "float" and p.default is not None and p.min is not None and p.max is not None
            and _decimals(p.default) > _slider_decimals(p)):
        # A decay of 0.999: a slider's two decimals would make it 1.00.
        box = QDoubleSpinBox(decimals=_decimals(p.default) + 1, singleStep=10.0 ** -_decimals(p.default))
        box.setRange(p.min, p.max)
        box.setValue(float(p.default))
        return box
    if p.type in ("int", "float") and p.min is not None and p.max is not None and p.max - p.min <= SLIDER_SPAN:
        return _slider(p)
    if p.type == "int":
        box = QSpinBox()
        box.setRange(int(p.min if p.min is not None else -INT_MAX - 1), int(p.max if p.max is not None else INT_MAX))
        if p.multiple_of:
            box.setSingleStep(p.multiple_of)
        # A default of None starts the editor somewhere sensible once ticked (512 for sizes).
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
        return QCheckBox(checked=bool(p.default))
    line = QLineEdit("" if p.default is None else _text(p.default))
    line.setPlaceholderText({"file": "path to a file", "strings": "comma separated"}.get(p.type, ""))
    return line


def _slider(p: Param) -> QWidget:
    """A slider with its value in a box beside it, where a number can be typed."""
    if p.type == "int":
        slider = LabeledSlider()
        slider.setRange(int(p.min), int(p.max))
        slider.setSingleStep(p.multiple_of or 1)
        slider.setPageStep(max(p.multiple_of or 1, (int(p.max) - int(p.min)) // 10))
        slider.setValue(int(p.default) if p.default is not None else 512 if p.multiple_of else int(p.min))
    else:
        slider = LabeledSlider(decimals=_slider_decimals(p))
        slider.setRange(float(p.min), float(p.max))
        slider.setSingleStep(0.05 if p.max - p.min <= 5 else 0.5)
        slider.setValue(float(p.default) if p.default is not None else float(p.min))
    return slider


def _slider_decimals(p: Param) -> int:
    return 2 if p.max - p.min <= 10 else 1


def _decimals(value: float) -> int:
    """How many decimals a value is written with (0.999: 3)."""
    text = repr(float(value))
    return 0 if "e" in text else len(text.partition(".")[2].rstrip("0"))


def _text(value) -> str:
    return ", ".join(value) if isinstance(value, (list, tuple)) else str(value)


def _with_browse(line: QLineEdit, p: Param) -> QWidget:
    """A path field with a "…" button that opens a file dialog."""
    def browse() -> None:
        from PySide6.QtWidgets import QFileDialog  # dialogs: imported when one opens (ui/main_window.py)

        path, _ = QFileDialog.getOpenFileName(line, f"Choose the {p.name.replace('_', ' ')}", line.text())
        if path:
            line.setText(path)

    button = QToolButton(text="…", toolTip="Browse for a file")
    button.clicked.connect(browse)
    row = _row_widget()
    row.layout().addWidget(line, 1)
    row.layout().addWidget(button)
    return row


def _row_widget() -> QWidget:
    """A container for a row of editors that stays one line high, as the editors do (a
    plain QWidget would take a share of any spare height and drift from its label)."""
    row = QWidget()
    row.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    return row
