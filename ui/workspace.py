"""One workspace per modality: the same form, queue and history around any engine.

Everything engine-specific comes from the engine's schema (ParamForm); what differs by
modality is only how an output is shown: an image view and thumbnails, or text.
"""
from __future__ import annotations

import json
import random

from PySide6.QtCore import QRegularExpression, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
    QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QSplitter, QStyle,
    QToolButton, QVBoxLayout, QWidget,
)

from engines import registry
from engines.api import SEED_MAX, ParamError, Request
from studio.jobs import JobRunner
from studio.models import ModelError
from studio.project import Generation, Project, ProjectError
from studio.recording import ProjectSink
from ui.bridge import JobBridge
from ui.param_form import ParamForm

THUMB = 96
PLACEHOLDERS = {
    "image": ("a diffusers folder or a hub id in your Hugging Face cache",
              "What to make: a red potion, game icon, pixel art"),
    "text": ("a transformers model folder or a hub id in your Hugging Face cache",
             "What to write: 12 names for healing potions, as a numbered list"),
}


class ImageView(QLabel):
    """Shows one image scaled to fit, nearest-neighbour so pixel art stays crisp."""

    def __init__(self):
        super().__init__("Your images appear here")
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setStyleSheet("background: #1e1e1e; color: #888; border-radius: 4px")
        self._pixmap: QPixmap | None = None

    def show_image(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._rescale()

    def has_image(self) -> bool:
        return self._pixmap is not None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        room = self.size() - QSize(8, 8)
        size = self._pixmap.size().scaled(room, Qt.KeepAspectRatio)
        if size.width() >= self._pixmap.width():
            # Enlarging: a whole-number factor, nearest-neighbour, so every pixel of a small
            # sprite becomes the same size square.
            factor = max(1, size.width() // self._pixmap.width())
            self.setPixmap(self._pixmap.scaled(self._pixmap.size() * factor, Qt.KeepAspectRatio,
                                               Qt.FastTransformation))
        else:
            self.setPixmap(self._pixmap.scaled(size, Qt.KeepAspectRatio, Qt.SmoothTransformation))


class Workspace(QWidget):
    message = Signal(str, int)  # text for the status bar, milliseconds

    def __init__(self, engine_name: str, project: Project, runner: JobRunner, bridge: JobBridge,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = registry.get(engine_name)
        self.modality = self.engine.modality
        self.project, self.runner, self.bridge = project, runner, bridge
        self.settings = QSettings()
        self._jobs: list[int] = []
        self._build()
        self._connect()
        self.refresh_history()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        model_hint, prompt_hint = PLACEHOLDERS.get(self.modality, ("a model folder", "What to make"))
        labels: list[QLabel] = []
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        column.addLayout(form)
        column.addStretch(1)  # spare height goes below the form, not between its rows
        self.model = QLineEdit(self.settings.value(f"{self.engine.name}/model", "", str), placeholderText=model_hint)
        browse = QPushButton("Browse…", toolTip="Choose a model folder")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        form.addRow(_label("Model", labels), model_row)
        self.prompt = QPlainTextEdit(placeholderText=prompt_hint)
        self.prompt.setFixedHeight(90)
        self.negative = QPlainTextEdit(placeholderText="What to avoid (negative prompt)")
        self.negative.setFixedHeight(50)
        if self.engine.takes_prompt:
            form.addRow(_label("Prompt", labels), self.prompt)
            if self.modality == "image":
                form.addRow(_label("Negative", labels), self.negative)
        # Seeds go up to 2**32 - 1, past what a QSpinBox holds: digits only, range-checked by Request.
        self.seed = QLineEdit("0", placeholderText="seed")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}")))
        self.random_seed = QCheckBox("random", checked=True)
        dice = QToolButton(toolTip="A new random seed")
        dice.setIcon(self.style().standardIcon(QStyle.SP_BrowserReload))
        dice.clicked.connect(self.roll_seed)
        # A seed the user types or rolls is the one to use, so "random" goes off.
        self.seed.textEdited.connect(lambda: self.random_seed.setChecked(False))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        seed_row.addWidget(self.random_seed)
        form.addRow(_label("Seed", labels), seed_row)
        self.count = QSpinBox(minimum=1, maximum=100, value=1)
        form.addRow(_label("Count", labels), self.count)
        self.params = ParamForm(self.engine.params)
        form.addRow(_heading("Parameters"))
        form.addRow(self.params)
        # The form's labels and the parameters' labels in one column.
        width = max(label.sizeHint().width() for label in labels + self.params.labels)
        for label in labels + self.params.labels:
            label.setMinimumWidth(width)
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

        self.view = ImageView()
        self.text = QPlainTextEdit(readOnly=True, placeholderText="The text appears here as it is written")
        self.recipe = QPlainTextEdit(readOnly=True, placeholderText="The full recipe of the selected output")
        self.recipe.setMaximumHeight(170)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(self.view if self.modality == "image" else self.text, 1)
        center_layout.addWidget(self.recipe)

        self.history = QListWidget()
        if self.modality == "image":
            self.history.setViewMode(QListWidget.IconMode)
            self.history.setIconSize(QSize(THUMB, THUMB))
            self.history.setResizeMode(QListWidget.Adjust)
            self.history.setMovement(QListWidget.Static)
            self.history.setSpacing(4)
        self.history.setMinimumWidth(2 * THUMB + 40)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(_heading("History"))
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
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel_all)
        self.history.currentItemChanged.connect(self._show_item)
        b = self.bridge
        b.progress.connect(self._on_progress)
        b.preview.connect(self._on_preview)
        b.output.connect(lambda job_id, output: job_id in self._jobs and self.refresh_history(select_first=True))
        b.finished.connect(lambda job_id, result: self._on_end(job_id, "finished"))
        b.cancelled.connect(lambda job_id, result: self._on_end(job_id, "cancelled"))
        b.failed.connect(self._on_failed)

    # -- actions --------------------------------------------------------------------------
    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.model.text())
        if folder:
            self.model.setText(folder)

    def roll_seed(self) -> None:
        self.seed.setText(str(random.randint(0, SEED_MAX)))
        self.random_seed.setChecked(False)

    def request(self) -> Request:
        """The request the form describes (ParamError when it is not valid)."""
        return Request(
            engine=self.engine.name,
            model=self.model.text().strip() or None,
            prompt=self.prompt.toPlainText().strip() if self.engine.takes_prompt else "",
            negative_prompt=self.negative.toPlainText().strip() if self.modality == "image" else "",
            seed=None if self.random_seed.isChecked() else int(self.seed.text() or 0),
            count=self.count.value(),
            params=self.params.values(),
        )

    def generate(self) -> int | None:
        """Queue a generation; bad input is shown, never raised. Returns the job id."""
        try:
            job = self.runner.submit(self.request(), sink=ProjectSink(self.project), project=self.project)
        except (ParamError, ModelError, ProjectError) as exc:
            self.message.emit(str(exc), 10000)
            QMessageBox.warning(self, "Cannot generate", str(exc))
            return None
        self.settings.setValue(f"{self.engine.name}/model", self.model.text().strip())
        if self.random_seed.isChecked():
            self.seed.setText(str(job.request.seed))  # show the seed it got
        self._jobs.append(job.id)
        self.cancel_button.setEnabled(True)
        if self.modality == "text":
            self.text.clear()
        return job.id

    def cancel_all(self) -> None:
        for job_id in self._jobs:
            self.runner.cancel(job_id)

    # -- job events (the bridge delivers every job's; a workspace minds its own) -----------
    def _on_progress(self, job_id: int, step: int, total: int) -> None:
        if job_id in self._jobs:
            self.progress.setMaximum(total)
            self.progress.setValue(step)
            self.progress.setFormat(f"step {step} / {total}")

    def _on_preview(self, job_id: int, partial) -> None:
        if job_id not in self._jobs:
            return
        if isinstance(partial, str):
            self.text.setPlainText(partial)  # the text so far, streamed
        elif getattr(partial, "ndim", 0) == 3:  # an RGB array (the latents, cheaply decoded)
            self.view.show_image(QPixmap.fromImage(numpy_image(partial)))

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
        # Small files load fast enough here; the gallery issue moves thumbnails off this thread.
        self.history.blockSignals(True)
        self.history.clear()
        for generation in self.project.query(modality=self.modality, limit=200):
            for out in generation.outputs:
                if self.modality == "image":
                    item = QListWidgetItem(QIcon(QPixmap.fromImage(_thumbnail(out.path))), f"{out.seed}")
                else:
                    item = QListWidgetItem(_first_line(out.path))
                item.setData(Qt.UserRole, (generation, out))
                item.setToolTip(generation.recipe.get("prompt", ""))
                self.history.addItem(item)
        self.history.blockSignals(False)
        if select_first and self.history.count():
            self.history.setCurrentRow(0)

    def _show_item(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        generation, out = item.data(Qt.UserRole)
        if self.modality == "image":
            self.view.show_image(QPixmap(str(out.path)))
        elif out.path.is_file():
            self.text.setPlainText(out.path.read_text(encoding="utf-8"))
        self.recipe.setPlainText(_recipe_text(generation, out))

    def busy(self) -> bool:
        return bool(self._jobs)

    def apply_recipe(self, recipe: dict) -> list[str]:
        """Fill the form from a recipe (ours or AUTOMATIC1111's). Returns what could not be
        used, so the window can say so."""
        skipped = []
        model = recipe.get("model")
        if model and not str(model).startswith("inputs/"):
            self.model.setText(str(model))
        self.prompt.setPlainText(recipe.get("prompt") or "")
        self.negative.setPlainText(recipe.get("negative_prompt") or "")
        if recipe.get("seed") is not None:
            self.random_seed.setChecked(False)
            self.seed.setText(str(recipe["seed"]))
        schema = {p.name: p for p in self.engine.params}
        for name, value in (recipe.get("params") or {}).items():
            param = schema.get(name)
            if param is None or param.type == "loras":
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


def _label(text: str, labels: list[QLabel]) -> QLabel:
    label = QLabel(text)
    labels.append(label)
    return label


def _heading(text: str) -> QLabel:
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


def _thumbnail(path) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        return image
    mode = Qt.FastTransformation if image.width() <= THUMB else Qt.SmoothTransformation
    return image.scaled(THUMB, THUMB, Qt.KeepAspectRatio, mode)


def _first_line(path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "(file missing)"
    line = text.splitlines()[0] if text else "(empty)"
    return line[:80] + ("…" if len(line) > 80 else "")


def _recipe_text(generation: Generation, out) -> str:
    r = out.recipe
    lines = [f"generation {generation.id} · output {out.index} · {generation.status}", ""]
    for key in ("prompt", "negative_prompt", "seed", "model", "model_hash"):
        if r.get(key) not in (None, ""):
            lines.append(f"{key}: {r[key]}")
    lines += [f"{k}: {v}" for k, v in (r.get("params") or {}).items()]
    lines.append("runtime: " + json.dumps(r.get("runtime", {}), ensure_ascii=False))
    return "\n".join(lines)
