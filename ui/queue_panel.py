"""The queue: every job of this session with its state, progress and ETA; re-order the ones
waiting, cancel one or all."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from studio.jobs import TERMINAL, Job, JobRunner
from ui.bridge import JobBridge

COLUMNS = ("#", "What", "State", "Progress", "ETA")
COLUMN_SAMPLES = {0: "0000", 2: "cancelled", 3: "1000/1000 · 100%", 4: "00 min"}  # the widest usual text
KEEP_ENDED = 50  # ended jobs shown below the live ones


class QueuePanel(QWidget):
    changed = Signal()  # the number of live jobs changed (the status bar listens)

    def __init__(self, runner: JobRunner, bridge: JobBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner, self.bridge = runner, bridge
        self._items: dict[int, QTreeWidgetItem] = {}
        self._progress: dict[int, tuple[int, int, float]] = {}  # job -> step, total, time of step
        self.tree = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setSelectionMode(QAbstractItemView.ExtendedSelection)
        # Widths from the font, not ResizeToContents: that measures every row again at each
        # progress step (the state, progress and ETA change several times a second).
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.Interactive)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        metrics = self.tree.fontMetrics()
        for column, widest in COLUMN_SAMPLES.items():
            header.resizeSection(column, metrics.horizontalAdvance(widest) + 24)
        self.up = QPushButton("▲ Sooner", toolTip="Run the selected waiting job sooner")
        self.down = QPushButton("▼ Later", toolTip="Run the selected waiting job later")
        self.cancel = QPushButton("Cancel", toolTip="Cancel the selected jobs")
        self.cancel_all = QPushButton("Cancel all", toolTip="Esc")
        self.clear_ended = QPushButton("Clear ended")
        buttons = QHBoxLayout()
        for button in (self.up, self.down, self.cancel, self.cancel_all, self.clear_ended):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 1)
        self.up.clicked.connect(lambda: self.move_selected(-1))
        self.down.clicked.connect(lambda: self.move_selected(+1))
        self.cancel.clicked.connect(self.cancel_selected)
        self.cancel_all.clicked.connect(self.runner.cancel_all)
        self.clear_ended.clicked.connect(self.remove_ended)
        b = bridge
        b.queued.connect(self._on_queued)
        b.started.connect(lambda job_id: self._update(job_id))
        b.moved.connect(lambda job_id: self._reorder())
        b.progress.connect(self._on_progress)
        for signal in (b.finished, b.cancelled, b.failed):
            signal.connect(lambda job_id, *_: self._on_end(job_id))
        self._tick = QTimer(self, interval=1000)  # the ETA counts down between progress events
        self._tick.timeout.connect(self._update_running)
        self._tick.start()

    # -- what is shown --------------------------------------------------------------------
    def job_ids(self) -> list[int]:
        """Top to bottom: running, then waiting in the order they will run, then ended."""
        return [self.tree.topLevelItem(i).data(0, Qt.UserRole) for i in range(self.tree.topLevelItemCount())]

    def live(self) -> list[Job]:
        return [self.runner.get(i) for i in self._items if self.runner.get(i).state not in TERMINAL]

    def _on_queued(self, job_id: int) -> None:
        job = self.runner.get(job_id)
        item = QTreeWidgetItem([str(job_id), _describe(job), "", "", ""])
        item.setData(0, Qt.UserRole, job_id)
        item.setToolTip(1, job.request.prompt)
        self._items[job_id] = item
        self.tree.addTopLevelItem(item)
        self._reorder()

    def _on_progress(self, job_id: int, step: int, total: int) -> None:
        self._progress[job_id] = (step, total, time.time())
        self._update(job_id)

    def _on_end(self, job_id: int) -> None:
        self._update(job_id)
        self._reorder()
        ended = [i for i in self.job_ids() if self.runner.get(i).state in TERMINAL]
        for old in ended[KEEP_ENDED:]:
            self._remove(old)

    def _update_running(self) -> None:
        for job in self.live():
            if job.state == "running":
                self._update(job.id)

    def _update(self, job_id: int) -> None:
        item = self._items.get(job_id)
        if item is None:
            return
        job = self.runner.get(job_id)
        step, total, _ = self._progress.get(job_id, (0, 0, 0.0))
        item.setText(2, job.state + (f": {job.error}" if job.error else ""))
        item.setToolTip(2, job.error or "")
        item.setText(3, f"{step}/{total} · {100 * step // total}%" if total else "")
        item.setText(4, _eta(job, step, total))

    def _reorder(self) -> None:
        """Put the rows in the order the runner will run them."""
        waiting = [j.id for j in self.runner.queued()]
        running = [i for i in self._items if self.runner.get(i).state == "running"]
        ended = [i for i in self.job_ids() if self.runner.get(i).state in TERMINAL]
        order = running + [i for i in waiting if i in self._items] + [i for i in ended if i in self._items]
        if order == self.job_ids():
            for job_id in order:
                self._update(job_id)
            self.changed.emit()
            return
        selected = {item.data(0, Qt.UserRole) for item in self.tree.selectedItems()}
        for _ in range(self.tree.topLevelItemCount()):
            self.tree.takeTopLevelItem(0)
        for job_id in order:
            item = self._items[job_id]
            self.tree.addTopLevelItem(item)
            item.setSelected(job_id in selected)
            self._update(job_id)
        self.changed.emit()

    # -- actions --------------------------------------------------------------------------
    def move_selected(self, delta: int) -> None:
        waiting = [j.id for j in self.runner.queued()]
        chosen = [i.data(0, Qt.UserRole) for i in self.tree.selectedItems()]
        chosen = [i for i in chosen if i in waiting]
        for job_id in sorted(chosen, key=waiting.index, reverse=delta > 0):
            self.runner.move(job_id, max(0, waiting.index(job_id) + delta))
            waiting = [j.id for j in self.runner.queued()]
        self._reorder()

    def cancel_selected(self) -> None:
        for item in self.tree.selectedItems():
            self.runner.cancel(item.data(0, Qt.UserRole))

    def remove_ended(self) -> None:
        for job_id in [i for i in self.job_ids() if self.runner.get(i).state in TERMINAL]:
            self._remove(job_id)

    def _remove(self, job_id: int) -> None:
        item = self._items.pop(job_id)
        self._progress.pop(job_id, None)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))


def _describe(job: Job) -> str:
    prompt = job.request.prompt.replace("\n", " ")
    count = f" ×{job.request.count}" if job.request.count > 1 else ""
    return f"{job.request.engine}{count} · {prompt[:60] or '(no prompt)'}"


def _eta(job: Job, step: int, total: int) -> str:
    """Time left from the pace so far (loading the model counts as the first steps' time)."""
    if job.state != "running" or not total or not step or job.started_at is None:
        return ""
    elapsed = time.time() - job.started_at
    left = max(0.0, elapsed / step * (total - step))
    return f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
