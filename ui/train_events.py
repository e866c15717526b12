"""Following a training child from the window: the thread that reads its events, and its ETA.

The child's events (engines/train/harness.py) are read on an EventReader thread, which
re-emits each as a Qt signal; Qt queues it to the GUI thread, so the window never waits on
the trainer's pipe.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from studio.downloads import human_duration
from studio.training import TrainingProcess


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
        return f"ETA {human_duration((total - step) / rate)}"


def ended_text(outcome: dict | None, code: int, stderr_line: str, step: int, total: int,
               run_folder: Path | None, model_ref: str | None) -> tuple[str, str, bool]:
    """How a run that ended is told: (the progress bar's text, the message, whether it is an error)."""
    kind = (outcome or {}).get("event")
    if kind == "finished":
        if model_ref is None:
            return (f"finished · step {step} / {total}",
                    "Training finished, but its model could not be added to the project", True)
        return (f"finished · step {step} / {total}", f"Training finished: the model {model_ref} is in the "
                "project. “Use this model now” opens it where it generates.", False)
    if kind == "stopped":
        return (f"stopped at step {step}", f"Stopped at step {step}; a checkpoint is saved. Choose the run "
                "under “Runs” and Continue to resume it.", False)
    if kind == "failed":
        what = "Cannot train" if outcome.get("kind") == "bad-input" else "The trainer crashed"
        where = f" (details: {run_folder / 'stderr.log'})" if run_folder is not None and stderr_line else ""
        return "failed", f"{what}: {outcome.get('error')}{where}", True
    # killed, or died before it could say why
    return "failed", (f"The trainer exited (status {code}) without finishing: {stderr_line or 'no message'}. "
                      "Continue resumes from its last checkpoint."), True
