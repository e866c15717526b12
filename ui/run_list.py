"""The project's training runs with their settings: pick one to continue it (resume from its
last checkpoint), repeat it (the same settings as a new run) or use its finished model.
The list is read on a worker thread (studio.training.list_runs looks at every run folder)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout, QHeaderView, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

RESUMABLE = ("stopped", "interrupted", "failed")
RunRole = Qt.UserRole


def settings_text(run: dict) -> str:
    """A run's settings, one a line, for its tooltip."""
    params = run.get("params") or {}
    lines = [f"{run['name']} ({run['engine']}), {run['state']}", f"data: {run['data']}"]
    lines += [f"{k}: {v}" for k, v in sorted(params.items())] or ["(all settings at their defaults)"]
    if run.get("metrics"):
        lines.append("last evaluation: " + ", ".join(f"{k} {v:.4g}" for k, v in run["metrics"].items()
                                                    if isinstance(v, (int, float))))
    if run.get("model"):
        lines.append(f"model: {run['model']}")
    if run.get("error"):
        lines.append(f"error: {run['error']}")
    return "\n".join(lines)


def summary_text(run: dict) -> str:
    """The chosen run's settings on a line or two, under the list."""
    params = run.get("params") or {}
    shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(params.items()) if k != "base")
    base = f"on {params['base']} · " if params.get("base") else ""
    return f"{base}{shown or 'default settings'} · data {run.get('data', '')}"


class RunList(QWidget):
    resume_requested = Signal(str)  # run id
    repeat_requested = Signal(dict)  # the run (its settings)
    use_requested = Signal(dict)  # a finished run with its model

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.tree.setHeaderLabels(["Run", "Trainer", "State", "Step"])
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)  # the name takes what is left
        for column in (1, 2, 3):
            self.tree.header().setSectionResizeMode(column, QHeaderView.ResizeToContents)
        self.tree.setToolTip("The project's runs; hover one for its settings")
        self.resume_button = QPushButton("Continue", toolTip="Resume the chosen run from its last checkpoint")
        self.repeat_button = QPushButton("Repeat", toolTip="A new run with the chosen run's settings and data")
        self.use_button = QPushButton("Use this model now",
                                      toolTip="Open the chosen run's model in the workspace that generates with it")
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested, "run_id"))
        self.repeat_button.clicked.connect(lambda: self._emit(self.repeat_requested))
        self.use_button.clicked.connect(lambda: self._emit(self.use_requested))
        self.settings = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        font = self.settings.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.settings.setFont(font)
        self.tree.currentItemChanged.connect(lambda *_: self.update_buttons())
        buttons = QGridLayout()  # two rows: the column stays narrow
        buttons.addWidget(self.resume_button, 0, 0)
        buttons.addWidget(self.repeat_button, 0, 1)
        buttons.addWidget(self.use_button, 1, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.settings)
        layout.addLayout(buttons)
        self.busy = False
        self.prefer = ""  # a run to choose when the list is next shown (the one that just finished)
        self.update_buttons()

    def _emit(self, signal, key: str | None = None) -> None:
        run = self.chosen()
        if run:
            signal.emit(run[key] if key else run)

    def show_runs(self, runs: list[dict]) -> None:
        chosen, self.prefer = self.prefer or (self.chosen() or {}).get("run_id"), ""
        self.tree.clear()
        for run in runs:
            total = f" / {run['total_steps']}" if run.get("total_steps") else ""
            item = QTreeWidgetItem([run["name"], run["engine"], run["state"], f"{run['step']}{total}"])
            item.setData(0, RunRole, run)
            tip = settings_text(run)
            for column in range(4):
                item.setToolTip(column, tip)
            self.tree.addTopLevelItem(item)
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        pick = next((i for i in items if i.data(0, RunRole)["run_id"] == chosen), None)
        pick = pick or next((i for i in items if i.data(0, RunRole)["state"] in RESUMABLE), None)
        pick = pick or (items[0] if items else None)  # else the newest
        if pick is not None:
            self.tree.setCurrentItem(pick)
        self.update_buttons()

    def show_error(self, text: str) -> None:
        self.tree.clear()
        item = QTreeWidgetItem([f"cannot list the runs: {text}", "", "", ""])
        item.setFirstColumnSpanned(True)
        self.tree.addTopLevelItem(item)
        self.update_buttons()

    def runs(self) -> list[dict]:
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [run for run in (i.data(0, RunRole) for i in items) if run]

    def chosen(self) -> dict | None:
        item = self.tree.currentItem()
        return item.data(0, RunRole) if item is not None else None

    def choose(self, run_id: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if (item.data(0, RunRole) or {}).get("run_id") == run_id:
                self.tree.setCurrentItem(item)
                return True
        return False

    def update_buttons(self) -> None:
        run = self.chosen() or {}
        self.settings.setText(summary_text(run) if run else "")
        self.resume_button.setEnabled(not self.busy and run.get("state") in RESUMABLE)
        self.repeat_button.setEnabled(not self.busy and bool(run))
        self.use_button.setEnabled(bool(run.get("model")))
