"""Python's garbage collector runs in whichever thread happens to allocate. If that is a job
worker and the garbage holds a Qt object, Qt deletes it off the GUI thread and crashes.
So while the window lives, automatic collection is off and the GUI thread collects; not while
the job runner's warm-up imports the ML libraries (studio.jobs.JobRunner.prepare): a full
pass over what they are making would hold this thread for up to half a second, again and
again, and the warm-up then freezes those objects out of every later pass."""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from studio.jobs import collector_paused


class GuiThreadGC(QObject):
    def __init__(self, interval_ms: int = 500, parent: QObject | None = None):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        if collector_paused():
            return
        # Same generational thresholds as the automatic collector, just on this thread.
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                break

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
