"""The main window: a workspace per modality, the gallery and the queue, on one job runner.

Generation goes through the same JobRunner and ProjectSink as the CLI; the GUI thread only
submits and listens (ui/bridge.py), it never waits on a model. Panels dock and resize; the
layout, the tab, the theme and the recent projects are remembered (QSettings). A dialog's Qt
classes are imported when it opens: importing a Qt class costs about 0.3 ms, and the window's
start is measured (bench/README.md).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget,
)

from engines import devices, registry
from studio import settings
from studio.jobs import JobRunner
from studio.metadata import MetadataError, read_recipe
from studio.project import Project
from ui import theme
from ui.bridge import JobBridge
from ui.queue_panel import QueuePanel
from ui.thumb_loader import ThumbLoader
from ui.widgets import AfterFirstPaint
from ui.worker import Worker
from ui.workspace import Workspace

# A tuple of engines: one workspace with an engine choice (audio: music or voice). Engines
# not installed (no entry point) are left out, so one added later appears by itself.
WORKSPACES = (("Image", ("diffusion", "gan", "vae")), ("Text", "causal-lm"),
              ("Audio", ("musicgen", "speech", "wavegan")))
RECENT_MAX = 8

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDialog

    from ui.gallery import Gallery


class MainWindow(QMainWindow):
    project_requested = Signal(str)  # the user chose another project folder
    engines_warmed = Signal(tuple)  # the engines whose libraries the background warm-up imported

    def __init__(self, project: Project, runner: JobRunner | None = None):
        super().__init__()
        self.project = project
        self.runner = runner or JobRunner()
        self._shut_down = False
        self.bridge = JobBridge(self.runner, parent=self)
        self.settings = QSettings()
        self.setWindowTitle(f"Assetsmith — {project.root.name}")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.AnimatedDocks | QMainWindow.AllowTabbedDocks)
        self.loader = ThumbLoader(project.root, parent=self)  # one thumbnail thread for every view
        # Each tab is built the first time it is shown (or asked for): the window paints
        # sooner, and the Train tab's plotting library loads only when training is wanted.
        self.tabs = QTabWidget(documentMode=True)
        self.workspaces: dict[str, Workspace] = {}  # the generation tabs built so far, by lower-case title
        self._builders: dict[QWidget, Callable[[], QWidget]] = {}
        for title, engines in WORKSPACES:
            self._add_tab(title, lambda t=title, e=engines: self._build_workspace(t, e))
        self._add_tab("Train", self._build_train)
        self._add_tab("Gallery", self._build_gallery)
        self.tabs.setCurrentIndex(int(self.settings.value("window/tab", 0)))
        self._materialise(self.tabs.currentIndex())
        self.tabs.currentChanged.connect(self._materialise)
        self.setCentralWidget(self.tabs)
        self.queue = QueuePanel(self.runner, self.bridge)
        self.queue_dock = QDockWidget("Queue", self, objectName="queue")
        self.queue_dock.setWidget(self.queue)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.queue_dock)
        self._build_status_bar()
        self._build_menus()
        self.shortcuts = self._build_shortcuts()
        self.queue.changed.connect(self._update_queue_label)
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.queue_dock], [150], Qt.Vertical)
        remember_project(self.settings, project.root)
        self._update_queue_label()
        if not project.report.ok():
            self.say(project.report.summary(), 15000)

    # -- building -------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.queue_label = QLabel()
        self.memory_label = QLabel(toolTip="Memory this app uses (and the GPU's, once one is in use)")
        self.device_label = QLabel("device: …", toolTip="Where generations run (auto: CUDA, then MPS, then CPU)")
        for label in (self.queue_label, self.memory_label, self.device_label,
                      QLabel(f"project: {self.project.root}", toolTip="The project folder")):
            self.statusBar().addPermanentWidget(label)
        # Finding the device imports torch (seconds): off this thread, which also warms the
        # import up so the first Generate does not stall the window. It starts once the window
        # has painted: an import holds Python's lock much of the time and would slow the start.
        self._device = ""  # set when the worker has found it
        self._automatic_threads: int | None = None  # torch's own thread count, known with the device
        # The imports take seconds (minutes on a loaded machine): they run one at a time on a
        # pool of their own, so a folder scan or a listing on the shared pool (as many threads
        # as cores) never waits behind them.
        self._imports = QThreadPool(self)
        self._imports.setMaxThreadCount(1)
        self._device_worker = Worker(self.runner.prepare)
        self._device_worker.returned.connect(self._show_device)
        self._device_worker.errored.connect(self._show_device)
        # Then the shown workspace's libraries (diffusers, transformers), also off this thread,
        # so the first Generate neither imports them nor stalls the window while it does.
        self._warmed: set[str] = set()
        self._warm_worker: Worker | None = None
        self.tabs.currentChanged.connect(self._warm_up_shown)  # after _materialise: the tab is built
        self._painted = False
        AfterFirstPaint(self, self._after_first_paint)
        self._process = None  # psutil's, made after the first paint: importing psutil takes 25 ms
        self._memory_timer = QTimer(self, interval=2000)
        self._memory_timer.timeout.connect(self._update_memory)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Open or create project…", QKeySequence.Open, self.choose_project)
        self.recent_menu = file_menu.addMenu("Recent projects")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction("Models…", QKeySequence("Ctrl+M"), self.show_models)
        file_menu.addAction("Preferences…", QKeySequence("Ctrl+,"), self.show_preferences)
        file_menu.addSeparator()
        file_menu.addAction("Quit", QKeySequence.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        view.addAction(self.queue_dock.toggleViewAction())
        themes = view.addMenu("Theme")
        group = QActionGroup(self)
        chosen = self.settings.value("theme", "system")
        for choice in theme.CHOICES:
            action = QAction(choice.capitalize(), self, checkable=True, checked=choice == chosen)
            action.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            group.addAction(action)
            themes.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Keyboard shortcuts", QKeySequence.HelpContents, self.show_shortcuts)

    def show_models(self):
        """The Models dialog (not modal: a download goes on while you work)."""
        from ui.models_dialog import ModelsDialog

        if getattr(self, "models_dialog", None) is None:
            self.models_dialog = ModelsDialog(self.project, parent=self)
        elif not self.models_dialog.isVisible():
            self.models_dialog.refresh()
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def show_preferences(self) -> QDialog:
        """Modal: what it sets applies to the next job."""
        from ui.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self._automatic_threads, parent=self)
        dialog.accepted.connect(self._show_threads)
        dialog.open()
        return dialog

    def _build_shortcuts(self) -> list[tuple[str, str]]:
        """Every shortcut once, here; the help dialog lists this table."""
        table = []

        def add(keys: str, what: str, slot, widget=None, context=Qt.WindowShortcut) -> None:
            QShortcut(QKeySequence(keys), widget or self, activated=slot, context=context)
            table.append((QKeySequence(keys).toString(QKeySequence.NativeText), what))

        add("Ctrl+Return", "Generate", self.generate)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.generate)  # the keypad's Enter
        add("Esc", "Cancel this workspace's jobs (in the gallery or queue: all jobs)", self.cancel)
        add("Ctrl+D", "New seed (dice); in the gallery: make the selected one again with a new seed", self.new_seed)
        add("Ctrl+R", "Re-make the selected output and say whether it is identical", self.remake)
        # The gallery's own keys are made with the gallery (_build_gallery); listed here.
        table += [("F", "In the gallery: favorite the selected outputs"),
                  (QKeySequence("Del").toString(QKeySequence.NativeText),
                   "In the gallery: delete the selected outputs (to the project's trash)"),
                  (QKeySequence("Ctrl+C").toString(QKeySequence.NativeText),
                   "In the gallery: copy the selected output's recipe")]
        for i in range(self.tabs.count()):
            add(f"Ctrl+{i + 1}", f"Show {self.tabs.tabText(i)}", lambda i=i: self.tabs.setCurrentIndex(i))
        table += [(QKeySequence("Ctrl+M").toString(QKeySequence.NativeText), "Models: find, download, import, remove"),
                  (QKeySequence("Ctrl+,").toString(QKeySequence.NativeText), "Preferences: CPU threads"),
                  (QKeySequence(QKeySequence.Open).toString(QKeySequence.NativeText), "Open or create a project"),
                  (QKeySequence(QKeySequence.HelpContents).toString(QKeySequence.NativeText), "This list")]
        return table

    # -- the parts, built when first needed -------------------------------------------------
    def _add_tab(self, title: str, build: Callable[[], QWidget]) -> None:
        placeholder = QWidget()
        self._builders[placeholder] = build
        self.tabs.addTab(placeholder, title)

    def _materialise(self, index: int) -> QWidget:
        """The widget of tab `index`, built now if it has not been."""
        placeholder = self.tabs.widget(index)
        build = self._builders.pop(placeholder, None)
        if build is None:
            return placeholder
        widget = build()
        current, title = self.tabs.currentIndex(), self.tabs.tabText(index)
        self.tabs.blockSignals(True)  # the swap is not a change of tab
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, widget, title)
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        return widget

    def _index(self, title: str) -> int:
        return [self.tabs.tabText(i).lower() for i in range(self.tabs.count())].index(title.lower())

    def tab(self, title: str) -> QWidget:
        return self._materialise(self._index(title))

    def _built(self, title: str) -> QWidget | None:
        widget = self.tabs.widget(self._index(title))
        return None if widget in self._builders else widget

    def _build_workspace(self, title: str, engines) -> Workspace:
        workspace = Workspace(_engine_names(engines), self.project, self.runner, self.bridge, self.loader)
        workspace.message.connect(self.say)
        self.workspaces[title.lower()] = workspace
        return workspace

    def _build_train(self) -> QWidget:
        from ui.train_workspace import TrainWorkspace

        train = TrainWorkspace(self.project, self.open_workspace)  # a finished model goes to the tab of its engine
        train.message.connect(self.say)
        return train

    def _build_gallery(self) -> Gallery:
        from ui.gallery import Gallery

        gallery = Gallery(self.project, self.runner, self.bridge, self.loader)
        gallery.message.connect(self.say)
        gallery.recipe_chosen.connect(lambda recipe: self.restore_recipe(recipe, "the gallery"))
        gallery.init_image_chosen.connect(self.use_as_init_image)
        for keys, slot in (("F", gallery.toggle_favorite), ("Del", gallery.delete_selected),
                           ("Ctrl+C", gallery.copy_recipe)):
            QShortcut(QKeySequence(keys), gallery.view, activated=slot, context=Qt.WidgetShortcut)
        return gallery

    def open_workspace(self, engine: str) -> Workspace | None:
        """The generation tab of `engine`, built and brought to the front (None: no tab has it)."""
        title = next((t for t, engines in WORKSPACES if engine in _engine_names(engines)), None)
        if title is None:
            return None
        workspace = self.tab(title)
        self.tabs.setCurrentWidget(workspace)
        return workspace

    @property
    def image(self) -> Workspace:
        return self.tab("Image")

    @property
    def text(self) -> Workspace:
        return self.tab("Text")

    @property
    def audio(self) -> Workspace:
        return self.tab("Audio")

    @property
    def train(self):
        return self.tab("Train")

    @property
    def gallery(self) -> Gallery:
        return self.tab("Gallery")

    def current(self) -> Workspace | None:
        widget = self.tabs.currentWidget()
        return widget if isinstance(widget, Workspace) else None

    def show_tab(self, title: str) -> bool:
        """Bring the tab of that title (any case) to the front."""
        titles = [self.tabs.tabText(i).replace("&", "").lower() for i in range(self.tabs.count())]
        if title.lower() not in titles:
            self.say(f"there is no {title!r} tab; the tabs are {', '.join(titles)}")
            return False
        self.tabs.setCurrentIndex(titles.index(title.lower()))
        return True

    def say(self, text: str, ms: int = 5000) -> None:
        self.statusBar().showMessage(text, ms)

    # -- actions --------------------------------------------------------------------------
    def generate(self) -> None:
        if self.current() is not None:
            self.current().generate()

    def cancel(self) -> None:
        if self.current() is not None:
            self.current().cancel_all()
        else:
            self.runner.cancel_all()

    def new_seed(self) -> None:
        if self.current() is not None:
            self.current().roll_seed()
        elif self.tabs.currentWidget() is self._built("gallery"):
            self.gallery.new_seed()

    def remake(self) -> None:
        if self.tabs.currentWidget() is self._built("gallery"):
            self.gallery.remake()

    def use_as_init_image(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.image)
        self.image.params.set_value("init_image", path)
        self.say(f"{Path(path).name} is the init image; strength sets how far to move from it", 8000)

    def set_theme(self, choice: str) -> None:
        self.settings.setValue("theme", choice)
        theme.apply(QApplication.instance(), choice)

    def show_shortcuts(self) -> QDialog:
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem

        dialog = QDialog(self, windowTitle="Keyboard shortcuts")
        table = QTableWidget(len(self.shortcuts), 2)
        table.setHorizontalHeaderLabels(["Keys", "Does"])
        table.verticalHeader().hide()
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.NoEditTriggers)
        for row, (keys, what) in enumerate(self.shortcuts):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(what))
        table.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(620, 380)
        dialog.show()
        return dialog

    def choose_project(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Open or create a project folder", str(self.project.root.parent))
        if folder:
            self.project_requested.emit(folder)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in recent_projects(self.settings):
            action = self.recent_menu.addAction(path)
            action.setEnabled(path != str(self.project.root))
            action.triggered.connect(lambda _=False, p=path: self.project_requested.emit(p))

    # -- start ----------------------------------------------------------------------------
    def _after_first_paint(self) -> None:
        self._painted = True
        if not self._shut_down:
            self._device_worker.start(self._imports)
            self._memory_timer.start()
            self._update_memory()

    # -- status bar -----------------------------------------------------------------------
    def _show_device(self, device) -> None:
        if isinstance(device, BaseException):
            self.device_label.setText("device: unavailable")
            self.device_label.setToolTip(str(device))
        else:
            self._device = device
            self._automatic_threads = devices.automatic_threads()  # read by the warm-up: no import here
            self._show_threads()
            self._warm_up_shown()

    def _show_threads(self) -> None:
        if self._device:
            threads = settings.threads() or self._automatic_threads
            self.device_label.setText(f"device: {self._device} · {threads} CPU threads")

    def _warm_up_shown(self, *_) -> None:
        """Import the libraries of the shown workspace's engines in the background
        (JobRunner.prepare), once torch is in and one warm-up at a time."""
        busy = self._warm_worker is not None
        names = tuple(n for n in getattr(self.tabs.currentWidget(), "engine_names", ()) if n not in self._warmed)
        if self._shut_down or not self._device or busy or not names:
            return
        self._warmed.update(names)
        self._warm_worker = Worker(self.runner.prepare, names)

        def done(_result=None) -> None:
            self._warm_worker = None
            self.engines_warmed.emit(names)
            self._warm_up_shown()  # the tab may have changed meanwhile

        # A library that fails to import says so at the first generation, in words.
        self._warm_worker.returned.connect(done)
        self._warm_worker.errored.connect(done)
        self._warm_worker.start(self._imports)

    def _update_memory(self) -> None:
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        text = f"RAM {self._process.memory_info().rss / 2**30:.1f} GB"
        # Only once the device is known: until then torch may be half-imported on the worker.
        if self._device.startswith("cuda"):
            torch = sys.modules["torch"]
            if torch.cuda.is_initialized():
                text += f" · GPU {torch.cuda.memory_allocated() / 2**30:.1f} GB"
        self.memory_label.setText(text)

    def _update_queue_label(self) -> None:
        live = self.queue.live()
        running = sum(job.state == "running" for job in live)
        waiting = len(live) - running
        self.queue_label.setText(f"queue: {running} running, {waiting} waiting" if live else "queue: empty")

    # -- a file carrying a recipe, dropped on the window, restores its settings --------------
    def open_recipe_file(self, path) -> bool:
        try:
            recipe = read_recipe(path)
        except MetadataError as exc:
            self.say(str(exc), 15000)
            return False
        return self.restore_recipe(recipe, Path(path).name)

    def restore_recipe(self, recipe: dict, source: str) -> bool:
        engine = recipe.get("engine")
        workspace = self.open_workspace(engine)
        if workspace is None:
            self.say(f"{source} was made by the {engine!r} engine, which has no workspace here yet", 15000)
            return False
        skipped = workspace.apply_recipe(recipe)
        note = f" (not used: {', '.join(skipped)})" if skipped else ""
        self.say(f"Settings restored from {source}{note}", 15000)
        return True

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and self.open_recipe_file(url.toLocalFile()):
                event.acceptProposedAction()
                return

    # -- closing --------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop listening, cancel every job and wait for the workers (a running step
        finishes first). Safe to call twice: on close, and again when the app quits."""
        if self._shut_down:
            return
        self._shut_down = True
        if self._built("train") is not None:
            self.train.shutdown()  # the trainer saves a checkpoint and stops
        self.bridge.close()
        self.runner.shutdown()
        self.loader.close()
        if self._built("gallery") is not None:
            self.gallery.close_project()  # a filter typed just before closing must not query a closed project
        # The device worker may still be importing torch: an import cut off by the interpreter's
        # exit fails loudly, so a window closed right after it opened waits for it.
        self._imports.waitForDone(60_000)
        QThreadPool.globalInstance().waitForDone(60_000)

    def closeEvent(self, event) -> None:
        if not self._shut_down and self._built("train") is not None and not self.train.confirm_close():
            event.ignore()
            return
        live = self.queue.live()
        if live and not self._shut_down:
            from PySide6.QtWidgets import QMessageBox

            answer = QMessageBox.question(
                self, "Work is running",
                f"{len(live)} job{'s are' if len(live) != 1 else ' is'} running or waiting. Cancel "
                f"{'them' if len(live) != 1 else 'it'} and close? Finished outputs are already saved.",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                event.ignore()
                return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.shutdown()
        super().closeEvent(event)


def _engine_names(engines) -> tuple[str, ...]:
    """The workspace's engines that are installed."""
    installed = registry.names()
    return tuple(e for e in ((engines,) if isinstance(engines, str) else engines) if e in installed)


def recent_projects(settings: QSettings) -> list[str]:
    value = settings.value("recent", []) or []
    return [value] if isinstance(value, str) else list(value)


def remember_project(settings: QSettings, root: Path) -> None:
    paths = [str(root)] + [p for p in recent_projects(settings) if p != str(root)]
    settings.setValue("recent", paths[:RECENT_MAX])
