"""Pieces of the Train workspace: the thread that follows a training child, the loss plot,
and the data report in words.

The child's events (engines/train/harness.py) are read on an EventReader thread, which
re-emits each as a Qt signal; Qt queues it to the GUI thread, so the window never waits on
the trainer's pipe.
"""
from __future__ import annotations

import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QThread, Signal

from studio.training import TrainingProcess

SHOWN = 12  # files listed per section of the report; the counts say how many more
STEP_PLOTTED_MAX = 20_000  # points per curve before it is thinned (a long run stays fast to draw)


class EventReader(QThread):
    """Follows one TrainingProcess: `event` per JSON event, then `ended` once the child exits."""

    event = Signal(object)
    ended = Signal(int, str)  # exit status, the last line of the child's stderr

    def __init__(self, run: TrainingProcess, parent=None):
        super().__init__(parent)
        self.process = run

    def run(self) -> None:
        try:
            for event in self.process.events():
                self.event.emit(event)
        except Exception as exc:  # registering the model can fail (disk full): say so, never crash
            self.event.emit({"event": "failed", "kind": "crash", "error": f"{type(exc).__name__}: {exc}",
                             "step": None})
        code = self.process.wait()
        self.ended.emit(code if code is not None else -1, last_line(self.process.folder / "stderr.log"))


def last_line(path: Path) -> str:
    """The last non-empty line of a log (its end only: a long log is not read whole)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


class LossPlot(pg.PlotWidget):
    """One curve per loss name, redrawn at most every `interval` seconds."""

    def __init__(self, parent=None):
        super().__init__(parent, background="#1e1e1e")
        self.setLabel("bottom", "step")
        self.setLabel("left", "loss")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.legend = self.addLegend(offset=(-10, 10))
        self.legend.setBrush(pg.mkBrush(30, 30, 30, 200))  # readable over the curves
        self.setMinimumHeight(200)
        self.data: dict[str, tuple[list[float], list[float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False

    def add(self, step: int, losses: dict) -> None:
        for name, value in losses.items():
            if value is None:
                continue
            xs, ys = self.data.setdefault(name, ([], []))
            xs.append(step)
            ys.append(float(value))
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for name, (xs, ys) in self.data.items():
            curve = self.curves.get(name)
            if curve is None:
                color = pg.intColor(len(self.curves), hues=6, values=1, minValue=200)
                curve = self.curves[name] = self.plot(name=name, pen=pg.mkPen(color, width=1.5))
            every = max(1, len(xs) // STEP_PLOTTED_MAX)
            curve.setData(xs[::every], ys[::every])

    def reset(self) -> None:
        self.data.clear()
        for curve in self.curves.values():
            self.removeItem(curve)
        self.legend.clear()
        self.curves.clear()
        self._dirty = False

    def points(self, name: str) -> int:
        """How many points the drawn curve of `name` has (0 when none)."""
        curve = self.curves.get(name)
        return 0 if curve is None or curve.xData is None else len(curve.xData)


class Eta:
    """Steps per second since the (re)start of a run, and the time left at that rate."""

    def __init__(self) -> None:
        self.start: tuple[float, int] | None = None

    def begin(self, step: int) -> None:
        self.start = (time.monotonic(), step)

    def text(self, step: int, total: int) -> str:
        if self.start is None or step <= self.start[1]:
            return "ETA …"
        rate = (step - self.start[1]) / max(time.monotonic() - self.start[0], 1e-6)
        return f"ETA {duration((total - step) / rate)}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def report_summary(report) -> str:
    files = len(report.kept) + len(report.skipped) + len(report.duplicates)
    text = (f"{files} file{'s' * (files != 1)}: {len(report.kept)} kept, {len(report.skipped)} skipped, "
            f"{len(report.duplicates)} duplicate{'s' * (len(report.duplicates) != 1)}")
    if report.kept:
        text += f" · {report.train} for training, {report.val} held out"
    return text


def report_details(report) -> str:
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

    section("Skipped", [f"{s['file']} — {s['reason']}" for s in report.skipped])
    section("Duplicates", [f"{d['file']} — {'same pixels as' if d['kind'] == 'exact' else 'looks like'} "
                           f"{d['duplicate_of']}" + (f" ({d['distance']} bits apart)" if d["kind"] == "near" else "")
                           for d in report.duplicates])
    section("Kept", list(report.kept))
    if report.converted:
        lines.append(f"{len(report.converted)} converted to the training colour mode "
                     f"(e.g. {report.converted[0]['file']}: {report.converted[0]['from']} → "
                     f"{report.converted[0]['to']})")
    return "\n".join(lines).strip()
