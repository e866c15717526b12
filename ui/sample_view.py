"""The latest validation sample of a run, shown by what kind of file it is: an image
(.png/.jpg), text (.txt/.json/.jsonl) or audio (.wav/.flac/.ogg, with its waveform and Play).
A trainer of any kind of data writes its samples into the run's samples/ folder; this view
needs no code per trainer."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QStackedWidget, QVBoxLayout, QWidget

from ui.worker import Worker
from ui.workspace import ImageView

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
TEXT_SUFFIXES = (".txt", ".json", ".jsonl", ".md")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
EMPTY = "Samples appear here as they are written"
TEXT_CHARS = 20_000


class SampleView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.path: Path | None = None
        self._wanted = 0  # the latest sample asked for: an older one read later is not shown
        self._worker: Worker | None = None
        self.image = ImageView()
        self.image.setText(EMPTY)
        self.image.setMinimumSize(240, 240)
        self.text = QPlainTextEdit(readOnly=True)
        self.waveform = None  # built on the first audio sample (numpy and the player load then)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.image)
        self.stack.addWidget(self.text)
        self.caption = QLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)

    def clear(self) -> None:
        self.path = None
        if self.waveform is not None:
            self.waveform.stop()
        self.image.clear_image(EMPTY)
        self.stack.setCurrentWidget(self.image)
        self.caption.clear()

    def has_sample(self) -> bool:
        return self.path is not None

    def show_file(self, path: Path, step: int) -> bool:
        """Show a sample file now; False (and nothing changes) when it cannot be read."""
        return self._show(path, step, load(path))

    def show_later(self, path: Path, step: int) -> None:
        """Read the file on a worker thread (a 1024-pixel grid takes a while to decode), then
        show it, unless a newer sample came meanwhile."""
        self._wanted += 1
        wanted = self._wanted
        worker = Worker(load, path)
        worker.returned.connect(lambda loaded: wanted == self._wanted and self._show(path, step, loaded))
        worker.errored.connect(lambda exc: None)  # an unreadable sample: the last one stays
        self._worker = worker
        worker.start()

    def _show(self, path: Path, step: int, loaded) -> bool:
        if loaded is None:
            return False
        kind, content = loaded
        if kind == "image":
            self.image.show_image(QPixmap.fromImage(content))
            self.stack.setCurrentWidget(self.image)
        elif kind == "text":
            self.text.setPlainText(content)
            self.stack.setCurrentWidget(self.text)
        else:
            if self.waveform is None:
                from ui.waveform import WaveformView

                self.waveform = WaveformView()
                self.stack.addWidget(self.waveform)
            self.waveform.show_samples(*content)
            self.waveform.path = path
            self.stack.setCurrentWidget(self.waveform)
        self.path = path
        self.caption.setText(f"step {step} · {path.name}")
        return True


def load(path: Path):
    """("image", QImage) | ("text", str) | ("audio", (samples, rate)), or None when the file
    cannot be read or is of no kind shown here. Safe off the GUI thread."""
    suffix = path.suffix.lower()
    try:
        if suffix in IMAGE_SUFFIXES:
            image = QImage(str(path))
            return None if image.isNull() else ("image", image)
        if suffix in TEXT_SUFFIXES:
            return "text", _readable(path.read_text(encoding="utf-8", errors="replace")[:TEXT_CHARS], suffix)
        if suffix in AUDIO_SUFFIXES:
            import soundfile

            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            return "audio", (samples, rate)
    except (OSError, RuntimeError, ValueError):  # soundfile's errors are RuntimeErrors
        return None
    return None


def _readable(text: str, suffix: str) -> str:
    """A JSON sample (e.g. {prompt: completion}) laid out for reading; other text as it is."""
    if suffix != ".json":
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, list) and all(isinstance(d, dict) for d in data):
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in d.items()) for d in data)
    return json.dumps(data, indent=1, ensure_ascii=False)
