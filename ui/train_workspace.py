"""The Train workspace: a folder in, a model of the project out, for every trainer of
engines/train/schema.py TRAINERS (GAN, VAE, diffusion LoRA, and text or audio trainers as
they are added), with no code per trainer.

Left (ui/train_setup.py): trainer, base model, data folder, name, presets, every setting.
Centre: the data report with samples and captions (ui/data_report.py), the live loss curves
(ui/loss_plot.py). Right: the latest validation sample, by file type (ui/sample_view.py), and
the project's runs (ui/run_list.py), to continue, repeat or use. The trainer is a child
process (studio/training.py); its events come back on an EventReader thread
(ui/train_events.py) and are drawn on a timer. Stop asks the trainer to save a checkpoint
and exit. "Use this model now" hands a finished model to the workspace that generates with
it (studio/trained_models.py). Scans, starts, stops and run lists run on worker threads.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from engines.api import ParamError
from studio import training
from studio.project import Project
from ui.data_report import DataReport, report_summary, scan_folder
from ui.loss_plot import LossPlot
from ui.model_handoff import hand_over
from ui.run_list import RunList
from ui.sample_view import SampleView
from ui.train_events import Eta, EventReader, ended_text
from ui.train_setup import TrainSetup
from ui.widgets import show_progress
from ui.worker import Worker
from ui.workspace import heading

ERROR_STYLE = "color: #d9534f"
REDRAW_MS = 250  # the curves and progress are redrawn in batches: a fast trainer never floods the window


class TrainWorkspace(QWidget):
    message = Signal(str, int)  # text for the status bar, milliseconds
    model_ready = Signal(str, str)  # trainer engine, "project:NAME": a finished, registered model

    def __init__(self, project: Project, open_workspace: Callable | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        # engine -> the generation workspace of that engine, built and brought to the front (None: none has it)
        self.open_workspace = open_workspace or (lambda engine: None)
        self.run: training.TrainingProcess | None = None
        self.reader: EventReader | None = None
        self.last_report: dict | None = None  # the latest scan's report
        self.outcome: dict | None = None  # the run's terminal event (stopped, finished, failed)
        self.model_ref: str | None = None
        self._engine_of_run = ""
        self._launching = self._closed = False
        self._scan_id = 0
        self._workers: set = set()  # workers in flight, kept until they report
        self._total = self._step = 0
        self._eta = Eta()
        self._build()
        self._tick = QTimer(self, interval=REDRAW_MS)
        self._tick.timeout.connect(lambda: self._redraw(new_curves=1))
        self.refresh_runs()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.setup = TrainSetup(self.project.root)
        self.setup.scan_requested.connect(self.scan)
        # Another trainer reads the folder its own way (size, captions, text): its report, again.
        self.setup.engine_changed.connect(lambda _: self.folder.text().strip() and self.scan())
        self.folder, self.name = self.setup.folder, self.setup.name
        self.start_button = QPushButton("Start training", default=True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", enabled=False, toolTip="Save a checkpoint and stop (resume later)")
        self.stop_button.clicked.connect(self.stop)
        for button in (self.start_button, self.stop_button):
            button.setMinimumHeight(34)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.stop_button, 1)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setValue(0)  # a bar with no value hides its text
        self.progress.setFormat("idle")
        self.status = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        # The settings scroll when the window is small; Start and the progress stay in view.
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(self.setup)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        actions = QVBoxLayout()
        actions.setContentsMargins(8, 0, 8, 8)
        actions.addLayout(buttons)
        actions.addWidget(self.progress)
        actions.addWidget(self.status)
        left_layout.addLayout(actions)
        # The settings scroll only vertically: the column is never narrower than they are.
        left.setMinimumWidth(self.setup.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())

        self.data_report = DataReport()
        self.report_summary, self.report = self.data_report.summary, self.data_report.details
        self.plot = LossPlot()
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(heading("Data report"))
        center_layout.addWidget(self.data_report)
        center_layout.addWidget(heading("Loss"))
        center_layout.addWidget(self.plot, 1)

        self.sample = SampleView()
        self.run_list = RunList()
        self.run_list.resume_requested.connect(self.resume)
        self.run_list.repeat_requested.connect(self.repeat)
        self.run_list.use_requested.connect(self.use_model)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(heading("Latest sample"))
        right_layout.addWidget(self.sample, 3)
        right_layout.addWidget(heading("Runs"))
        right_layout.addWidget(self.run_list, 2)
        splitter = QSplitter(childrenCollapsible=False)
        for part in (left, center, right):
            splitter.addWidget(part)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([left.minimumWidth(), 520, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def engine_name(self) -> str:
        return self.setup.engine_name()

    def params(self):
        return self.setup.params()

    # -- the data folder ------------------------------------------------------------------
    def scan(self) -> None:
        """Scan the folder on a worker thread, as the trainer will read it."""
        folder = self.folder.text().strip()
        if not folder:
            self._say("Choose a data folder first", error=True)
            return
        try:
            params = self.setup.values()
        except ParamError as exc:
            self._say(str(exc), error=True)
            return
        self._scan_id += 1
        scan_id = self._scan_id
        self.data_report.scanning(folder)
        self._spawn(scan_folder, (self.engine_name(), folder, params), lambda r: self._show_report(scan_id, r, None),
                    lambda exc: self._show_report(scan_id, None, exc))

    def _show_report(self, scan_id: int, found: dict | None, error: BaseException | None) -> None:
        if scan_id != self._scan_id or self._closed:
            return  # a newer scan is on its way
        self.data_report.show_report(found, error)
        self.last_report = self.data_report.report
        if error is not None:
            self._say(f"Cannot train on this folder: {error}", error=True)
        else:
            self._say(f"Data: {report_summary(self.last_report)}")

    # -- runs -----------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        self._spawn(training.list_runs, (self.project.root,), self._show_runs, self._runs_failed)

    def _runs_failed(self, exc: BaseException) -> None:
        # Said in the list itself: the status line keeps what the last run said.
        if not self._closed:
            self.run_list.show_error(f"{exc}")
            self._update_buttons()

    def _show_runs(self, runs: list[dict]) -> None:
        if not self._closed:
            self.run_list.show_runs(runs)
            self._update_buttons()

    def chosen_run(self) -> str:
        """The run id chosen in the list when it can be continued ("" otherwise)."""
        run = self.run_list.chosen() or {}
        return run["run_id"] if run.get("state") in ("stopped", "interrupted", "failed") else ""

    def busy(self) -> bool:
        return self.run is not None or self._launching

    def start(self) -> None:
        """Start a new run from the form; bad input is said inline, never raised."""
        if self.busy():
            return
        folder = self.folder.text().strip()
        if not folder:
            self._say("Choose a data folder to train on first", error=True)
            return
        try:
            params = self.setup.values()
        except ParamError as exc:
            self._say(str(exc), error=True)
            return
        name = self.name.text().strip() or None
        self._launch(_start, self.project.root, self.engine_name(), folder, params, name)

    def repeat(self, run: dict) -> None:
        """The settings and data of an earlier run in the form, under a new name; then start."""
        if self.busy():
            return
        models = self.project.root / "models"
        taken = {r["name"] for r in self.run_list.runs()} | ({p.name for p in models.iterdir()} if models.is_dir()
                                                             else set())
        skipped = self.setup.apply_run(run["engine"], run.get("params") or {}, run["data"],
                                       _next_name(run["name"], taken))
        self.scan()  # the report of the run's own folder
        self.start()
        if skipped and self.busy():
            self._say(f"Repeating {run['name']}; not used: {', '.join(skipped)}", error=True)

    def resume(self, run_id: str | None = None) -> None:
        run_id = run_id or self.chosen_run()
        if self.busy() or not run_id:
            return
        self._launch(training.resume_following, self.project.root, run_id)

    def _launch(self, func, *args) -> None:
        self._launching = True
        self._update_buttons()
        self._say("Starting the trainer …")
        self._spawn(func, args, self._attach, self._launch_failed)

    def _launch_failed(self, exc: BaseException) -> None:
        self._launching = False
        self._update_buttons()
        self._say(str(exc), error=True)

    def _attach(self, started: tuple) -> None:
        run, history, self._engine_of_run = started
        self._launching = False
        if self._closed:  # the window closed while the child started
            threading.Thread(target=run.stop, daemon=True).start()
            return
        self.run, self.outcome, self.model_ref = run, None, None
        self.plot.reset()
        self.sample.clear()
        self._total = self._step = 0
        for event in history:  # a resumed run: its curves so far
            self._on_event(event, replay=True)
        self.reader = EventReader(run, parent=self)
        self.reader.event.connect(self._on_event)
        self.reader.ended.connect(self._on_ended)
        self.reader.start()
        self._tick.start()
        self._update_buttons()
        self._say(f"Training {run.run_id} …")

    def stop(self) -> None:
        """Ask the trainer to save and stop, on a thread of its own (stop() waits for it)."""
        if self.run is None:
            return
        self.stop_button.setEnabled(False)
        self._say("Stopping: the trainer saves a checkpoint first …")
        threading.Thread(target=self.run.stop, daemon=True, name="train-stop").start()

    # -- the trainer's events -------------------------------------------------------------
    def _on_event(self, event: dict, replay: bool = False) -> None:
        kind, step = event.get("event"), event.get("step") or 0
        if kind == "started":
            self._total, self._step = event.get("total_steps") or 0, step
            self._eta.begin(step)
        elif kind == "step":
            self._step = step
            self.plot.add(step, event.get("losses") or {})
        elif kind == "sample" and self.run is not None:
            self.sample.show_later(self.run.folder / event["path"], step)
        elif kind == "eval":
            # Validation losses join the curves (as kohya_ss and OneTrainer plot them).
            self.plot.add(step, {k: v for k, v in (event.get("metrics") or {}).items()
                                 if k.endswith("loss") and isinstance(v, (int, float))})
            if replay:
                return
            shown = ", ".join(f"{k} {v:.3g}" for k, v in (event.get("metrics") or {}).items()
                              if isinstance(v, (int, float)))
            self._say(f"Evaluated at step {step}: {shown}")
        elif kind in ("stopped", "finished", "failed") and not replay:
            self.outcome = event
        elif kind == "registered" and not replay:
            self.model_ref = event["model"]
            self.model_ready.emit(self._engine_of_run, event["model"])

    def _redraw(self, new_curves: int | None = None) -> None:
        self.plot.redraw(new_curves)
        if self._total:
            show_progress(self.progress, min(self._step, self._total), self._total,
                          f"step {self._step} / {self._total} · {self._eta.text(self._step, self._total)}")

    def _on_ended(self, code: int, stderr_line: str) -> None:
        run, self.run = self.run, None
        if self.reader is not None:
            self.reader.wait()
            self.reader.deleteLater()
            self.reader = None
        self._tick.stop()
        if self._closed:
            return
        self._redraw()
        text, message, error = ended_text(self.outcome, code, stderr_line, self._step, self._total,
                                          run.folder if run is not None else None, self.model_ref)
        self.progress.setFormat(text)
        if run is not None:  # the list shows the run that ended chosen: Continue, or its "Use this model now"
            self.run_list.prefer = run.run_id
        self._say(message, error=error, ms=30000)
        self._update_buttons()
        self.refresh_runs()

    # -- the finished model ---------------------------------------------------------------
    def use_model(self, run: dict) -> bool:
        """Hand a finished run's model to the workspace that generates with it."""
        done, message = hand_over(self.project.root, run, self.open_workspace)
        self._say(message, error=not done, ms=15000)
        return done

    # -- state and messages ---------------------------------------------------------------
    def _update_buttons(self) -> None:
        busy = self.busy()
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(self.run is not None)
        self.run_list.busy = busy
        self.run_list.update_buttons()
        self.setup.engine.setEnabled(not busy)

    @property
    def resume_button(self) -> QPushButton:
        return self.run_list.resume_button

    @property
    def use_button(self) -> QPushButton:
        return self.run_list.use_button

    def _say(self, text: str, error: bool = False, ms: int = 10000) -> None:
        """Inline under the buttons (it stays) and in the status bar."""
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")
        self.message.emit(text, 20000 if error else ms)

    def _spawn(self, func, args: tuple, returned, errored) -> None:
        worker = Worker(func, *args)
        worker.returned.connect(returned)
        worker.errored.connect(errored)
        for signal in (worker.returned, worker.errored):
            signal.connect(lambda *_: self._workers.discard(worker))
        self._workers.add(worker)
        worker.start()

    def confirm_close(self) -> bool:
        """Whether the window may close: asks while a run trains (closing stops it, saved)."""
        if not self.busy() or self._closed:
            return True
        answer = QMessageBox.question(
            self, "Training is running",
            "A training run is in progress. Stop it (a checkpoint is saved, so it can be resumed) and close?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def shutdown(self) -> None:
        """Stop a running trainer cleanly (it saves a checkpoint) and wait for it: the window is closing."""
        if self._closed:
            return
        self._closed = True
        self._tick.stop()
        if self.sample.waveform is not None:
            self.sample.waveform.stop()
        if self.run is not None:
            self.run.stop()
        if self.reader is not None:
            self.reader.wait()


def _next_name(name: str, taken: set[str]) -> str:
    """sprites -> sprites-2 (-3 …): a repeated run makes a model of its own."""
    stem, _, n = name.rpartition("-")
    base, i = (stem, int(n)) if stem and n.isdigit() else (name, 1)
    while f"{base}-{i + 1}" in taken:
        i += 1
    return f"{base}-{i + 1}"


def _start(root: Path, engine: str, folder: str, params: dict, name: str | None):
    return training.TrainingProcess.start(root, engine, folder, params, name), [], engine
