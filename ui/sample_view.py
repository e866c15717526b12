"""The latest validation sample of a run, shown by what kind of file it is: an image
(.png/.jpg), text (.txt/.json/.jsonl) or audio (.wav/.flac/.ogg, with its waveform and Play).
A trainer of any kind of data writes its samples into the run's samples/ folder; this view
needs no code per trainer."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QStackedWidget, QVBoxLayout, QWidget

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
        """Show a sample file; False (and nothing changes) when it cannot be read."""
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            pixmap = QPixmap(str(path))
            if pixmap.isNull():
                return False
            self.image.show_image(pixmap)
            self.stack.setCurrentWidget(self.image)
        elif suffix in TEXT_SUFFIXES:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:TEXT_CHARS]
            except OSError:
                return False
            self.text.setPlainText(_readable(text, suffix))
            self.stack.setCurrentWidget(self.text)
        elif suffix in AUDIO_SUFFIXES:
            if self.waveform is None:
                from ui.waveform import WaveformView

                self.waveform = WaveformView()
                self.stack.addWidget(self.waveform)
            if not self.waveform.show_file(path):
                return False
            self.stack.setCurrentWidget(self.waveform)
        else:
            return False
        self.path = path
        self.caption.setText(f"step {step} · {path.name}")
        return True


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
