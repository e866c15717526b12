"""The audio workspace's centre: a clip's waveform, play/stop and a moving cursor.

Peaks and playback come from studio/player.py (Qt-free); this module only draws and polls.
Where no audio device exists, Play says so inline under the waveform: no dialog.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from studio.player import PlaybackError, Player, peaks

CURSOR_MS = 30  # cursor refresh while playing: smooth enough, cheap (one repaint)
EMPTY_TEXT = "Your clips appear here"


class WaveformCanvas(QWidget):
    """Draws (min, max) peaks, one per pixel column, and a cursor; recomputed on resize."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self._samples = np.zeros((0, 1), dtype=np.float32)
        self._peaks: np.ndarray | None = None  # for the current width
        self.cursor: float | None = None  # 0..1 of the clip, None: no cursor
        self.empty_text = EMPTY_TEXT

    def set_samples(self, samples: np.ndarray | None) -> None:
        self._samples = np.zeros((0, 1), dtype=np.float32) if samples is None else samples
        self._peaks = None
        self.cursor = None
        self.update()

    @property
    def samples(self) -> np.ndarray:
        return self._samples

    def has_clip(self) -> bool:
        return len(self._samples) > 0

    def column_peaks(self) -> np.ndarray:
        """(width, 2) min/max per pixel column, cached until the clip or the width changes."""
        width = max(1, self.width())
        if self._peaks is None or len(self._peaks) != width:
            self._peaks = peaks(self._samples, width)
        return self._peaks

    def resizeEvent(self, event) -> None:
        self._peaks = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        rect = QRectF(self.rect())
        painter.fillRect(rect, QColor(30, 30, 30))
        mid = rect.height() / 2
        painter.setPen(QPen(QColor(70, 70, 70), 1))
        painter.drawLine(QPointF(0, mid), QPointF(rect.width(), mid))
        if not self.has_clip():
            painter.setPen(QColor(136, 136, 136))
            painter.drawText(rect, Qt.AlignCenter, self.empty_text)
            return
        half = mid - 6  # a margin, so a full-scale clip does not touch the edges
        lows, highs = self.column_peaks().T
        # One closed outline: the maxima left to right, the minima back; a 1-pixel floor so
        # quiet passages stay visible as a line.
        path = QPainterPath()
        xs = np.arange(len(highs), dtype=np.float64) + 0.5
        tops = mid - np.clip(highs, -1, 1) * half
        bottoms = mid - np.clip(lows, -1, 1) * half
        bottoms = np.maximum(bottoms, tops + 1)
        path.moveTo(xs[0], tops[0])
        for x, y in zip(xs[1:], tops[1:]):
            path.lineTo(x, y)
        for x, y in zip(xs[::-1], bottoms[::-1]):
            path.lineTo(x, y)
        path.closeSubpath()
        painter.setPen(QPen(QColor(90, 170, 230), 1))
        painter.setBrush(QColor(60, 130, 190))
        painter.drawPath(path)
        if self.cursor is not None:
            x = min(max(self.cursor, 0.0), 1.0) * rect.width()
            painter.setPen(QPen(QColor(250, 200, 80), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, rect.height()))


class WaveformView(QWidget):
    """A clip's waveform with Play/Stop, a time readout and an inline message line."""

    playback_failed = Signal(str)

    def __init__(self, player: Player | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.player = player or Player()
        self.rate = 0
        self.path: Path | None = None
        self.canvas = WaveformCanvas()
        self.play_button = QPushButton("▶ Play", enabled=False, toolTip="Play the clip (again: stop)")
        self.play_button.setMinimumWidth(90)
        self.play_button.clicked.connect(self.toggle)
        self.time_label = QLabel("")
        self.info = QLabel("")  # sample rate, channels
        self.info.setStyleSheet("color: #888")
        self.message = QLabel("", wordWrap=True, visible=False)
        self.message.setStyleSheet("color: #e0a040")
        self.timer = QTimer(self, interval=CURSOR_MS)
        self.timer.timeout.connect(self._tick)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.time_label)
        row.addStretch(1)
        row.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(row)
        layout.addWidget(self.message)

    # -- the clip -------------------------------------------------------------------------
    def show_file(self, path: str | Path) -> bool:
        """Load a WAV/FLAC/OGG clip; a file that cannot be read is said inline."""
        import soundfile

        self.stop()
        try:
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            self.clear(f"cannot read {Path(path).name}: {exc}")
            return False
        self.path = Path(path)
        self.show_samples(samples, rate)
        return True

    def show_samples(self, samples: np.ndarray, rate: int) -> None:
        """Show a clip held in memory (a preview of one being made, or a loaded file)."""
        self.stop()
        data = np.asarray(samples, dtype=np.float32)
        data = data[:, None] if data.ndim == 1 else data
        self.rate = int(rate)
        self.canvas.set_samples(data)
        self.play_button.setEnabled(len(data) > 0)
        channels = {1: "mono", 2: "stereo"}.get(data.shape[1], f"{data.shape[1]} channels")
        self.info.setText(f"{self.rate / 1000:g} kHz · {channels}")
        self._show_time(0.0)

    def show_preview(self, samples: np.ndarray) -> None:
        """The clip being made, so far: drawn only (a preview carries no sample rate, and
        the finished clip replaces it)."""
        self.stop()
        data = np.asarray(samples, dtype=np.float32)
        self.path, self.rate = None, 0
        self.canvas.set_samples(data[:, None] if data.ndim == 1 else data)
        self.play_button.setEnabled(False)
        self.time_label.setText("being made…")
        self.info.setText("")

    def clear(self, text: str = EMPTY_TEXT) -> None:
        self.stop()
        self.path = None
        self.canvas.empty_text = text
        self.canvas.set_samples(None)
        self.play_button.setEnabled(False)
        self.time_label.setText("")
        self.info.setText("")

    def has_clip(self) -> bool:
        return self.canvas.has_clip()

    @property
    def duration_s(self) -> float:
        return len(self.canvas.samples) / self.rate if self.rate else 0.0

    # -- playback -------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> bool:
        if not self.has_clip():
            return False
        try:
            self.player.play(self.canvas.samples, self.rate)
        except PlaybackError as exc:
            self.say(str(exc))
            self.playback_failed.emit(str(exc))
            return False
        self.say("")
        self.play_button.setText("■ Stop")
        self.canvas.cursor = 0.0
        self.timer.start()
        return True

    def stop(self) -> None:
        self.timer.stop()
        self.player.stop()
        self.play_button.setText("▶ Play")
        self.canvas.cursor = None
        self.canvas.update()
        if self.rate:
            self._show_time(0.0)

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _tick(self) -> None:
        position = self.player.position_s
        if not self.player.playing:
            self.stop()
            return
        self.canvas.cursor = position / self.duration_s if self.duration_s else None
        self.canvas.update()
        self._show_time(position)

    def _show_time(self, position: float) -> None:
        self.time_label.setText(f"{_clock(position)} / {_clock(self.duration_s)}")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{rest:04.1f}"
