"""Small pieces the window needs: a slider with a typed-entry box, a collapsible section, a
call after a widget's first paint, and a progress bar update that does not paint at once.

Ours rather than superqt's: importing superqt loads every one of its widgets through qtpy,
which cost a third of the window's start-up time (bench/bench_startup.py).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox, QDoubleSpinBox, QHBoxLayout, QProgressBar, QSizePolicy, QSlider, QSpinBox, QToolButton,
    QVBoxLayout, QWidget,
)


class LabeledSlider(QWidget):
    """A horizontal slider with its value in a box beside it, where a number can be typed.
    Integers, or decimals with `decimals` places (the slider moves in those steps)."""

    valueChanged = Signal(object)

    def __init__(self, decimals: int | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._scale = 10 ** decimals if decimals is not None else 1
        self.slider = QSlider(Qt.Horizontal)
        if decimals is None:
            self.box = QSpinBox()
        else:
            self.box = QDoubleSpinBox(decimals=decimals)
        self.box.setKeyboardTracking(False)  # a typed number applies on Enter or leaving the box
        self.box.setButtonSymbols(QAbstractSpinBox.NoButtons)
        self.box.setAlignment(Qt.AlignRight)
        self.box.setMinimumWidth(64)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.box)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
        self.slider.valueChanged.connect(lambda v: self.box.setValue(self._from_slider(v)))
        self.box.valueChanged.connect(self._typed)

    def _to_slider(self, value) -> int:
        return round(value * self._scale)

    def _from_slider(self, value: int):
        return value / self._scale if self._scale != 1 else value

    def _typed(self, value) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_slider(value))
        self.slider.blockSignals(False)
        self.valueChanged.emit(value)

    def setRange(self, low, high) -> None:
        self.slider.setRange(self._to_slider(low), self._to_slider(high))
        self.box.setRange(low, high)

    def setSingleStep(self, step) -> None:
        self.slider.setSingleStep(max(1, self._to_slider(step)))
        self.box.setSingleStep(step)

    def setPageStep(self, step) -> None:
        self.slider.setPageStep(max(1, self._to_slider(step)))

    def setValue(self, value) -> None:
        self.box.setValue(value)

    def value(self):
        return self.box.value()

    def minimum(self):
        return self.box.minimum()

    def maximum(self):
        return self.box.maximum()


class Collapsible(QWidget):
    """A titled section whose content shows when its header is clicked; collapsed at first."""

    toggled = Signal(bool)

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.header = QToolButton(text=title, checkable=True, checked=False)
        self.header.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.RightArrow)
        self.header.setAutoRaise(True)
        self._content = QWidget(visible=False)
        self._content.setLayout(QVBoxLayout())
        self._content.layout().setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header, 0, Qt.AlignLeft)
        layout.addWidget(self._content)
        self.header.toggled.connect(self._show)

    def _show(self, on: bool) -> None:
        self.header.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
        self._content.setVisible(on)
        self.toggled.emit(on)

    def content(self) -> QWidget:
        return self._content

    def addWidget(self, widget: QWidget) -> None:
        self._content.layout().addWidget(widget)

    def isExpanded(self) -> bool:
        return self.header.isChecked()

    def expand(self) -> None:
        self.header.setChecked(True)

    def collapse(self) -> None:
        self.header.setChecked(False)


class AfterFirstPaint(QObject):
    """Calls `then` once `widget` has painted for the first time (on the next turn of the event
    loop: that paint has reached the screen by then), and stops watching. A Python event filter
    or event() override left in place would take Python's lock for every event the widget gets,
    and while a job holds that lock each one waits for it."""

    def __init__(self, widget: QWidget, then):
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._then)
        return False


def show_progress(bar: QProgressBar, value: int, maximum: int, text: str) -> None:
    """QProgressBar.setValue repaints the bar there and then, once per step; with updates off
    it only marks the bar, which is painted with the rest of the window's next update."""
    bar.setUpdatesEnabled(False)
    try:
        bar.setMaximum(maximum)
        bar.setValue(value)
        bar.setFormat(text)
    finally:
        bar.setUpdatesEnabled(True)  # schedules the repaint
