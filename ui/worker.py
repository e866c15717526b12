"""Run one function off the GUI thread (on Qt's thread pool); its result or its exception
comes back as a signal, delivered on the GUI thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, Signal


class Worker(QObject):
    returned = Signal(object)
    errored = Signal(object)  # the exception

    def __init__(self, func, *args, **kwargs):
        super().__init__()  # no parent: the running task keeps this object alive, not a widget
        self._call = lambda: func(*args, **kwargs)

    def start(self, pool: QThreadPool | None = None) -> None:
        (pool or QThreadPool.globalInstance()).start(self._run)

    def _run(self) -> None:
        try:
            result = self._call()
        except Exception as exc:  # handed to the GUI thread, which says what happened
            self.errored.emit(exc)
        else:
            self.returned.emit(result)
