"""The gallery: every output of the project in a virtualised grid, with search, filters, the
full recipe of the selected one and what to do with it (favorite, tag, trash, copy recipe,
re-make, new seed, vary, use as init image, export, reveal)."""
from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QListView,
    QPlainTextEdit, QPushButton, QSplitter, QStackedWidget, QVBoxLayout, QWidget,
)

from engines import registry
from engines.api import SEED_MAX, ParamError, Request
from studio.jobs import JobRunner
from studio.models import ModelError
from studio.project import OutputRecord, Project, ProjectError
from studio.recording import ProjectSink
from ui.bridge import JobBridge
from ui.gallery_model import GalleryModel, recipe_text
from ui.thumb_loader import ThumbLoader
from ui.worker import Worker
from ui.workspace import ImageView

CELL = 128
DATES = (("Any time", None), ("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
VARY_STRENGTH = 0.15  # a variation close to the original, as A1111's default slider sits


def output_request(rec: OutputRecord, **changes) -> tuple[Request, dict]:
    """The request that re-makes exactly this output (its own seed, count 1) and how to
    submit it: the recorded thread count (it changes the bits on CPU) and the parent."""
    recipe = rec.recipe
    request = Request.from_dict({**recipe, "seed": rec.seed, "count": 1})
    if changes.get("params"):
        changes["params"] = {**request.params, **changes["params"]}
    runtime = recipe.get("runtime") or {}
    return request.replace(**changes), {"threads": runtime.get("threads"), "parent_id": rec.generation_id}


class Gallery(QWidget):
    message = Signal(str, int)
    recipe_chosen = Signal(dict)  # "open in workspace": the form takes this recipe
    init_image_chosen = Signal(str)  # "use as init image"
    remade = Signal(int, bool)  # original output id, identical

    def __init__(self, project: Project, runner: JobRunner, bridge: JobBridge, loader: ThumbLoader | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.project, self.runner, self.bridge = project, runner, bridge
        self.loader = loader or ThumbLoader(project.root, parent=self)
        self.model = GalleryModel(project, self.loader, CELL, parent=self)
        self._remakes: dict[int, OutputRecord] = {}  # re-make job -> the output it re-makes
        self._build()
        self._connect()
        self.apply_filters()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = QLineEdit(placeholderText="Search prompts…", clearButtonEnabled=True)
        self.modality = _combo([("All kinds", None), ("Images", "image"), ("Text", "text"), ("Audio", "audio")])
        self.engine = _combo([("All engines", None)])
        self.model_filter = _combo([("All models", None)])
        self.model_filter.setMaximumWidth(220)
        self.favorites = QCheckBox("★ only", toolTip="Only favorites")
        self.tag = QLineEdit(placeholderText="tag", clearButtonEnabled=True, maximumWidth=120)
        self.date = _combo(list(DATES))
        self.count_label = QLabel()
        bar = QHBoxLayout()
        for widget in (self.search, self.modality, self.engine, self.model_filter, self.favorites, self.tag,
                       self.date, self.count_label):
            bar.addWidget(widget, 3 if widget is self.search else 0)

        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setViewMode(QListView.IconMode)
        self.view.setIconSize(QSize(CELL, CELL))
        self.view.setGridSize(QSize(CELL + 16, CELL + 24))
        self.view.setUniformItemSizes(True)  # no per-item size query: 10,000 rows lay out at once
        self.view.setResizeMode(QListView.Adjust)
        self.view.setMovement(QListView.Static)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.view.setLayoutMode(QListView.Batched)
        self.view.setBatchSize(500)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.ElideRight)

        self.preview = ImageView()
        self.preview.setText("Select an output")
        self.preview.setMinimumSize(240, 240)
        self.text = QPlainTextEdit(readOnly=True)
        self.shown = QStackedWidget()
        self.shown.addWidget(self.preview)
        self.shown.addWidget(self.text)
        self.waveform = None  # an audio clip's waveform and player: built for the first clip shown
        self.recipe = QPlainTextEdit(readOnly=True, placeholderText="The full recipe of the selected output")
        self.tags_label = QLabel(wordWrap=True)
        self.buttons: dict[str, QPushButton] = {}
        grid = QVBoxLayout()
        rows = (
            (("favorite", "★ Favorite", "F", self.toggle_favorite), ("tag", "Tag…", "T", self.add_tag),
             ("delete", "Delete", "Del", self.delete_selected)),
            (("remake", "Re-make", "Ctrl+R", self.remake), ("new_seed", "New seed", "Ctrl+Shift+N", self.new_seed),
             ("vary", "Vary", "", self.vary)),
            (("init", "Use as init image", "", self.use_as_init), ("open", "Open in workspace", "", self.open_recipe),
             ("copy", "Copy recipe", "", self.copy_recipe)),
            (("export", "Export…", "", self.export_selected), ("reveal", "Show in folder", "", self.reveal)),
        )
        for row in rows:
            line = QHBoxLayout()
            for key, text, keys, slot in row:
                button = QPushButton(text, toolTip=keys)
                button.clicked.connect(slot)
                self.buttons[key] = button
                line.addWidget(button)
            grid.addLayout(line)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.shown, 3)
        detail_layout.addWidget(self.tags_label)
        detail_layout.addLayout(grid)
        detail_layout.addWidget(self.recipe, 2)

        self.splitter = QSplitter()
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([760, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)
        self._enable_actions()

    def _connect(self) -> None:
        self._debounce = QTimer(self, singleShot=True, interval=250)  # search as typed, not per key
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(self._debounce.start)
        self.tag.textChanged.connect(self._debounce.start)
        for combo in (self.modality, self.engine, self.model_filter, self.date):
            combo.currentIndexChanged.connect(self.apply_filters)
        self.favorites.toggled.connect(self.apply_filters)
        self.view.selectionModel().selectionChanged.connect(self._show_selected)
        self.view.doubleClicked.connect(self.open_recipe)
        self.model.modelReset.connect(self._update_count)
        self.model.rowsInserted.connect(self._update_count)
        self.bridge.output.connect(lambda *_: self.refresh())  # results appear the moment they are recorded
        self.bridge.finished.connect(self._on_job_end)
        self.bridge.cancelled.connect(self._on_job_end)
        self.bridge.failed.connect(lambda job_id, error: self._remakes.pop(job_id, None))

    def close_project(self) -> None:
        if self.waveform is not None:
            self.waveform.stop()
        self._debounce.stop()
        self._debounce.timeout.disconnect(self.apply_filters)

    # -- filters --------------------------------------------------------------------------
    def apply_filters(self) -> None:
        days = self.date.currentData()
        since = None
        if days:
            midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
            since = midnight - (days - 1) * 86400
        self.model.set_filters(
            search=self.search.text().strip() or None,
            modality=self.modality.currentData(),
            engine=self.engine.currentData(),
            model=self.model_filter.currentData(),
            favorite=True if self.favorites.isChecked() else None,
            tag=self.tag.text().strip() or None,
            since=since,
        )
        self._show_selected()

    def refresh(self) -> None:
        self.model.refresh()
        self._refresh_choices()

    def _refresh_choices(self) -> None:
        for combo, column, everything in ((self.engine, "engine", "All engines"),
                                          (self.model_filter, "model", "All models")):
            values = self.project.values(column)
            if [combo.itemData(i) for i in range(1, combo.count())] == values:
                continue
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(everything, None)
            for value in values:
                combo.addItem(Path(value).name if column == "model" else value, value)
                combo.setItemData(combo.count() - 1, value, Qt.ToolTipRole)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(False)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh_choices()

    def _update_count(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n} output{'s' if n != 1 else ''}")

    # -- selection and detail -------------------------------------------------------------
    def selected(self) -> list[OutputRecord]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedIndexes())
        return [rec for rec in (self.model.record(r) for r in rows) if rec is not None]

    def current(self) -> OutputRecord | None:
        chosen = self.selected()
        return chosen[0] if chosen else None

    def select_row(self, row: int) -> None:
        self.view.setCurrentIndex(self.model.index(row))

    def _show_selected(self, *_) -> None:
        rec = self.current()
        self._enable_actions()
        if self.waveform is not None:
            self.waveform.stop()  # a clip playing stops when another output is chosen
        if rec is None:
            self.shown.setCurrentWidget(self.preview)
            self.preview.clear_image("Select an output")
            self.recipe.clear()
            self.tags_label.clear()
            return
        if rec.kind == "audio" and not rec.missing:
            self.shown.setCurrentWidget(self.audio_view())
            self.waveform.show_file(rec.path)
        elif rec.kind == "text":
            self.shown.setCurrentWidget(self.text)
            try:
                self.text.setPlainText(rec.path.read_text(encoding="utf-8"))
            except OSError as exc:
                self.text.setPlainText(f"The file is missing: {exc}")
        else:
            self.shown.setCurrentWidget(self.preview)
            thumbnail = self.model.data(self.model.index(self.model.row_of(rec.id)), Qt.DecorationRole)
            if rec.kind == "image" and not rec.missing:
                self.preview.load(rec.path, placeholder=thumbnail)
            else:
                self.preview.show_image(thumbnail)
        self.recipe.setPlainText(recipe_text(rec))
        star = "★ favorite · " if rec.favorite else ""
        self.tags_label.setText(star + ("tags: " + ", ".join(rec.tags) if rec.tags else "no tags"))
        self.buttons["favorite"].setText("☆ Unfavorite" if rec.favorite else "★ Favorite")

    def audio_view(self):
        """The waveform with Play and its moving cursor, as the Audio tab shows clips; where
        no audio device exists, Play says so under it."""
        if self.waveform is None:
            from ui.waveform import WaveformView  # numpy and the audio player: only once a clip is shown

            self.waveform = WaveformView()
            self.waveform.playback_failed.connect(lambda text: self.message.emit(text, 10000))
            self.shown.addWidget(self.waveform)
        return self.waveform

    def _enable_actions(self) -> None:
        chosen = self.selected()
        one = len(chosen) == 1
        for key, button in self.buttons.items():
            button.setEnabled(bool(chosen) if key in ("delete", "export", "favorite", "tag") else one)
        if one:
            try:
                names = {p.name for p in registry.get(chosen[0].recipe.get("engine", "")).params}
            except ParamError:  # made by an engine not installed here
                names = set()
            self.buttons["vary"].setEnabled("variation_seed" in names)
            self.buttons["init"].setEnabled(chosen[0].kind == "image")

    # -- actions on the selection ---------------------------------------------------------
    def toggle_favorite(self) -> None:
        chosen = self.selected()
        on = not all(rec.favorite for rec in chosen)
        for rec in chosen:
            self.project.set_favorite(rec.id, on)
            self.model.reload(rec.id)
        if self.favorites.isChecked() and not on:
            self.model.refresh()
        self._show_selected()

    def add_tag(self, tag: str | None = None) -> None:
        chosen = self.selected()
        if not chosen:
            return
        if not isinstance(tag, str):
            tag, ok = QInputDialog.getText(self, "Tag", "Tag for the selected outputs:")
            if not ok:
                return
        try:
            for rec in chosen:
                self.project.add_tag(rec.id, tag)
                self.model.reload(rec.id)
        except ProjectError as exc:
            self.message.emit(str(exc), 8000)
        self._show_selected()

    def delete_selected(self) -> None:
        """To the project's trash (the files stay until it is emptied)."""
        chosen = self.selected()
        if not chosen:
            return
        row = self.model.row_of(chosen[0].id) or 0
        for rec in chosen:
            self.project.trash(rec.id)
        self.model.refresh()
        if self.model.rowCount():
            self.select_row(min(row, self.model.rowCount() - 1))
        self.message.emit(f"Moved {len(chosen)} output{'s' if len(chosen) != 1 else ''} to the project's trash", 6000)

    def copy_recipe(self) -> None:
        rec = self.current()
        if rec is not None:
            QGuiApplication.clipboard().setText(json.dumps(rec.recipe, indent=2, ensure_ascii=False))
            self.message.emit("Recipe copied", 3000)

    def open_recipe(self, *_) -> None:
        rec = self.current()
        if rec is not None:
            self.recipe_chosen.emit({**rec.recipe, "seed": rec.seed})

    def use_as_init(self) -> None:
        rec = self.current()
        if rec is not None and rec.kind == "image":
            self.init_image_chosen.emit(str(rec.path))

    def remake(self) -> int | None:
        """Run the recipe again; when it ends the window says whether it is identical."""
        rec = self.current()
        return None if rec is None else self._submit(rec, remake=True)

    def new_seed(self) -> int | None:
        rec = self.current()
        return None if rec is None else self._submit(rec, seed=random.randint(0, SEED_MAX))

    def vary(self) -> int | None:
        rec = self.current()
        if rec is None:
            return None
        params = {"variation_seed": random.randint(0, SEED_MAX), "variation_strength": VARY_STRENGTH}
        return self._submit(rec, params=params)

    def _submit(self, rec: OutputRecord, remake: bool = False, **changes) -> int | None:
        try:
            request, options = output_request(rec, **changes)
            job = self.runner.submit(request, sink=ProjectSink(self.project), project=self.project, **options)
        except (ParamError, ModelError, ProjectError) as exc:
            self.message.emit(f"Cannot make it again: {exc}", 15000)
            return None
        if remake:
            self._remakes[job.id] = rec
        self.message.emit("Re-making…" if remake else "Queued", 4000)
        return job.id

    def _on_job_end(self, job_id: int, result) -> None:
        original = self._remakes.pop(job_id, None)
        if original is None:
            return
        if not result or not result.get("generation_id"):
            self.message.emit("Re-make cancelled", 5000)
            return
        made = self.project.get(result["generation_id"]).outputs
        identical = bool(made) and made[0].content_sha256 == original.content_sha256
        note = ("identical to the original" if identical else
                "differs from the original (model, device, thread count or library versions changed)")
        if made and made[0].recipe.get("model_hash") != original.recipe.get("model_hash"):
            note += "; the model's files changed"
        self.message.emit(f"Re-make: {note}", 20000)
        self.remade.emit(original.id, identical)

    def export_selected(self, folder: str | None = None):
        chosen = self.selected()
        if not chosen:
            return None
        if not isinstance(folder, str):
            folder = QFileDialog.getExistingDirectory(self, "Export to folder")
            if not folder:
                return None
        worker = Worker(_copy_out, [rec.path for rec in chosen], Path(folder))
        worker.returned.connect(lambda n: self.message.emit(f"Exported {n} file(s) to {folder}", 8000))
        worker.errored.connect(lambda exc: self.message.emit(f"Export failed: {exc}", 15000))
        worker.start()
        return worker

    def reveal(self) -> None:
        rec = self.current()
        if rec is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(rec.path.parent)))


def _copy_out(paths: list[Path], folder: Path) -> int:
    """Copy outputs (and a text output's JSON sidecar, which carries its recipe) out."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for path in paths:
        shutil.copy2(path, folder / path.name)
        sidecar = path.with_suffix(".json")
        if path.suffix == ".txt" and sidecar.is_file():
            shutil.copy2(sidecar, folder / sidecar.name)
        n += 1
    return n


def _combo(items) -> QComboBox:
    combo = QComboBox()
    for text, data in items:
        combo.addItem(text, data)
    return combo
