"""The main window: an Image workspace on the core (the full studio grows from here).

Generation goes through the same JobRunner and ProjectSink as the CLI; the GUI thread only
submits and listens (ui/bridge.py), it never waits on a model.
"""
from __future__ import annotations

import json
import random

from PySide6.QtCore import QRegularExpression, QSettings, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QRegularExpressionValidator, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
    QMainWindow, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QSizePolicy, QSpinBox, QSplitter,
    QStyle, QToolButton, QVBoxLayout, QWidget,
)

from engines import registry
from engines.api import SEED_MAX, ParamError, Request
from studio.jobs import JobRunner
from studio.models import ModelError
from studio.project import Generation, Project, ProjectError
from studio.recording import ProjectSink
from ui.bridge import JobBridge
from ui.param_form import ParamForm

ENGINE = "diffusion"
THUMB = 96


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
        size = self._pixmap.size().scaled(self.size() - QSize(8, 8), Qt.KeepAspectRatio)
        smooth = Qt.FastTransformation if size.width() >= self._pixmap.width() else Qt.SmoothTransformation
        self.setPixmap(self._pixmap.scaled(size, Qt.KeepAspectRatio, smooth))


class MainWindow(QMainWindow):
    def __init__(self, project: Project, runner: JobRunner | None = None):
        super().__init__()
        self.project = project
        self.runner = runner or JobRunner()
        self.bridge = JobBridge(self.runner, parent=self)
        self.engine = registry.get(ENGINE)
        self.settings = QSettings()
        self._jobs: list[int] = []
        self.setWindowTitle(f"Assetsmith — {project.root.name}")
        self._build()
        self._connect()
        self.refresh_history()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if not project.report.ok():
            self.statusBar().showMessage(project.report.summary(), 15000)

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        controls = QWidget()
        form = QFormLayout(controls)
        self.model = QLineEdit(self.settings.value("image/model", "", str))
        self.model.setPlaceholderText("a diffusers folder, a .safetensors file or a hub id")
        browse = QToolButton(text="…", toolTip="Choose a model folder")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        form.addRow("Model", model_row)
        self.prompt = QPlainTextEdit(placeholderText="What to make: a red potion, game icon, pixel art")
        self.prompt.setFixedHeight(90)
        form.addRow("Prompt", self.prompt)
        self.negative = QPlainTextEdit(placeholderText="What to avoid (negative prompt)")
        self.negative.setFixedHeight(50)
        form.addRow("Negative", self.negative)
        # Seeds go up to 2**32 - 1, past what a QSpinBox holds: digits only, range-checked by Request.
        self.seed = QLineEdit("0", placeholderText="seed")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}")))
        self.random_seed = QCheckBox("random", checked=True)
        dice = QToolButton(toolTip="A new random seed")
        dice.setIcon(self.style().standardIcon(QStyle.SP_BrowserReload))
        dice.clicked.connect(lambda: self.seed.setText(str(random.randint(0, SEED_MAX))))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        seed_row.addWidget(self.random_seed)
        form.addRow("Seed", seed_row)
        self.count = QSpinBox(minimum=1, maximum=100, value=1)
        form.addRow("Count", self.count)
        self.params = ParamForm(self.engine.params)
        form.addRow(self.params)
        self.generate_button = QPushButton("Generate", toolTip="Ctrl+Enter")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", toolTip="Esc", enabled=False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        form.addRow(buttons)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setFormat("idle")
        form.addRow(self.progress)

        self.view = ImageView()
        self.recipe = QPlainTextEdit(readOnly=True, placeholderText="The full recipe of the selected output")
        self.recipe.setMaximumHeight(170)
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.addWidget(self.view, 1)
        center_layout.addWidget(self.recipe)

        self.history = QListWidget()
        self.history.setViewMode(QListWidget.IconMode)
        self.history.setIconSize(QSize(THUMB, THUMB))
        self.history.setResizeMode(QListWidget.Adjust)
        self.history.setMovement(QListWidget.Static)
        self.history.setSpacing(4)
        self.history.setMinimumWidth(2 * THUMB + 40)

        splitter = QSplitter()
        splitter.addWidget(controls)
        splitter.addWidget(center)
        splitter.addWidget(self.history)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 640, 260])
        self.setCentralWidget(splitter)
        self.queue_label = QLabel()
        self.statusBar().addPermanentWidget(self.queue_label)
        self.statusBar().addPermanentWidget(QLabel(str(self.project.root)))

    def _connect(self) -> None:
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel_all)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.generate)
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=self.cancel_all)
        self.history.currentItemChanged.connect(self._show_item)
        b = self.bridge
        b.started.connect(lambda job_id: self._set_queue_label())
        b.progress.connect(self._on_progress)
        b.preview.connect(self._on_preview)
        b.output.connect(lambda job_id, output: self.refresh_history(select_first=True))
        b.finished.connect(lambda job_id, result: self._on_end(job_id, "finished"))
        b.cancelled.connect(lambda job_id, result: self._on_end(job_id, "cancelled"))
        b.failed.connect(self._on_failed)

    # -- actions --------------------------------------------------------------------------
    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder", self.model.text())
        if folder:
            self.model.setText(folder)

    def request(self) -> Request:
        """The request the form describes (ParamError when it is not valid)."""
        return Request(
            engine=ENGINE,
            model=self.model.text().strip() or None,
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.toPlainText().strip(),
            seed=None if self.random_seed.isChecked() else int(self.seed.text() or 0),
            count=self.count.value(),
            params=self.params.values(),
        )

    def generate(self) -> int | None:
        """Queue a generation; bad input is shown, never raised. Returns the job id."""
        try:
            job = self.runner.submit(self.request(), sink=ProjectSink(self.project), project=self.project)
        except (ParamError, ModelError, ProjectError) as exc:
            self.statusBar().showMessage(str(exc), 10000)
            QMessageBox.warning(self, "Cannot generate", str(exc))
            return None
        self.settings.setValue("image/model", self.model.text().strip())
        if self.random_seed.isChecked():
            self.seed.setText(str(job.request.seed))  # show the seed it got
        self._jobs.append(job.id)
        self.cancel_button.setEnabled(True)
        self._set_queue_label()
        return job.id

    def cancel_all(self) -> None:
        for job_id in self._jobs:
            self.runner.cancel(job_id)

    # -- job events -----------------------------------------------------------------------
    def _set_queue_label(self) -> None:
        waiting = len(self.runner.queued())
        running = len(self._jobs) - waiting
        self.queue_label.setText(f"{running} running, {waiting} queued" if self._jobs else "queue empty")

    def _on_progress(self, job_id: int, step: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(step)
        self.progress.setFormat(f"step {step} / {total}")

    def _on_preview(self, job_id: int, partial) -> None:
        if getattr(partial, "ndim", 0) == 3:  # an RGB array (the latents, cheaply decoded)
            self.view.show_image(QPixmap.fromImage(numpy_image(partial)))

    def _on_end(self, job_id: int, state: str) -> None:
        if job_id in self._jobs:
            self._jobs.remove(job_id)
        self.cancel_button.setEnabled(bool(self._jobs))
        self.progress.setFormat(state)
        self._set_queue_label()
        self.refresh_history(select_first=True)
        self.statusBar().showMessage(f"Generation {state}", 5000)

    def _on_failed(self, job_id: int, error: str) -> None:
        self._on_end(job_id, "failed")
        self.statusBar().showMessage(f"Generation failed: {error}", 20000)

    # -- history --------------------------------------------------------------------------
    def refresh_history(self, select_first: bool = False) -> None:
        # Small PNGs load fast enough here; the gallery issue moves thumbnails off this thread.
        self.history.blockSignals(True)
        self.history.clear()
        for generation in self.project.query(modality="image", limit=200):
            for out in generation.outputs:
                item = QListWidgetItem(QIcon(QPixmap.fromImage(_thumbnail(out.path))), f"{out.seed}")
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
        self.view.show_image(QPixmap(str(out.path)))
        self.recipe.setPlainText(_recipe_text(generation, out))

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.bridge.close()
        self.runner.shutdown()
        super().closeEvent(event)


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


def _recipe_text(generation: Generation, out) -> str:
    r = out.recipe
    lines = [f"generation {generation.id} · output {out.index} · {generation.status}", ""]
    for key in ("prompt", "negative_prompt", "seed", "model", "model_hash"):
        if r.get(key) not in (None, ""):
            lines.append(f"{key}: {r[key]}")
    lines += [f"{k}: {v}" for k, v in (r.get("params") or {}).items()]
    lines.append("runtime: " + json.dumps(r.get("runtime", {}), ensure_ascii=False))
    return "\n".join(lines)
