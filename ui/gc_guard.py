"""Two settings of the interpreter that the window's GUI thread needs while it lives.

Python's garbage collector runs in whichever thread happens to allocate. If that is a job
worker and the garbage holds a Qt object, Qt deletes it off the GUI thread and crashes.
So while the window lives, automatic collection is off and the GUI thread collects; not while
the job runner's warm-up imports the ML libraries (studio.jobs.JobRunner.prepare): a full
pass over what they are making would hold this thread for up to half a second, again and
again, and the warm-up then freezes those objects out of every later pass.

A thread that wants Python's lock waits up to the switch interval (5 ms) before the holder must
let go, and the GUI thread takes the lock for every Python slot and event handler: while a job
or an import runs Python code, each of those waits. At 0.5 ms the warm-up's stall fell from
16-49 ms to 5-6 ms and the first generation's from 15-32 to 12-22 ms, and the generation took
as long (bench/README.md): the lock changes hands more often only while another thread asks."""
from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer

from studio.jobs import collector_paused

SWITCH_INTERVAL_S = 0.0005


class GuiThreadGC(QObject):
    def __init__(self, interval_ms: int = 500, parent: QObject | None = None):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
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
        sys.setswitchinterval(self._switch_interval)
        gc.collect()
        if self._was_enabled:
            gc.enable()
