"""The gallery's list model: every matching output of the project, loaded as it is shown.

The model holds only the ids of the matching outputs (one fast query, even for 10,000);
records are read a page at a time when a row is first painted, and thumbnails are asked of
the ThumbLoader, so scrolling a large project costs only what is on screen.
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from studio.project import OutputRecord, Project
from ui.thumb_loader import ThumbLoader

PAGE = 200
PIXMAP_CACHE = 3000  # thumbnails kept on the GUI side (~128x128 each)
RecordRole = Qt.UserRole + 1
OutputIdRole = Qt.UserRole + 2


class GalleryModel(QAbstractListModel):
    def __init__(self, project: Project, loader: ThumbLoader, cell: int = 128, parent=None):
        super().__init__(parent)
        self.project, self.loader, self.cell = project, loader, cell
        self.filters: dict = {}
        self._ids: list[int] = []
        self._rows: dict[int, int] = {}  # output id -> row
        self._records: dict[int, OutputRecord] = {}
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._placeholders: dict[str, QPixmap] = {}
        loader.loaded.connect(self._on_thumb)
        loader.failed.connect(lambda output_id, _: self._on_thumb(output_id, QImage()))

    # -- filling --------------------------------------------------------------------------
    def set_filters(self, **filters) -> None:
        self.filters = {k: v for k, v in filters.items() if v not in (None, "", False)}
        self.loader.forget_pending()
        self.beginResetModel()
        self._ids = self.project.output_ids(**self.filters)
        self._index_rows()
        self._records.clear()
        self.endResetModel()

    def refresh(self) -> None:
        """Re-read the ids; new outputs at the top are inserted (the view keeps its place),
        anything else resets."""
        ids = self.project.output_ids(**self.filters)
        new = len(ids) - len(self._ids)
        if new > 0 and ids[new:] == self._ids:
            self.beginInsertRows(QModelIndex(), 0, new - 1)
            self._ids = ids
            self._index_rows()
            self.endInsertRows()
        elif ids != self._ids:
            self.beginResetModel()
            self._ids = ids
            self._index_rows()
            self._records.clear()
            self.endResetModel()

    def reload(self, output_id: int) -> None:
        """Read one record again (after favorite / tag changes)."""
        self._records.pop(output_id, None)
        row = self._rows.get(output_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def _index_rows(self) -> None:
        self._rows = {output_id: row for row, output_id in enumerate(self._ids)}

    # -- reading --------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def output_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, output_id: int) -> int | None:
        return self._rows.get(output_id)

    def record(self, row: int) -> OutputRecord | None:
        output_id = self._ids[row]
        if output_id not in self._records:
            page = (row // PAGE) * PAGE  # one query for the page around the row
            for rec in self.project.outputs(self._ids[page:page + PAGE]):
                self._records[rec.id] = rec
        return self._records.get(output_id)

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        if role == OutputIdRole:
            return self._ids[index.row()]
        rec = self.record(index.row())
        if rec is None:
            return None
        if role == RecordRole:
            return rec
        if role == Qt.DisplayRole:
            star = "★ " if rec.favorite else ""
            if rec.kind == "text":
                return star + _first_line(rec.path)
            if rec.kind == "audio" and rec.duration_s is not None:
                return f"{star}{rec.recipe.get('prompt') or f'seed {rec.seed}'} · {rec.duration_s:.1f} s"
            return f"{star}{rec.recipe.get('prompt') or f'seed {rec.seed}'}"  # the view elides it
        if role == Qt.DecorationRole:
            return self._pixmap(rec)
        if role == Qt.ToolTipRole:
            prompt = rec.recipe.get("prompt") or ""
            made = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.recipe.get("created_at") or 0))
            return f"{prompt}\n{rec.recipe.get('engine', '')} · seed {rec.seed}" + (
                "" if not rec.recipe.get("created_at") else f" · {made}")
        return None

    # -- thumbnails -----------------------------------------------------------------------
    def has_thumbnail(self, row: int) -> bool:
        """Whether the row shows its own thumbnail yet (not a placeholder)."""
        return self._ids[row] in self._pixmaps

    def _pixmap(self, rec: OutputRecord) -> QPixmap:
        pixmap = self._pixmaps.get(rec.id)
        if pixmap is not None:
            self._pixmaps.move_to_end(rec.id)
            return pixmap
        if rec.kind != "text" and not rec.missing:
            self.loader.request(rec.id, rec.path, rec.sha256, rec.kind)
        return self._placeholder(rec.kind)

    def _on_thumb(self, output_id: int, image: QImage) -> None:
        record = self._records.get(output_id)
        self._pixmaps[output_id] = (QPixmap.fromImage(image) if not image.isNull()
                                    else self._placeholder(record.kind if record else "missing"))
        while len(self._pixmaps) > PIXMAP_CACHE:
            self._pixmaps.popitem(last=False)
        row = self._rows.get(output_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.DecorationRole])

    def _placeholder(self, kind: str) -> QPixmap:
        if kind not in self._placeholders:
            pixmap = QPixmap(QSize(self.cell, self.cell))
            pixmap.fill(QColor(60, 63, 68))
            painter = QPainter(pixmap)
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(pixmap.rect(), Qt.AlignCenter, {"text": "Aa", "audio": "♪", "image": "…"}.get(kind, "?"))
            painter.end()
            self._placeholders[kind] = pixmap
        return self._placeholders[kind]


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(400).strip()
    except OSError:
        return "(file missing)"
    line = text.splitlines()[0] if text else "(empty)"
    return line[:40] + ("…" if len(line) > 40 else "")


def recipe_text(rec: OutputRecord) -> str:
    r = rec.recipe
    lines = [f"output {rec.id} · generation {rec.generation_id} · {rec.kind} · {rec.path.name}", ""]
    for key in ("engine", "prompt", "negative_prompt", "seed", "model", "model_hash"):
        if r.get(key) not in (None, ""):
            lines.append(f"{key}: {r[key]}")
    lines += [f"{k}: {v}" for k, v in (r.get("params") or {}).items()]
    rest = {k: v for k, v in r.items() if k not in ("engine", "prompt", "negative_prompt", "seed", "model",
                                                     "model_hash", "params")}
    lines += ["", json.dumps(rest, indent=2, ensure_ascii=False)]
    return "\n".join(lines)
