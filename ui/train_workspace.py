"""The Train workspace: a folder of images in, a GAN or VAE of the project out.

Choose the engine and the folder (its data report shows what will be used and why not),
the settings (a ParamForm from engines/train/schema.py), then Start. The trainer is a child
process (studio/training.py); its events come back through an EventReader thread and draw
the loss curves, the latest sample grid and the progress. Stop asks the trainer to save a
checkpoint and exit; Resume continues a stopped or interrupted run. The finished model is
registered as `project:NAME` and handed to the workspace that generates with its engine.
Nothing here blocks the GUI thread: scans, starts and stops run on worker threads.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
    QProgressBar, QPushButton, QScrollArea, QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from engines.api import ParamError
from engines.data import DataError, DataOptions, prepare
from engines.train import schema
from studio import training
from studio.project import Project
from ui.param_form import ParamForm
from ui.train_parts import Eta, EventReader, LossPlot, report_details, report_summary
from ui.worker import Worker
from ui.workspace import ImageView, form_label, heading

ENGINES = (("GAN — sprites, icons, textures", "gan"), ("VAE — smooth variations", "vae"))
RESUMABLE = ("stopped", "interrupted", "failed")
ERROR_STYLE = "color: #d9534f"


class TrainWorkspace(QWidget):
    message = Signal(str, int)  # text for the status bar, milliseconds
    model_ready = Signal(str, str)  # engine, "project:NAME": a finished, registered model

    def __init__(self, project: Project, workspaces: dict | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.workspaces = workspaces if workspaces is not None else {}  # where a finished model is offered
        self.run: training.TrainingProcess | None = None
        self.reader: EventReader | None = None
        self.last_report = None  # the latest scan's engines.data.Report
        self.outcome: dict | None = None  # the run's terminal event (stopped, finished, failed)
        self.model_ref: str | None = None
        self._engine_of_run = "gan"
        self._launching = self._closed = False
        self._scan_id = 0
        self._workers: set = set()  # workers in flight, kept until they report
        self._total = self._step = 0
        self._eta = Eta()
        self._build()
        self._tick = QTimer(self, interval=150)  # redraws in batches: a fast trainer never floods the window
        self._tick.timeout.connect(self._redraw)
        self.refresh_runs()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        labels: list[QLabel] = []
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        column.addLayout(form)
        column.addStretch(1)
        self.engine = QComboBox(toolTip="What to train")
        for title, name in ENGINES:
            self.engine.addItem(title, name)
        form.addRow(form_label("Engine", labels), self.engine)
        self.folder = QLineEdit(placeholderText="a folder of images (searched recursively)")
        browse = QPushButton("Browse…", toolTip="Choose the folder of images to learn from")
        browse.clicked.connect(self._browse)
        self.scan_button = QToolButton(text="Scan", toolTip="Check the folder: what is kept, skipped and why")
        self.scan_button.clicked.connect(self.scan)
        self.folder.returnPressed.connect(self.scan)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        row.addWidget(self.scan_button)
        form.addRow(form_label("Data", labels), row)
        self.name = QLineEdit(placeholderText="e.g. sprites: the model becomes project:sprites")
        form.addRow(form_label("Model name", labels), self.name)
        self.forms = {name: ParamForm(schema.all_params(name)) for _, name in ENGINES}
        self.form_stack = QStackedWidget()
        for params in self.forms.values():
            self.form_stack.addWidget(params)
        self.engine.currentIndexChanged.connect(self.form_stack.setCurrentIndex)
        self.runs = QComboBox(toolTip="A stopped or interrupted run of this project")
        self.runs.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)  # long names elide
        self.runs.setMinimumContentsLength(4)
        self.resume_button = QPushButton("Resume", toolTip="Continue the chosen run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        refresh = QToolButton(text="↻", toolTip="Look for runs again")
        refresh.clicked.connect(self.refresh_runs)
        resume_row = QHBoxLayout()
        resume_row.addWidget(self.runs, 1)
        resume_row.addWidget(refresh)
        resume_row.addWidget(self.resume_button)
        form.addRow(form_label("Continue", labels), resume_row)
        form.addRow(heading("Settings"))
        form.addRow(self.form_stack)
        all_labels = labels + [label for params in self.forms.values() for label in params.labels]
        width = max(label.sizeHint().width() for label in all_labels)
        for label in all_labels:
            label.setMinimumWidth(width)

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
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
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

        self.report_summary = QLabel("Choose a folder to see what it holds", wordWrap=True)
        self.report = QPlainTextEdit(readOnly=True, placeholderText="Skipped files and duplicates are listed here")
        self.report.setMaximumHeight(150)
        self.plot = LossPlot()
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(heading("Data report"))
        center_layout.addWidget(self.report_summary)
        center_layout.addWidget(self.report)
        center_layout.addWidget(heading("Loss"))
        center_layout.addWidget(self.plot, 1)
        self.sample = ImageView()
        self.sample.setText("Sample grids appear here as they are written")
        self.sample.setMinimumSize(260, 260)
        self.sample_caption = QLabel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(heading("Latest sample"))
        right_layout.addWidget(self.sample, 1)
        right_layout.addWidget(self.sample_caption)
        splitter = QSplitter()
        for part in (left, center, right):
            splitter.addWidget(part)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 560, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- the data folder ------------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of images", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.scan()

    def engine_name(self) -> str:
        return self.engine.currentData()

    def params(self) -> ParamForm:
        return self.forms[self.engine_name()]

    def scan(self) -> None:
        """Scan the folder on a worker thread, as training will (same size, fit, duplicates)."""
        folder = self.folder.text().strip()
        if not folder:
            self._say("Choose a folder of images first", error=True)
            return
        try:
            p = schema.resolve(self.engine_name(), self.params().values())
        except ParamError as exc:
            self._say(str(exc), error=True)
            return
        options = DataOptions(resolution=p["resolution"], channels=p["channels"], fit=p["fit"],
                              near_duplicate_distance=p["near_duplicate_distance"],
                              val_fraction=p["val_fraction"], split_seed=p["seed"])
        self._scan_id += 1
        scan_id = self._scan_id
        self.report_summary.setText(f"Scanning {folder} …")
        self.report.clear()
        self._spawn(_scan, (folder, options), lambda r: self._show_report(scan_id, r, None),
                    lambda exc: self._show_report(scan_id, getattr(exc, "report", None), exc))

    def _show_report(self, scan_id: int, report, error) -> None:
        if scan_id != self._scan_id or self._closed:
            return  # a newer scan is on its way
        self.last_report = report
        self.report_summary.setText(report_summary(report) if report is not None else "")
        self.report.setPlainText(report_details(report) if report is not None else "")
        if error is not None:
            self.report_summary.setText(f"{self.report_summary.text()}\n{error}".strip())
            self.report_summary.setStyleSheet(ERROR_STYLE)
            self._say(f"Cannot train on this folder: {error}", error=True)
        else:
            self.report_summary.setStyleSheet("")
            self._say(f"Data: {report_summary(report)}")

    # -- runs -----------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        self._spawn(training.list_runs, (self.project.root,), self._show_runs, self._runs_failed)

    def _runs_failed(self, exc: BaseException) -> None:
        # Said in the list itself: the status line keeps what the last run said.
        if not self._closed:
            self.runs.clear()
            self.runs.addItem(f"cannot list the runs: {exc}", "")
            self.runs.setToolTip(f"{training.runs_folder(self.project.root)}: {exc}")
            self._update_buttons()

    def _show_runs(self, runs: list[dict]) -> None:
        if self._closed:
            return
        self.runs.clear()
        for r in runs:
            if r["state"] in RESUMABLE:
                total = f" / {r['total_steps']}" if r.get("total_steps") else ""
                self.runs.addItem(f"{r['name']} ({r['engine']}) — {r['state']} at step {r['step']}{total}",
                                  r["run_id"])
        if not self.runs.count():
            self.runs.addItem("none", "")
        self._update_buttons()

    def chosen_run(self) -> str:
        """The run id chosen under "Continue a run" ("" for none). Items never hold None and an
        empty combo is never asked: PySide6 6.12 on Python 3.11 releases the None it returns
        once too often, which crashes the app after a few thousand calls."""
        return (self.runs.currentData() or "") if self.runs.currentIndex() >= 0 else ""

    def busy(self) -> bool:
        return self.run is not None or self._launching

    def start(self) -> None:
        """Start a new run from the form; bad input is said inline, never raised."""
        if self.busy():
            return
        folder = self.folder.text().strip()
        if not folder:
            self._say("Choose a folder of images to train on first", error=True)
            return
        try:
            params = self.params().values()
        except ParamError as exc:
            self._say(str(exc), error=True)
            return
        name = self.name.text().strip() or None
        self._launch(_start, self.project.root, self.engine_name(), folder, params, name)

    def resume(self, run_id: str | None = None) -> None:
        run_id = run_id or self.chosen_run()
        if self.busy() or not run_id:
            return
        self._launch(_resume, self.project.root, run_id)

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
        self.sample.clear_image("Sample grids appear here as they are written")
        self.sample_caption.clear()
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
            path = self.run.folder / event["path"]
            pixmap = QPixmap(str(path))
            if not pixmap.isNull():
                self.sample.show_image(pixmap)
                self.sample_caption.setText(f"step {step} · {Path(event['path']).name}")
        elif kind == "eval" and not replay:
            shown = ", ".join(f"{k} {v:.3g}" for k, v in (event.get("metrics") or {}).items()
                              if isinstance(v, (int, float)))
            self._say(f"Evaluated at step {step}: {shown}")
        elif kind in ("stopped", "finished", "failed") and not replay:
            self.outcome = event
        elif kind == "registered" and not replay:
            self.model_ref = event["model"]
            self._offer_model(self._engine_of_run, event["model"])

    def _redraw(self) -> None:
        self.plot.redraw()
        if self._total:
            self.progress.setMaximum(self._total)
            self.progress.setValue(min(self._step, self._total))
            self.progress.setFormat(f"step {self._step} / {self._total} · {self._eta.text(self._step, self._total)}")

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
        kind = (self.outcome or {}).get("event")
        if kind == "finished":
            self.progress.setFormat(f"finished · step {self._step} / {self._total}")
            if self.model_ref is None:
                self._say("Training finished, but its model could not be added to the project", error=True)
        elif kind == "stopped":
            self.progress.setFormat(f"stopped at step {self._step}")
            self._say(f"Stopped at step {self._step}; a checkpoint is saved. Choose the run under "
                      "“Continue a run” to resume it.")
        elif kind == "failed":
            self.progress.setFormat("failed")
            what = "Cannot train" if self.outcome.get("kind") == "bad-input" else "The trainer crashed"
            where = f" (details: {run.folder / 'stderr.log'})" if run is not None and stderr_line else ""
            self._say(f"{what}: {self.outcome.get('error')}{where}", error=True)
        else:  # killed, or died before it could say why
            self.progress.setFormat("failed")
            self._say(f"The trainer exited (status {code}) without finishing: {stderr_line or 'no message'}. "
                      "Resume continues from its last checkpoint.", error=True)
        self._update_buttons()
        self.refresh_runs()

    def _offer_model(self, engine: str, ref: str) -> None:
        """Put a finished model where it can be used: the model field of the workspace that
        generates with its engine, or, while none does, say how to use it."""
        self.model_ready.emit(engine, ref)
        for title, workspace in self.workspaces.items():
            if engine in getattr(workspace, "engine_names", ()):
                workspace.set_engine(engine)
                workspace.model.setText(ref)
                self._say(f"Training finished: the model {ref} is in the project and set as the model of "
                          f"the {title.capitalize()} tab.", ms=30000)
                return
        self._say(f"Training finished: the model {ref} is in the project. The Image tab makes diffusion images "
                  f"only for now; generate with it by `assetsmith generate --engine {engine} --model {ref} "
                  f"--project \"{self.project.root}\"` and the images appear in the Gallery.", ms=30000)

    # -- state and messages ---------------------------------------------------------------
    def _update_buttons(self) -> None:
        busy = self.busy()
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(self.run is not None)
        self.resume_button.setEnabled(not busy and bool(self.chosen_run()))
        self.engine.setEnabled(not busy)

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
        if self.run is not None:
            self.run.stop()
        if self.reader is not None:
            self.reader.wait()


def _scan(folder: str, options: DataOptions):
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise DataError(f"{folder} does not exist or is not a folder; choose the folder of your images")
    return prepare(path, options).report


def _start(root: Path, engine: str, folder: str, params: dict, name: str | None):
    return training.TrainingProcess.start(root, engine, folder, params, name), [], engine


def _resume(root: Path, run_id: str):
    # The history is read before the child starts, so no event is both in it and on the pipe.
    history, folder = [], training.run_dir(root, run_id)
    try:
        engine = json.loads((folder / "config.json").read_text())["engine"]
    except (OSError, ValueError, KeyError, TypeError):
        engine = None  # the trainer itself says what is wrong with the run
    log = folder / "events.jsonl"
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                history.append(json.loads(line))
            except ValueError:
                pass  # a line cut short by a kill
    history = [e for e in history if e.get("event") != "started"]
    return training.TrainingProcess.resume(root, run_id), history, engine
