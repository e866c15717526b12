"""One workspace per modality: the same form, queue and history around any engine.

Everything engine-specific comes from the engine's schema (ParamForm); what differs by
modality is only how an output is shown: an image view and thumbnails, text, or a waveform.
A workspace may offer several engines of its modality (audio: music or voice); a combo at
the top of the form picks one and shows that engine's parameters.
"""
from __future__ import annotations

import random
from collections import deque
from pathlib import Path

from PySide6.QtCore import QRegularExpression, QSettings, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QListView,
    QPlainTextEdit, QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QSplitter, QStackedWidget,
    QToolButton, QVBoxLayout, QWidget,
)

from engines import registry
from engines.api import SEED_MAX, ParamError, Request
from studio.jobs import JobRunner, error_message
from studio import models
from studio.project import Project, ProjectError
from studio.recording import ProjectSink
from ui.bridge import JobBridge
from ui.gallery_model import GalleryModel, RecordRole, recipe_text
from ui.param_form import ParamForm
from ui.thumb_loader import ThumbLoader
from ui.widgets import show_progress
from ui.worker import Worker

THUMB = 96
PLACEHOLDERS = {
    "image": ("a diffusers folder or a hub id in your Hugging Face cache",
              "What to make: a red potion, game icon, pixel art"),
    "text": ("a transformers model folder or a hub id in your Hugging Face cache",
             "What to write: 12 names for healing potions, as a numbered list"),
    "musicgen": ("a MusicGen folder or a hub id in your Hugging Face cache",
                 "What to make: calm chiptune loop, 90 bpm / wooden door creaks open"),
    "gan": ("project:NAME, a GAN trained in the Train tab (or its folder)", ""),
    "vae": ("project:NAME, a VAE trained in the Train tab (or its folder)", ""),
    "speech": ("a VITS (MMS-TTS) folder or a hub id in your Hugging Face cache",
               "The line to speak: Welcome, traveller. The inn is just ahead."),
    "wavegan": ("empty: the starter drum model; or a WaveGAN trained in Assetsmith",
                "(no prompt: the seed picks the sound)"),
}
ENGINE_TITLES = {"musicgen": "Music & sound effects", "speech": "Voice lines", "diffusion": "Stable Diffusion",
                 "gan": "GAN (trained in the Train tab)", "vae": "VAE (trained in the Train tab)",
                 "wavegan": "Drum hits & one-shots"}


class ImageView(QWidget):
    """Shows one image scaled to fit, nearest-neighbour when enlarged so pixel art stays crisp,
    or a line of text. It paints itself: a new image repaints only this view, where a QLabel's
    setPixmap re-lays out the window around it (its size hint follows the pixmap) and repaints
    all of it, at every step preview."""

    BACKGROUND, TEXT = QColor("#1e1e1e"), QColor("#888888")
    loaded = Signal(str)  # the file asked for with load() is shown (or said to be unreadable)

    def __init__(self, text: str = "Your images appear here"):
        super().__init__()
        self._text = text
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None  # the pixmap at the size it is shown, made once per size
        self.source: str | None = None  # the file shown (None: a preview, or nothing)
        self._reading: str | None = None  # the file being read for the latest request
        self._last: tuple[str, QPixmap] | None = None  # the file read last, shown again without a read
        self._asked = 0  # the latest request: a file read for an older one is not shown
        self._decoder = QThreadPool(self)  # one file at a time; a newer request drops the queued
        self._decoder.setMaxThreadCount(1)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)  # every pixel is painted: nothing under it is

    def setText(self, text: str) -> None:
        self._text = text
        self.update()

    def text(self) -> str:
        return self._text

    def show_image(self, pixmap: QPixmap) -> None:
        self._asked += 1  # newer than any file still being read
        self._pixmap, self._scaled, self.source, self._reading = pixmap, None, None, None
        self.update()

    def load(self, path, placeholder: QPixmap | None = None) -> None:
        """Show the image file at `path`, decoded off the GUI thread (a 1024 px PNG takes 20 ms,
        and QImage lets go of Python's lock while it reads); `placeholder` (its thumbnail)
        meanwhile, else what is shown stays until it is ready. A file shown already, on its way,
        or read last is not read again: each output of a generation asks for the newest row,
        between step previews, and its end asks once more."""
        path = str(path)
        if path in (self.source, self._reading):
            return
        if self._last is not None and self._last[0] == path:
            self.show_image(self._last[1])
            self.source = path
            self.loaded.emit(path)
            return
        if placeholder is not None and not placeholder.isNull():
            self.show_image(placeholder)
        self._asked += 1
        self._reading = path
        self._decoder.clear()  # not started: no longer wanted
        worker = Worker(_decode, self._asked, path)
        worker.returned.connect(self._decoded)
        worker.start(self._decoder)

    def _decoded(self, result: tuple[int, str, QImage]) -> None:
        asked, path, image = result
        if asked != self._asked:
            return
        if image.isNull():
            self.clear_image(f"Cannot read {Path(path).name}: the file is missing or not an image")
        else:
            self.show_image(QPixmap.fromImage(image))
            self.source, self._last = path, (path, self._pixmap)
        self.loaded.emit(path)

    def clear_image(self, text: str = "") -> None:
        self._asked += 1  # a file still being read is not shown over this
        self._pixmap = self._scaled = self.source = self._reading = None
        self.setText(text)

    def has_image(self) -> bool:
        return self._pixmap is not None

    def shown_size(self) -> QSize:
        """The size the image is painted at (empty without one)."""
        return self._fitted().size() if self._pixmap is not None else QSize()

    def resizeEvent(self, event) -> None:
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.BACKGROUND)
        if self._pixmap is None or self._pixmap.isNull():
            painter.setPen(self.TEXT)
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._text)
            return
        scaled = self._fitted()
        painter.drawPixmap((self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2, scaled)

    def _fitted(self) -> QPixmap:
        if self._scaled is None:
            room = self.size() - QSize(8, 8)
            size = self._pixmap.size().scaled(room, Qt.KeepAspectRatio)
            if size.width() >= self._pixmap.width():
                # Enlarging: a whole-number factor, nearest-neighbour, so every pixel of a small
                # sprite becomes the same size square.
                factor = max(1, size.width() // self._pixmap.width())
                self._scaled = self._pixmap.scaled(self._pixmap.size() * factor, Qt.KeepAspectRatio,
                                                   Qt.FastTransformation)
            else:
                self._scaled = self._pixmap.scaled(size, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        return self._scaled


def _decode(asked: int, path: str) -> tuple[int, str, QImage]:
    return asked, path, QImage(path)


class Workspace(QWidget):
    message = Signal(str, int)  # text for the status bar, milliseconds
    submitted = Signal(int)  # a job id: the runner has checked and queued a Generate

    def __init__(self, engine_name: str | tuple[str, ...], project: Project, runner: JobRunner,
                 bridge: JobBridge, loader: ThumbLoader | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.loader = loader or ThumbLoader(project.root, parent=self)
        names = (engine_name,) if isinstance(engine_name, str) else tuple(engine_name)
        self.engine_names = names
        # The other engines of the tab are loaded (and their forms built) when first chosen:
        # each is a module import and a form, off the window's start.
        self._engines = {names[0]: registry.get(names[0])}
        self.engine = self._engines[names[0]]
        self._model_texts: dict[str, str] = {}  # what was typed per engine, kept across switches
        self.modality = self.engine.modality
        self.project, self.runner, self.bridge = project, runner, bridge
        self.settings = QSettings()
        self._jobs: list[int] = []
        self._suggesting: Worker | None = None
        self._suggest_timer = QTimer(self, singleShot=True, interval=300)  # a path being typed: asked once it rests
        # The runner checks a request off this thread (resolving a model scans its folder, an
        # init image is copied into the project), one at a time: jobs queue in click order.
        self._submissions = QThreadPool(self)
        self._submissions.setMaxThreadCount(1)
        self._submitting: deque[tuple[Worker, str]] = deque()  # each with the model field's text then
        self._suggest_timer.timeout.connect(self._suggest)
        self._build()
        self._show_prompt()
        self._connect()
        self.refresh_history()
        self._suggest_timer.start()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        model_hint, prompt_hint = self._placeholders()
        labels: list[QLabel] = []
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        column.addLayout(form)
        self.engine_choice = QComboBox(toolTip="Which engine makes the next generation")
        for name in self.engine_names:
            self.engine_choice.addItem(ENGINE_TITLES.get(name, name), name)
        if len(self.engine_names) > 1:
            form.addRow(form_label("Engine", labels), self.engine_choice)
        column.addStretch(1)  # spare height goes below the form, not between its rows
        self.model = QLineEdit(self.settings.value(f"{self.engine.name}/model", "", str), placeholderText=model_hint)
        browse = QToolButton(text="…", toolTip="Choose a model folder or a single .safetensors file",
                             popupMode=QToolButton.InstantPopup)
        browse.addAction("Model folder…", self._browse_model)
        browse.addAction("Single .safetensors file…", self._browse_model_file)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        form.addRow(form_label("Model", labels), model_row)
        more = QPushButton("Get more models…", toolTip="Find, download or import models for this engine")
        more.clicked.connect(self.get_more_models)
        more_row = QHBoxLayout()
        more_row.addWidget(more)
        more_row.addStretch(1)
        form.addRow("", more_row)
        self.prompt = QPlainTextEdit(placeholderText=prompt_hint)
        self.prompt.setFixedHeight(90)
        self.negative = QPlainTextEdit(placeholderText="What to avoid (negative prompt)")
        self.negative.setFixedHeight(50)
        # Shown for the engines that take a prompt (hidden for a GAN or VAE: _show_prompt).
        form.addRow(form_label("Prompt", labels), self.prompt)
        if self.modality == "image":
            form.addRow(form_label("Negative", labels), self.negative)
        self._form = form
        # Seeds go up to 2**32 - 1, past what a QSpinBox holds: digits only, range-checked by Request.
        self.seed = QLineEdit("0", placeholderText="seed")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}")))
        # Locked: every generation uses this seed; unlocked: each gets a new random one.
        self.lock_seed = QToolButton(text="Lock", checkable=True, checked=False,
                                     toolTip="Lock the seed (unlocked: a new random seed each time)")
        dice = QToolButton(text="⚄", toolTip="A new random seed (Ctrl+Shift+S)")
        dice.clicked.connect(self.roll_seed)
        self.reuse_seed = QToolButton(text="↺", toolTip="Reuse the last generation's seed", enabled=False)
        self.reuse_seed.clicked.connect(self.reuse_last_seed)
        self.last_seed: int | None = None
        # A seed the user types or rolls is the one to use, so it locks.
        self.seed.textEdited.connect(lambda: self.lock_seed.setChecked(True))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        for button in (dice, self.lock_seed, self.reuse_seed):
            seed_row.addWidget(button)
        form.addRow(form_label("Seed", labels), seed_row)
        self.count = QSpinBox(minimum=1, maximum=100, value=1)
        form.addRow(form_label("Count", labels), self.count)
        # One form per engine, stacked: switching engines keeps what was set in each.
        self.params = ParamForm(self.engine.params)
        self.forms = {self.engine.name: self.params}
        self.form_stack = QStackedWidget()
        self.form_stack.addWidget(self.params)
        form.addRow(heading("Parameters"))
        form.addRow(self.form_stack)
        # The form's labels and the parameters' labels in one column.
        all_labels = labels + self.params.labels
        self._label_width = max(label.sizeHint().width() for label in all_labels)
        for label in all_labels:
            label.setMinimumWidth(self._label_width)
        self.generate_button = QPushButton("Generate", toolTip="Ctrl+Enter", default=True)
        self.generate_button.setMinimumHeight(34)
        self.cancel_button = QPushButton("Cancel", toolTip="Esc", enabled=False)
        self.cancel_button.setMinimumHeight(34)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setValue(0)  # a bar with no value hides its text
        self.progress.setFormat("idle")
        # The settings scroll when the window is small; Generate and the progress stay in view.
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        actions = QVBoxLayout()
        actions.setContentsMargins(8, 0, 8, 8)  # lined up with the fields above
        actions.addLayout(buttons)
        actions.addWidget(self.progress)
        left_layout.addLayout(actions)
        # The settings scroll only vertically, so the column must never be narrower than
        # they are (or the splitter clips them on the right).
        self._fit_column = lambda: left.setMinimumWidth(
            controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self._fit_column()

        self.view = ImageView()
        self.text = QPlainTextEdit(readOnly=True, placeholderText="The text appears here as it is written")
        self.recipe = QPlainTextEdit(readOnly=True, placeholderText="The full recipe of the selected output")
        self.recipe.setMaximumHeight(170)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        self.waveform = None
        if self.modality == "audio":
            from ui.waveform import WaveformView  # numpy and the audio player: only where clips are shown

            self.waveform = WaveformView()
            self.waveform.playback_failed.connect(lambda text: self.message.emit(text, 10000))
        shown = {"image": self.view, "audio": self.waveform}.get(self.modality, self.text)
        center_layout.addWidget(shown, 1)
        center_layout.addWidget(self.recipe)

        # The project's outputs of this modality: the gallery's model, virtualised, thumbnails
        # built off this thread.
        self.history_model = GalleryModel(self.project, self.loader, THUMB, parent=self)
        self.history = QListView(uniformItemSizes=True)
        self.history.setModel(self.history_model)
        if self.modality == "image":
            self.history.setViewMode(QListView.IconMode)
            self.history.setIconSize(QSize(THUMB, THUMB))
            self.history.setGridSize(QSize(THUMB + 12, THUMB + 22))
            self.history.setResizeMode(QListView.Adjust)
            self.history.setMovement(QListView.Static)
        elif self.modality == "audio":
            # The waveform thumbnail beside the prompt and duration, wrapped to the panel's width.
            self.history.setWordWrap(True)
            self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.history.setMinimumWidth(2 * THUMB + 40)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(heading("History"))
        right_layout.addWidget(self.history, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(center)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 640, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        self.engine_choice.currentIndexChanged.connect(lambda i: self.set_engine(self.engine_names[i]))
        self.generate_button.clicked.connect(self.generate)
        self.model.textChanged.connect(self._suggest_timer.start)
        self.cancel_button.clicked.connect(self.cancel_all)
        self.history.selectionModel().currentChanged.connect(self._show_item)
        b = self.bridge
        b.progress.connect(self._on_progress)
        b.preview.connect(self._on_preview)
        b.output.connect(lambda job_id, output: job_id in self._jobs and self.refresh_history(select_first=True))
        b.finished.connect(lambda job_id, result: self._on_end(job_id, "finished"))
        b.cancelled.connect(lambda job_id, result: self._on_end(job_id, "cancelled"))
        b.failed.connect(self._on_failed)

    # -- actions --------------------------------------------------------------------------
    def get_more_models(self):
        """The Models dialog, filtered to this engine; the model picked there fills the field."""
        from ui.models_dialog import ModelsDialog  # only when asked: it lists the disk

        if getattr(self, "models_dialog", None) is None:  # one per workspace: a download outlives a close
            self.models_dialog = ModelsDialog(self.project, engine=self.engine.name, choose=True, parent=self)
            self.models_dialog.model_chosen.connect(self.model.setText)
        else:
            self.models_dialog.set_engine(self.engine.name)
            self.models_dialog.refresh()
        self.models_dialog.open()
        return self.models_dialog

    def _browse_model(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # dialogs: imported when one opens (ui/main_window.py)

        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model.text())
        if folder:
            self.model.setText(folder)

    def _browse_model_file(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", self.model.text(),
                                              "Model files (*.safetensors)")
        if path:
            self.model.setText(path)

    def set_engine(self, name: str) -> None:
        """Make `name` (one of this workspace's engines) the one the form describes."""
        if name == self.engine.name:
            return
        i = self.engine_names.index(name)
        self._model_texts[self.engine.name] = self.model.text()
        self.engine, self.params = self._engine(name), self._params_form(name)
        self.form_stack.setCurrentWidget(self.params)
        if self.engine_choice.currentIndex() != i:
            self.engine_choice.setCurrentIndex(i)
        self.model.setText(self._model_texts.get(name, self.settings.value(f"{name}/model", "", str)))
        self.model.setPlaceholderText(self._placeholders()[0])
        self.prompt.setPlaceholderText(self._placeholders()[1])
        self._show_prompt()
        self._suggest_timer.start()

    def _suggest(self) -> None:
        """Ask the chosen model, off the GUI thread, what it offers the form (a speech model's
        voices); a model that cannot be found offers nothing (Generate says why)."""
        engine, form, ref = self.engine, self.params, self.model.text().strip() or None
        if not hasattr(engine, "suggestions"):
            return
        self._suggesting = worker = Worker(models.suggestions, ref, engine, self.project.root)
        worker.returned.connect(lambda found: self._suggesting is worker and form.set_suggestions(found))
        worker.errored.connect(lambda exc: self._suggesting is worker and form.set_suggestions({}))
        worker.start()

    def _engine(self, name: str):
        if name not in self._engines:
            self._engines[name] = registry.get(name)
        return self._engines[name]

    def _params_form(self, name: str) -> ParamForm:
        """The parameters form of one of the tab's engines, built the first time it is chosen."""
        if name not in self.forms:
            params = self.forms[name] = ParamForm(self._engine(name).params)
            for label in params.labels:
                label.setMinimumWidth(self._label_width)
            self.form_stack.addWidget(params)
            self._fit_column()
        return self.forms[name]

    def _show_prompt(self) -> None:
        for editor in (self.prompt, self.negative):
            if self._form.indexOf(editor) >= 0:
                self._form.setRowVisible(editor, self.engine.takes_prompt)

    def _placeholders(self) -> tuple[str, str]:
        default = PLACEHOLDERS.get(self.modality, ("a model folder", "What to make"))
        return PLACEHOLDERS.get(self.engine.name, default)

    def roll_seed(self) -> None:
        self.seed.setText(str(random.randint(0, SEED_MAX)))
        self.lock_seed.setChecked(True)

    def reuse_last_seed(self) -> None:
        if self.last_seed is not None:
            self.seed.setText(str(self.last_seed))
            self.lock_seed.setChecked(True)

    def request(self) -> Request:
        """The request the form describes (ParamError when it is not valid)."""
        return Request(
            engine=self.engine.name,
            model=self.model.text().strip() or None,
            prompt=self.prompt.toPlainText().strip() if self.engine.takes_prompt else "",
            negative_prompt=(self.negative.toPlainText().strip()
                             if self.engine.takes_prompt and self.modality == "image" else ""),
            seed=int(self.seed.text() or 0) if self.lock_seed.isChecked() else None,
            count=self.count.value(),
            params=self.params.values(),
        )

    def generate(self) -> bool:
        """Queue a generation: the form is read here, the runner checks and queues it on a
        worker (`submitted` then gives the job id). Bad input is shown, never raised; False
        when the form itself is not valid."""
        try:
            request = self.request()
        except ParamError as exc:
            self._refuse(exc)
            return False
        worker = Worker(self.runner.submit, request, sink=ProjectSink(self.project), project=self.project)
        # Bound methods of this widget: delivered on the GUI thread. One at a time, so the
        # answers come back in the order of the queue.
        worker.returned.connect(self._queued)
        worker.errored.connect(self._refused)
        self._submitting.append((worker, self.model.text().strip()))
        worker.start(self._submissions)
        return True

    def _refused(self, exc: Exception) -> None:
        self._submitting.popleft()
        self._refuse(exc)

    def _refuse(self, exc: Exception) -> None:
        from PySide6.QtWidgets import QMessageBox  # dialogs: imported when one opens (ui/main_window.py)

        if isinstance(exc, RuntimeError) and self.runner.closed:
            return  # the window is closing
        text = str(exc) if isinstance(exc, (ParamError, models.ModelError, ProjectError)) else error_message(exc)
        self.message.emit(text, 10000)
        QMessageBox.warning(self, "Cannot generate", text)

    def _queued(self, job) -> None:
        _, typed_model = self._submitting.popleft()
        key = f"{self.engine.name}/model"
        if self.settings.value(key, "", str) != typed_model:  # a write is the settings file's, on this thread
            self.settings.setValue(key, typed_model)
        self.last_seed = job.request.seed
        self.reuse_seed.setEnabled(True)
        if not self.lock_seed.isChecked():
            self.seed.setText(str(job.request.seed))  # show the seed it got
        self._jobs.append(job.id)
        self.cancel_button.setEnabled(True)
        if self.modality == "text":
            self.text.clear()
        self.submitted.emit(job.id)
        if job.done:  # it ended before this arrived: the bridge's word of it went unheard
            if job.state == "failed":
                self._on_failed(job.id, job.error or "")
            else:
                self._on_end(job.id, job.state)

    def cancel_all(self) -> None:
        for job_id in self._jobs:
            self.runner.cancel(job_id)

    # -- job events (the bridge delivers every job's; a workspace minds its own) -----------
    def _on_progress(self, job_id: int, step: int, total: int) -> None:
        if job_id in self._jobs:
            show_progress(self.progress, step, total, f"step {step} / {total}")

    def _on_preview(self, job_id: int, partial) -> None:
        if job_id not in self._jobs:
            return
        if isinstance(partial, str):
            self.text.setPlainText(partial)  # the text so far, streamed
        elif getattr(partial, "ndim", 0) == 3:  # an RGB array (the latents, cheaply decoded)
            self.view.show_image(QPixmap.fromImage(numpy_image(partial)))
        elif self.modality == "audio" and getattr(partial, "ndim", 0) == 2:  # (frames, channels) so far
            self.waveform.show_preview(partial)

    def _on_end(self, job_id: int, state: str) -> None:
        if job_id not in self._jobs:
            return
        self._jobs.remove(job_id)
        self.cancel_button.setEnabled(bool(self._jobs))
        self.progress.setFormat(state)
        self.refresh_history(select_first=True)
        self.message.emit(f"Generation {state}", 5000)

    def _on_failed(self, job_id: int, error: str) -> None:
        if job_id in self._jobs:
            self._on_end(job_id, "failed")
            self.message.emit(f"Generation failed: {error}", 20000)

    # -- history --------------------------------------------------------------------------
    def refresh_history(self, select_first: bool = False) -> None:
        if not self.history_model.filters:
            self.history_model.set_filters(modality=self.modality)
        else:
            self.history_model.refresh()
        if select_first and self.history_model.rowCount():
            self.history.setCurrentIndex(self.history_model.index(0))
            self._show_item(self.history.currentIndex())

    def _show_item(self, index) -> None:
        rec = self.history_model.data(index, RecordRole) if index.isValid() else None
        if rec is None:
            return
        if self.modality == "image":
            self.view.load(rec.path)
        elif self.modality == "audio":
            self.waveform.show_file(rec.path)
        elif rec.path.is_file():
            self.text.setPlainText(rec.path.read_text(encoding="utf-8"))
        self.recipe.setPlainText(recipe_text(rec))

    def busy(self) -> bool:
        return bool(self._jobs)

    def apply_recipe(self, recipe: dict) -> list[str]:
        """Fill the form from a recipe (ours or AUTOMATIC1111's). Returns what could not be
        used, so the window can say so."""
        skipped = []
        if recipe.get("engine") in self.engine_names:
            self.set_engine(recipe["engine"])
        model = recipe.get("model")
        if model and not str(model).startswith("inputs/"):
            self.model.setText(str(model))
        self.prompt.setPlainText(recipe.get("prompt") or "")
        self.negative.setPlainText(recipe.get("negative_prompt") or "")
        if recipe.get("seed") is not None:
            self.lock_seed.setChecked(True)
            self.seed.setText(str(recipe["seed"]))
        schema = {p.name: p for p in self.engine.params}
        for name, value in (recipe.get("params") or {}).items():
            param = schema.get(name)
            if param is None:
                skipped.append(name)
                continue
            if param.type == "file" and isinstance(value, str) and value.startswith("inputs/"):
                value = str(self.project.resolve(value))  # a copy kept in this project
            try:
                param.check(value)
            except ParamError:
                skipped.append(f"{name}={value}")
                continue
            self.params.set_value(name, value)
        return skipped


def form_label(text: str, labels: list[QLabel]) -> QLabel:
    label = QLabel(text)
    labels.append(label)
    return label


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def numpy_image(array) -> QImage:
    """An HxWx3 uint8 array as a QImage (copied: the array may go away)."""
    import numpy as np

    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    return QImage(array.data, width, height, 3 * width, QImage.Format_RGB888).copy()
