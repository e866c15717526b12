"""The Models dialog: what is on this machine, what to download, import, convert and remove.

The same core as `assetsmith models` (studio.models, studio.downloads). Slow work (listing a
large cache, a download, a conversion) runs on a worker thread; the dialog only shows it. A
download reports bytes, speed and ETA and stops at the next chunk on Cancel; Download again
resumes it. Opened from a workspace's model field, it is filtered to that engine and "Use
this model" hands the chosen reference back (`model_chosen`).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
    QLineEdit, QMessageBox, QProgressBar, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from engines import registry
from engines.api import Cancelled
from studio import downloads, models, settings
from studio.downloads import human_size
from ui.widgets import show_progress
from ui.worker import Worker

INSTALLED_COLUMNS = ("Name", "Type", "Engines", "Family", "Size", "Source", "Licence")
RECOMMENDED_COLUMNS = ("Model", "Engine", "Size", "Licence", "About")
INFO_ROLE = Qt.UserRole + 1


class _Relay(QObject):
    """Carries download progress from the worker thread to the GUI thread (queued signal)."""

    progress = Signal(object)


class _SizeItem(QTableWidgetItem):
    """A size column that sorts by bytes, not by its text."""

    def __init__(self, size: int):
        super().__init__(human_size(size) if size else "—")
        self.size = size
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other):
        return self.size < getattr(other, "size", 0)


class ModelsDialog(QDialog):
    model_chosen = Signal(str)  # a model reference, for the field that asked
    models_changed = Signal()  # something was downloaded, imported, converted or removed
    listed = Signal()  # the installed list was (re)filled

    def __init__(self, project=None, engine: str | None = None, choose: bool = False,
                 endpoint: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.project, self.endpoint, self.choose = project, endpoint, choose
        self.infos: list[models.ModelInfo] = []
        self._cancel: threading.Event | None = None
        self._download_worker = None
        self._workers: set = set()  # keeps running workers referenced until they end
        self._listing = 0  # number of the newest listing asked for
        self.setWindowTitle("Models")
        self.resize(980, 640)
        self._build()
        if engine:
            self.set_engine(engine)
        self.refresh()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = QLineEdit(placeholderText="Search models by name, family or source", clearButtonEnabled=True)
        self.engine_filter = QComboBox(toolTip="Only the models this engine can load")
        self.engine_filter.addItem("All engines", None)
        for name in registry.names():
            self.engine_filter.addItem(name, name)
        self.offline = QCheckBox("Offline mode", toolTip="No network call at all: nothing can be downloaded")
        self._sync_offline()
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.engine_filter)
        top.addWidget(self.offline)

        self.installed = self._table(INSTALLED_COLUMNS)
        self.use_button = QPushButton("Use this model", default=True, enabled=False,
                                      toolTip="Put this model in the workspace's Model field")
        self.use_button.setVisible(self.choose)
        self.import_file = QPushButton("Import file…", toolTip="Bring a .safetensors file into your library")
        self.import_folder = QPushButton("Import folder…", toolTip="Bring a diffusers / transformers folder in")
        self.link = QCheckBox("Link, don't copy", toolTip="Use the files where they are (nothing is copied)")
        self.convert_button = QPushButton("Convert pickle…",
                                          toolTip="Convert .ckpt / .bin / .pt weights to .safetensors "
                                                  "(in a separate process, loading tensors only)")
        self.add_folder_button = QPushButton(
            "Add your folder…", toolTip="Search a folder of your models in place (an AUTOMATIC1111 or ComfyUI "
                                        "models/ folder): nothing is copied")
        self.remove_button = QPushButton("Remove…", enabled=False)
        self.refresh_button = QPushButton("Refresh")
        actions = QHBoxLayout()
        for w in (self.use_button, self.import_file, self.import_folder, self.link, self.convert_button,
                  self.add_folder_button):
            actions.addWidget(w)
        actions.addStretch(1)
        actions.addWidget(self.refresh_button)
        actions.addWidget(self.remove_button)
        installed_box = QGroupBox("On this machine")
        column = QVBoxLayout(installed_box)
        column.addWidget(self.installed, 1)
        column.addLayout(actions)

        self.recommended = self._table(RECOMMENDED_COLUMNS, stretch=RECOMMENDED_COLUMNS.index("About"))
        self.repo = QLineEdit(placeholderText="or any Hub repository: OWNER/NAME", clearButtonEnabled=True)
        self.download_button = QPushButton("Download", enabled=False)
        self.cancel_button = QPushButton("Cancel", enabled=False, toolTip="Stop; what arrived is kept")
        self.progress = QProgressBar(textVisible=True, maximum=1000)
        self.progress.setFormat("%p%")
        self.progress.setVisible(False)
        self.status = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.repo, 1)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        recommended_box = QGroupBox("Recommended downloads (Hugging Face Hub)")
        column = QVBoxLayout(recommended_box)
        column.addWidget(self.recommended, 1)
        column.addLayout(row)
        column.addWidget(self.progress)

        split = QSplitter(Qt.Vertical, childrenCollapsible=False)
        split.addWidget(installed_box)
        split.addWidget(recommended_box)
        split.setSizes([380, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)

        self.search.textChanged.connect(self._apply_filter)
        self.engine_filter.currentIndexChanged.connect(self._engine_changed)
        self.offline.toggled.connect(self._set_offline)
        self.installed.itemSelectionChanged.connect(self._selection_changed)
        self.installed.itemDoubleClicked.connect(lambda _item: self.choose and self.use_selected())
        self.recommended.itemSelectionChanged.connect(self._recommended_selected)
        self.repo.textChanged.connect(self._update_download_button)
        self.use_button.clicked.connect(self.use_selected)
        self.import_file.clicked.connect(lambda: self.import_path(self._ask_path(folder=False)))
        self.import_folder.clicked.connect(lambda: self.import_path(self._ask_path(folder=True)))
        self.convert_button.clicked.connect(lambda: self.convert_path(self._ask_path(folder=False, pickle=True)))
        self.remove_button.clicked.connect(self.remove_selected)
        self.add_folder_button.clicked.connect(
            lambda: self.add_folder(QFileDialog.getExistingDirectory(self, "A folder of your models")))
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.download_button.clicked.connect(lambda: self.download(self.repo.text().strip()))
        self.cancel_button.clicked.connect(self.cancel_download)
        self._fill_recommended()

    def _table(self, columns, stretch: int = 0) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.Stretch)
        header.setSortIndicator(0, Qt.AscendingOrder)  # by name, A to Z, until the user clicks a header
        return table

    # -- the installed list -----------------------------------------------------------------
    def refresh(self, announce: bool = True) -> None:
        """List the models on this machine again (on a worker: a large cache takes a moment).
        After an action, `announce=False` leaves its message (what was freed …) in the status line."""
        if announce:
            self.say("Looking for models…")
        root = self.project.root if self.project is not None else None
        self._listing += 1
        n = self._listing

        def latest(infos):  # listings overlap (import, then remove): only the newest is shown
            if n == self._listing:
                self._fill_installed(infos, announce)

        self._start(Worker(models.discover, root), latest,
                    lambda exc: self.say(f"Could not list the models: {exc}", error=True))

    def _fill_installed(self, infos: list, announce: bool = True) -> None:
        self.infos = infos
        table = self.installed
        table.setSortingEnabled(False)
        table.setRowCount(0)
        for info in infos:
            row = table.rowCount()
            table.insertRow(row)
            name = QTableWidgetItem(info.name)
            name.setData(INFO_ROLE, info)
            name.setToolTip(f"{info.ref}\n{info.path}")
            source = info.source + (" (link)" if info.linked else "")
            engines = QTableWidgetItem(", ".join(info.engines) or "—")
            if info.kind == "pickle":
                engines.setText("— (convert it first)")
                engines.setToolTip("Pickle weights can run code when loaded: Convert pickle… makes a .safetensors copy")
            cells = [name, QTableWidgetItem(info.kind), engines, QTableWidgetItem(info.family or "—"),
                     _SizeItem(info.size_bytes), QTableWidgetItem(source), QTableWidgetItem(info.licence or "—")]
            for column, item in enumerate(cells):
                table.setItem(row, column, item)
        table.setSortingEnabled(True)
        self._apply_filter()
        self._fill_recommended()
        pending = downloads.pending()
        if announce:
            self.say(f"{len(infos)} model(s) found." + (
                f" Unfinished download(s): {', '.join(d.get('repo_id', '?') for d in pending)}; "
                "Download resumes them." if pending else ""))
        self.listed.emit()

    def set_engine(self, engine: str | None) -> None:
        i = self.engine_filter.findData(engine)
        self.engine_filter.setCurrentIndex(max(i, 0))

    def engine(self) -> str | None:
        return self.engine_filter.currentData()

    def _engine_changed(self) -> None:
        self._apply_filter()
        self._fill_recommended()

    def _apply_filter(self) -> None:
        words = self.search.text().lower().split()
        engine = self.engine()
        for row in range(self.installed.rowCount()):
            info = self.installed.item(row, 0).data(INFO_ROLE)
            text = " ".join([info.name, info.ref, info.family or "", info.source, info.kind, *info.engines]).lower()
            hidden = bool(engine and engine not in info.engines) or not all(w in text for w in words)
            self.installed.setRowHidden(row, hidden)

    def visible_refs(self) -> list[str]:
        return [self.installed.item(r, 0).data(INFO_ROLE).ref for r in range(self.installed.rowCount())
                if not self.installed.isRowHidden(r)]

    def selected(self) -> models.ModelInfo | None:
        rows = {i.row() for i in self.installed.selectedItems()}
        return self.installed.item(rows.pop(), 0).data(INFO_ROLE) if rows else None

    def select(self, ref: str) -> bool:
        for row in range(self.installed.rowCount()):
            if self.installed.item(row, 0).data(INFO_ROLE).ref == ref:
                self.installed.selectRow(row)
                return True
        return False

    def _selection_changed(self) -> None:
        info = self.selected()
        self.use_button.setEnabled(info is not None and info.kind != "pickle")
        self.remove_button.setEnabled(info is not None and info.source not in ("starter", "folder"))
        self.remove_button.setToolTip("" if info is None or info.source not in ("starter", "folder") else
                                      "Starter models and your own model folders are not removed from here")

    def use_selected(self) -> None:
        info = self.selected()
        if info is None:
            return
        self.model_chosen.emit(info.ref)
        self.accept()

    # -- recommended, downloads -------------------------------------------------------------
    def _fill_recommended(self) -> None:
        engine = self.engine()
        have = {m.ref for m in self.infos}
        table = self.recommended
        table.setRowCount(0)
        for rec in downloads.recommended(engine):
            row = table.rowCount()
            table.insertRow(row)
            name = QTableWidgetItem(rec["repo_id"] + ("  ✓ downloaded" if rec["repo_id"] in have else ""))
            name.setData(INFO_ROLE, rec["repo_id"])
            about = " — ".join(filter(None, [rec.get("name"), rec.get("note")]))
            for column, item in enumerate([name, QTableWidgetItem(rec["engine"]), _SizeItem(rec.get("size_bytes", 0)),
                                           QTableWidgetItem(rec.get("licence") or rec.get("license") or "—"),
                                           QTableWidgetItem(about)]):
                item.setToolTip(about)
                table.setItem(row, column, item)

    def _recommended_selected(self) -> None:
        rows = {i.row() for i in self.recommended.selectedItems()}
        if rows:
            self.repo.setText(self.recommended.item(rows.pop(), 0).data(INFO_ROLE))

    def _update_download_button(self) -> None:
        self.download_button.setEnabled(self._download_worker is None and bool(self.repo.text().strip()))

    def _sync_offline(self) -> None:
        env = settings.OFFLINE_ENV
        decided = bool(os.environ.get(env, "").strip())
        self.offline.blockSignals(True)
        self.offline.setChecked(settings.offline())
        self.offline.blockSignals(False)
        self.offline.setEnabled(not decided)
        if decided:
            self.offline.setToolTip(f"{env} is set in the environment: it decides")

    def _set_offline(self, on: bool) -> None:
        settings.set_offline(on)
        self.say("Offline mode is on: nothing will be downloaded." if on else "Offline mode is off.")

    def download(self, repo_id: str) -> bool:
        """Start downloading `repo_id` (one at a time). False when it cannot start."""
        if self._download_worker is not None or not repo_id:
            return False
        if not models._looks_like_hub_id(repo_id):
            self.say(f"{repo_id!r} is not a Hub repository id (OWNER/NAME).", error=True)
            return False
        self._cancel = flag = threading.Event()
        # Whatever ends first stops the download at its next chunk: Cancel, this dialog going
        # away with its window, or the app quitting (its thread pool would wait for the download).
        self.destroyed.connect(lambda *_: flag.set())
        QCoreApplication.instance().aboutToQuit.connect(lambda: flag.set())
        relay = _Relay(self)
        relay.progress.connect(self._on_progress)
        worker = Worker(downloads.pull, repo_id, on_progress=relay.progress.emit, cancelled=flag.is_set,
                        endpoint=self.endpoint)
        self._download_worker = worker
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.say(f"Downloading {repo_id}…")

        def done(snapshot):
            self._download_ended()
            self.say(f"Downloaded {repo_id} to {snapshot}.")
            self.models_changed.emit()
            self.refresh(announce=False)

        def failed(exc):
            self._download_ended()
            if isinstance(exc, Cancelled):
                self.say(f"Download of {repo_id} cancelled; what arrived is kept: Download again to resume.")
            else:
                self.say(str(exc), error=True)
                QMessageBox.warning(self, "Download failed", str(exc))

        self._start(worker, done, failed)
        return True

    def _on_progress(self, p) -> None:
        eta = f", about {downloads.human_duration(p.eta_s)} left" if p.eta_s is not None and p.done_bytes < p.total_bytes else ""
        show_progress(self.progress, int(1000 * p.done_bytes / p.total_bytes) if p.total_bytes else 1000, 1000,
                      f"%p%  ·  {human_size(p.done_bytes)} of {human_size(p.total_bytes)}  ·  "
                      f"{human_size(p.speed_bps)}/s{eta}")
        self.say(f"Downloading {p.repo_id}: {p.file}")

    def cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.say("Cancelling…")

    def downloading(self) -> bool:
        return self._download_worker is not None

    def _download_ended(self) -> None:
        self._download_worker = None
        self._cancel = None
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        self._update_download_button()

    # -- import, convert, remove ------------------------------------------------------------
    def _ask_path(self, folder: bool, pickle: bool = False) -> str:
        if folder:
            return QFileDialog.getExistingDirectory(self, "Import a model folder")
        pattern = ("Pickle weights (*.ckpt *.bin *.pt *.pth)" if pickle else "Model files (*.safetensors *.gguf)")
        title = "Convert pickle weights to .safetensors" if pickle else "Import a model file"
        return QFileDialog.getOpenFileName(self, title, "", pattern)[0]

    def import_path(self, path: str | Path) -> models.ModelInfo | None:
        if not path:
            return None
        try:
            info = models.import_model(path, link=self.link.isChecked())
        except models.ModelError as exc:
            self.say(str(exc), error=True)
            QMessageBox.warning(self, "Cannot import", str(exc))
            return None
        self.say(f"{'Linked' if info.linked else 'Copied'} {Path(path).name} into your library "
                 f"({', '.join(info.engines) or 'no engine fits it'}).")
        self.models_changed.emit()
        self.refresh(announce=False)
        return info

    def add_folder(self, folder: str | Path) -> bool:
        """Remember a folder of the user's models; they are listed from where they are."""
        if not folder:
            return False
        try:
            settings.add_model_folder(folder)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return False
        self.say(f"Models in {folder} are now listed where they are (nothing copied).")
        self.models_changed.emit()
        self.refresh(announce=False)
        return True

    def convert_path(self, path: str | Path) -> None:
        """Convert pickle weights in a child process (worker thread here); report what it did."""
        if not path:
            return
        self.convert_button.setEnabled(False)
        self.say(f"Converting {Path(path).name} (loading tensors only, in a separate process)…")

        def done(report):
            self.convert_button.setEnabled(True)
            lines = [f"{Path(f['target']).name}: {f['tensors']} tensors, {human_size(f['bytes'])}"
                     + (f"; left out (not tensors): {', '.join(f['dropped'][:6])}" if f["dropped"] else "")
                     for f in report["files"]]
            lines += [f"left out {s['file']}: {s['why']}" for s in report.get("skipped", [])]
            self.say("Converted: " + "; ".join(lines))
            QMessageBox.information(self, "Converted to .safetensors",
                                    "\n".join(lines) + "\n\nImport the result to use it.")
            self.models_changed.emit()
            self.refresh(announce=False)

        def failed(exc):
            self.convert_button.setEnabled(True)
            self.say(str(exc), error=True)
            QMessageBox.warning(self, "Cannot convert", str(exc))

        self._start(Worker(models.convert_to_safetensors, path), done, failed)

    def remove_selected(self) -> bool:
        """Remove the selected model after saying what it frees and who uses it."""
        info = self.selected()
        if info is None:
            return False
        try:
            plan = models.plan_removal(info.ref, self.project)
        except models.ModelError as exc:
            QMessageBox.warning(self, "Cannot remove", str(exc))
            return False
        where = "\n".join(str(p) for p in plan.paths)
        text = (f"Remove {info.name}?\n\nThis deletes:\n{where}\n\nIt frees {human_size(plan.size_bytes)}"
                + (" (a link: the files it points at stay)." if info.linked else "."))
        if plan.used_by:
            ids = ", ".join(str(i) for i in plan.used_ids[:12]) + (" …" if len(plan.used_ids) > 12 else "")
            text += (f"\n\n{plan.used_by} generation(s) of this project were made with it ({ids}). "
                     "Their outputs stay, but re-making them would need this model.")
        answer = QMessageBox.question(self, "Remove model", text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return False
        try:
            freed = models.remove(plan, force=True)  # the user saw who uses it and said yes
        except OSError as exc:
            QMessageBox.warning(self, "Cannot remove", f"Could not delete {info.name}: {exc.strerror or exc}")
            return False
        self.say(f"Removed {info.name}; {human_size(freed)} freed.")
        self.models_changed.emit()
        self.refresh(announce=False)
        return True

    # -- plumbing ---------------------------------------------------------------------------
    def _start(self, worker: Worker, on_return, on_error) -> None:
        workers = self._workers  # not self: the dialog may be gone when the worker ends

        def alive(callback):
            # A worker outlives a dialog closed with its window: then its answer goes nowhere.
            def deliver(value):
                workers.discard(worker)
                if shiboken6.isValid(self):
                    callback(value)
            return deliver

        workers.add(worker)
        worker.returned.connect(alive(on_return))
        worker.errored.connect(alive(on_error))
        worker.start()

    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #d9534f" if error else "")

    def done(self, result: int) -> None:
        """Closing while a download runs asks first; yes cancels it (what arrived is kept)."""
        if self._download_worker is not None:
            answer = QMessageBox.question(
                self, "Download running", "A download is running. Stop it? What arrived is kept: "
                "Download again later resumes it.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                return
            self.cancel_download()
        super().done(result)


