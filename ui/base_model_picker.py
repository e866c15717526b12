"""The base model of a trainer that adapts one (a LoRA): an editable list of the models the
base engine can use (studio.models.list_models, read on a worker thread: it looks at the
disk and the Hugging Face cache), where a path can also be typed or browsed to."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QToolButton, QWidget

from engines import registry
from studio import models
from ui.worker import Worker


class BaseModelPicker(QWidget):
    def __init__(self, project_root: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.project_root = project_root
        self.engine: str | None = None
        self._worker: Worker | None = None
        self.combo = QComboBox(editable=True, toolTip="The model the LoRA is trained for: pick one or type a path")
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.lineEdit().setPlaceholderText("a model folder or a hub id in your cache")
        browse = QToolButton(text="…", toolTip="Choose a model folder")
        browse.clicked.connect(self._browse)
        self.refresh_button = QToolButton(text="↻", toolTip="Look for models again")
        self.refresh_button.clicked.connect(self.refresh)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(browse)
        row.addWidget(self.refresh_button)

    def set_engine(self, engine: str) -> None:
        """List the models of this generation engine (once per engine, until refreshed)."""
        if engine != self.engine:
            self.engine = engine
            self.refresh()

    def refresh(self) -> None:
        if self.engine is None:
            return
        self._worker = Worker(_list, self.engine, self.project_root)
        self._worker.returned.connect(lambda found, engine=self.engine: self._fill(engine, found))
        self._worker.errored.connect(lambda exc: self.combo.setToolTip(f"cannot list the models: {exc}"))
        self._worker.start()

    def _fill(self, engine: str, found: list[dict]) -> None:
        if engine != self.engine:
            return  # the trainer changed while the list was read
        typed = self.value()
        self.combo.clear()
        for info in found:
            self.combo.addItem(info.get("name") or info["ref"], info["ref"])
            self.combo.setItemData(self.combo.count() - 1, info.get("path", info["ref"]), 3)  # Qt.ToolTipRole
        self.set_value(typed)

    def value(self) -> str:
        """The chosen model's reference, or the typed text."""
        text = self.combo.currentText().strip()
        i = self.combo.currentIndex()
        if i >= 0 and self.combo.itemText(i) == text:
            return self.combo.itemData(i) or text
        return text

    def set_value(self, ref: str) -> None:
        i = self.combo.findData(ref) if ref else -1
        if i >= 0:
            self.combo.setCurrentIndex(i)
        else:
            self.combo.setEditText(ref or "")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the base model folder", self.value())
        if folder:
            self.set_value(folder)


def _list(engine: str, project_root: Path) -> list[dict]:
    return models.list_models(registry.get(engine), project_root)
