"""The editor of a `loras` parameter ([[file, weight], ...]): one row per LoRA file with its
weight, added by file dialog (or by the Train workspace's "use this model now")."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget,
)

WEIGHT_RANGE = (-4.0, 4.0)  # what A1111's <lora:name:weight> is used with


class LorasEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._rows: list[tuple[str, QDoubleSpinBox, QWidget]] = []
        self.list = QVBoxLayout()
        self.list.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("none", enabled=False)
        self.list.addWidget(self.empty)
        add = QToolButton(text="Add LoRA…", toolTip="Add a LoRA file (.safetensors)")
        add.clicked.connect(self._browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.list)
        layout.addWidget(add)

    def value(self) -> list[list]:
        return [[file, round(weight.value(), 3)] for file, weight, _ in self._rows]

    def set_value(self, loras) -> None:
        for _, _, row in self._rows:
            row.deleteLater()
        self._rows.clear()
        for file, weight in loras or []:
            self.add(str(file), float(weight))
        self.empty.setVisible(not self._rows)
        self.changed.emit()

    def add(self, file: str, weight: float = 1.0) -> None:
        """Add a LoRA (or set the weight of one already there)."""
        for known, box, _ in self._rows:
            if known == file:
                box.setValue(weight)
                return
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        # Its folder and name (a trained LoRA's folder is the model's name), as narrow as the column is.
        shown = f"{Path(file).parent.name}/{Path(file).name}" if Path(file).parent.name else file
        name = QLineEdit(shown, readOnly=True, toolTip=file)
        name.setMinimumWidth(60)
        name.setCursorPosition(0)
        box = QDoubleSpinBox(decimals=2, singleStep=0.05, toolTip="The LoRA's weight (1: as trained)")
        box.setRange(*WEIGHT_RANGE)
        box.setValue(weight)
        remove = QToolButton(text="✕", toolTip="Remove this LoRA")
        remove.clicked.connect(lambda: self._remove(file))
        line.addWidget(name, 1)
        line.addWidget(box)
        line.addWidget(remove)
        self.list.addWidget(row)
        self._rows.append((file, box, row))
        self.empty.hide()
        self.changed.emit()

    def _remove(self, file: str) -> None:
        self.set_value([pair for pair in self.value() if pair[0] != file])

    def _browse(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # dialogs: imported when one opens (ui/main_window.py)

        path, _ = QFileDialog.getOpenFileName(self, "Choose a LoRA file", "", "LoRA files (*.safetensors)")
        if path:
            self.add(path)
