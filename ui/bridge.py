"""Job events from worker threads, re-emitted as Qt signals on the GUI thread.

Progress and previews are coalesced (the newest per job wins) and delivered at most every
`interval_ms`, so a fast engine never floods the event loop; every other event is delivered
in order, none dropped. Nothing runs while no job talks: the first event after a quiet spell
wakes the GUI thread through a queued signal, which arms a single-shot timer.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from studio.jobs import JobEvent, JobRunner

COALESCED = ("progress", "preview")


class JobBridge(QObject):
    queued = Signal(int)
    started = Signal(int)
    moved = Signal(int)  # a queued job changed place
    progress = Signal(int, int, int)  # job id, step, total
    preview = Signal(int, object)
    output = Signal(int, object)
    finished = Signal(int, object)  # job id, generation object (or None)
    cancelled = Signal(int, object)
    failed = Signal(int, str)
    _wake = Signal()  # emitted on a worker thread, delivered on the GUI thread

    def __init__(self, runner: JobRunner, interval_ms: int = 50, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._ordered: list[JobEvent] = []
        self._latest: dict[tuple[int, str], JobEvent] = {}
        self._closed = False
        self._timer = QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._arm, Qt.QueuedConnection)
        self._unsubscribe = runner.subscribe(self._on_event)

    def _on_event(self, event: JobEvent) -> None:  # any thread
        with self._lock:
            idle = not self._ordered and not self._latest
            if event.kind in COALESCED:
                self._latest[(event.job_id, event.kind)] = event
            else:
                self._ordered.append(event)
        if idle:
            self._wake.emit()

    def _arm(self) -> None:  # GUI thread
        if not self._closed and not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Deliver what has arrived (GUI thread). Coalesced events of a job go before its
        terminal event, so the last progress never lands after "finished"."""
        with self._lock:
            latest, self._latest = self._latest, {}
            ordered, self._ordered = self._ordered, []
        for event in latest.values():
            if event.kind == "progress":
                self.progress.emit(event.job_id, *event.progress)
            else:
                self.preview.emit(event.job_id, event.preview)
        for event in ordered:
            kind = event.kind
            if kind in ("queued", "started", "moved"):
                getattr(self, kind).emit(event.job_id)
            elif kind == "output":
                self.output.emit(event.job_id, event.result)
            elif kind in ("finished", "cancelled"):
                getattr(self, kind).emit(event.job_id, event.result)
            elif kind == "failed":
                self.failed.emit(event.job_id, event.error or "")

    def close(self) -> None:
        """Stop listening (the window is going away: nothing more is delivered)."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        self._timer.stop()
