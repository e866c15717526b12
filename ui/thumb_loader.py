"""Thumbnails built and read off the GUI thread, newest request first.

One daemon thread works through a stack (the rows just scrolled into view are asked last and
wanted first); each finished thumbnail comes back as a QImage through a queued signal. QImage
is safe to make off the GUI thread; the QPixmap is made on it, by the model.
"""
from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio import thumbs


class ThumbLoader(QObject):
    loaded = Signal(int, QImage)  # output id, thumbnail (null when there is none)
    failed = Signal(int, str)

    def __init__(self, project_root: Path, size: int = thumbs.SIZE, parent: QObject | None = None):
        super().__init__(parent)
        self.root, self.size = Path(project_root), size
        self._stack: list[tuple[int, Path, str, str]] = []
        self._pending: set[int] = set()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="thumbs", daemon=True)
        self._thread.start()

    def request(self, output_id: int, source: Path, sha256: str, kind: str) -> None:
        with self._wake:
            if output_id in self._pending:
                return
            self._pending.add(output_id)
            self._stack.append((output_id, source, sha256, kind))
            self._wake.notify()

    def forget_pending(self) -> None:
        """Drop what was asked and not started (the view changed to other rows)."""
        with self._wake:
            self._stack.clear()
            self._pending.clear()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._stack and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                output_id, source, sha256, kind = self._stack.pop()
            try:
                path = thumbs.ensure_thumb(self.root, source, sha256, kind, self.size)
                image = QImage(str(path)) if path is not None else QImage()
            except thumbs.ThumbError as exc:
                self.failed.emit(output_id, str(exc))
            else:
                self.loaded.emit(output_id, image)
            with self._wake:
                self._pending.discard(output_id)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._stack.clear()
            self._wake.notify()
        self._thread.join(5)
