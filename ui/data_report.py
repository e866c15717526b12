"""The Train workspace's data report: what a folder holds for the chosen trainer, in words,
with a few samples and their captions (images: thumbnail and caption as the LoRA trainer
reads it; text: a document's first lines; audio: its waveform and length).

The scan runs on a worker thread (`scan_folder`, which also decodes the thumbnails as QImages,
safe off the GUI thread); the widget only shows what came back. Reports are dicts: the keys
of engines.data.Report.to_dict() plus "summary", for every kind of data.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QScrollArea, QVBoxLayout, QWidget

from studio import train_data

SHOWN = 12  # files listed per section of the details; the counts say how many more
THUMB = 72
ERROR_STYLE = "color: #d9534f"


def scan_folder(engine: str, folder: str, params: dict) -> dict:
    """studio.train_data.scan plus each image sample's thumbnail (a QImage): for a worker."""
    found = train_data.scan(engine, folder, params)
    if found["data"] == "images":
        for sample in found["samples"]:
            image = QImage(sample["path"])
            sample["thumb"] = None if image.isNull() else image.scaled(
                THUMB, THUMB, Qt.KeepAspectRatio, Qt.FastTransformation if image.width() <= THUMB
                else Qt.SmoothTransformation)
    elif found["data"] == "audio":
        for sample in found["samples"]:
            sample["thumb"] = None if sample.get("peaks") is None else waveform_image(sample["peaks"])
    return found


def waveform_image(peaks) -> QImage:
    """(min, max) peaks per column drawn as a THUMB-high waveform (a QImage: paints off the GUI thread)."""
    image = QImage(len(peaks), THUMB, QImage.Format_RGB32)
    image.fill(QColor("#1e1e1e"))
    painter = QPainter(image)
    painter.setPen(QColor("#4fc3f7"))
    middle = (THUMB - 1) / 2
    for x, (low, high) in enumerate(peaks):
        painter.drawLine(x, round(middle - float(high) * middle), x, round(middle - float(low) * middle))
    painter.end()
    return image


def _count(value) -> int:
    return len(value) if isinstance(value, (list, tuple)) else int(value or 0)


def report_summary(report: dict) -> str:
    kept, skipped, dups = (_count(report.get(k)) for k in ("kept", "skipped", "duplicates"))
    files = kept + skipped + dups
    text = (f"{files} file{'s' * (files != 1)}: {kept} kept, {skipped} skipped, "
            f"{dups} duplicate{'s' * (dups != 1)}")
    if report.get("train") or report.get("val"):  # a scan that does not split (audio, text) says nothing of it
        text += f" · {report.get('train', 0)} for training, {report.get('val', 0)} held out"
    return text


def report_details(report: dict) -> str:
    """What was left out and why, then what was kept: a short list of each."""
    lines: list[str] = []

    def section(title: str, rows: list[str]) -> None:
        if not rows:
            return
        lines.append(f"{title} ({len(rows)}):")
        lines.extend(f"  {row}" for row in rows[:SHOWN])
        if len(rows) > SHOWN:
            lines.append(f"  … and {len(rows) - SHOWN} more")
        lines.append("")

    def rows(key: str) -> list:
        value = report.get(key)
        return value if isinstance(value, list) else []

    section("Skipped", [f"{s['file']} — {s['reason']}" for s in rows("skipped")])
    section("Duplicates", [f"{d['file']} — {'same pixels as' if d.get('kind') == 'exact' else 'looks like'} "
                           f"{d['duplicate_of']}" + (f" ({d['distance']} bits apart)" if d.get("kind") == "near"
                                                     else "") for d in rows("duplicates")])
    section("Kept", [k if isinstance(k, str) else str(k.get("file", k)) for k in rows("kept")])
    converted = rows("converted")
    if converted:
        lines.append(f"{len(converted)} converted to the training colour mode "
                     f"(e.g. {converted[0]['file']}: {converted[0]['from']} → {converted[0]['to']})")
    if report.get("summary") and not rows("kept"):
        lines.append(str(report["summary"]))
    return "\n".join(lines).strip()


class DataReport(QWidget):
    """Summary line, a strip of samples with captions, and the details of every file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.report: dict | None = None
        self.summary = QLabel("Choose a folder to see what it holds", wordWrap=True)
        self.samples = QWidget()
        self.samples_row = QHBoxLayout(self.samples)
        self.samples_row.setContentsMargins(0, 0, 0, 0)
        self.samples_row.addStretch(1)
        strip = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        strip.setWidget(self.samples)
        strip.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        strip.setFixedHeight(THUMB + 64)
        self.strip = strip
        self.details = QPlainTextEdit(readOnly=True, placeholderText="Skipped files and duplicates are listed here")
        self.details.setMaximumHeight(130)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(strip)
        layout.addWidget(self.details)
        strip.hide()

    def scanning(self, folder: str) -> None:
        self.summary.setText(f"Scanning {folder} …")
        self.summary.setStyleSheet("")
        self.details.clear()
        self._set_samples([])

    def show_report(self, found: dict | None, error: BaseException | None = None) -> None:
        report = (found or {}).get("report") if error is None else getattr(error, "report", None)
        self.report = report
        self.summary.setText(report_summary(report) if report else "")
        self.details.setPlainText(report_details(report) if report else "")
        self._set_samples((found or {}).get("samples") or [] if error is None else [])
        if error is not None:
            self.summary.setText(f"{self.summary.text()}\n{error}".strip())
            self.summary.setStyleSheet(ERROR_STYLE)
        else:
            self.summary.setStyleSheet("")

    def captions(self) -> list[str]:
        """The captions shown under the samples, in order."""
        return [card.findChild(QLabel, "caption").text() for card in self._cards()]

    def _cards(self) -> list[QWidget]:
        return [self.samples_row.itemAt(i).widget() for i in range(self.samples_row.count() - 1)]

    def _set_samples(self, samples: list[dict]) -> None:
        for card in self._cards():
            self.samples_row.removeWidget(card)
            card.deleteLater()
        for i, sample in enumerate(samples):
            self.samples_row.insertWidget(i, _card(sample))
        self.strip.setVisible(bool(samples))


def _card(sample: dict) -> QWidget:
    """One sample: its thumbnail (images) over its caption or first lines, the file as tooltip."""
    card = QFrame(frameShape=QFrame.StyledPanel, toolTip=sample["file"])
    box = QVBoxLayout(card)
    box.setContentsMargins(4, 4, 4, 4)
    thumb = sample.get("thumb")
    text = sample.get("caption") or sample["file"]
    if thumb is not None:
        picture = QLabel(alignment=Qt.AlignCenter)
        picture.setPixmap(QPixmap.fromImage(thumb))
        picture.setFixedSize(THUMB, THUMB)
        box.addWidget(picture, 0, Qt.AlignHCenter)
    caption = QLabel(text, objectName="caption", wordWrap=True, alignment=Qt.AlignTop | Qt.AlignLeft)
    caption.setToolTip(f"{sample['file']}\n{text}")
    font = caption.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    caption.setFont(font)
    width = THUMB + 48 if thumb is not None else 220
    caption.setFixedWidth(width)
    caption.setMaximumHeight(56)
    box.addWidget(caption)
    return card
