"""The main window: one workspace per modality on one job runner.

Generation goes through the same JobRunner and ProjectSink as the CLI; the GUI thread only
submits and listens (ui/bridge.py), it never waits on a model.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget
from superqt.utils import create_worker

from engines import devices
from studio.jobs import JobRunner
from studio.metadata import MetadataError, read_recipe
from studio.project import Project
from ui.bridge import JobBridge
from ui.workspace import Workspace

WORKSPACES = (("Image", "diffusion"), ("Text", "causal-lm"))


class MainWindow(QMainWindow):
    def __init__(self, project: Project, runner: JobRunner | None = None):
        super().__init__()
        self.project = project
        self.runner = runner or JobRunner()
        self._shut_down = False
        self.bridge = JobBridge(self.runner, parent=self)
        self.settings = QSettings()
        self.setWindowTitle(f"Assetsmith — {project.root.name}")
        self.setAcceptDrops(True)
        self.tabs = QTabWidget()
        self.workspaces: dict[str, Workspace] = {}
        for title, engine in WORKSPACES:
            workspace = Workspace(engine, project, self.runner, self.bridge)
            workspace.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
            self.workspaces[title.lower()] = workspace
            self.tabs.addTab(workspace, title)
        self.tabs.setCurrentIndex(int(self.settings.value("window/tab", 0)))
        self.setCentralWidget(self.tabs)
        self.queue_label = QLabel()
        self.device_label = QLabel("device: …", toolTip="Where generations run (auto: CUDA, then MPS, then CPU)")
        self.statusBar().addPermanentWidget(self.queue_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().addPermanentWidget(QLabel(f"project: {project.root}", toolTip="The project folder"))
        # Finding the device imports torch (seconds): off this thread, which also warms the
        # import up so the first Generate does not stall the window.
        self._device_worker = create_worker(devices.resolve, "auto", _start_thread=False)
        self._device_worker.returned.connect(self._show_device)
        self._device_worker.errored.connect(self._show_device)
        self._device_worker.start()
        for signal in (self.bridge.queued, self.bridge.started):
            signal.connect(lambda *_: self._update_queue_label())
        for signal in (self.bridge.finished, self.bridge.cancelled, self.bridge.failed):
            signal.connect(lambda *_: self._update_queue_label())
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=lambda: self.current().generate())
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=lambda: self.current().generate())
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=lambda: self.current().cancel_all())
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        self._update_queue_label()
        if not project.report.ok():
            self.statusBar().showMessage(project.report.summary(), 15000)

    @property
    def image(self) -> Workspace:
        return self.workspaces["image"]

    @property
    def text(self) -> Workspace:
        return self.workspaces["text"]

    def current(self) -> Workspace:
        return self.tabs.currentWidget()

    def _show_device(self, device) -> None:
        if isinstance(device, BaseException):
            self.device_label.setText("device: unavailable")
            self.device_label.setToolTip(str(device))
        else:
            self.device_label.setText(f"device: {device}")

    def _update_queue_label(self) -> None:
        waiting = len(self.runner.queued())
        running = len(self._known_jobs()) - waiting
        self.queue_label.setText(f"queue: {running} running, {waiting} waiting" if running or waiting else "queue: empty")

    def _known_jobs(self) -> list[int]:
        return [job_id for w in self.workspaces.values() for job_id in w._jobs]

    # -- a file carrying a recipe, dropped on the window, restores its settings --------------
    def open_recipe_file(self, path) -> bool:
        try:
            recipe = read_recipe(path)
        except MetadataError as exc:
            self.statusBar().showMessage(str(exc), 15000)
            return False
        engine = recipe.get("engine")
        title = next((t.lower() for t, e in WORKSPACES if e == engine), None)
        if title is None:
            self.statusBar().showMessage(f"{Path(path).name} was made by the {engine!r} engine, "
                                         "which has no workspace here yet", 15000)
            return False
        self.tabs.setCurrentWidget(self.workspaces[title])
        skipped = self.workspaces[title].apply_recipe(recipe)
        note = f" (not used: {', '.join(skipped)})" if skipped else ""
        self.statusBar().showMessage(f"Settings restored from {Path(path).name}{note}", 15000)
        return True

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and self.open_recipe_file(url.toLocalFile()):
                event.acceptProposedAction()
                return

    def shutdown(self) -> None:
        """Stop listening, cancel every job and wait for the workers (a running step
        finishes first). Safe to call twice: on close, and again when the app quits."""
        if self._shut_down:
            return
        self._shut_down = True
        self.bridge.close()
        self.runner.shutdown()

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.shutdown()
        super().closeEvent(event)
