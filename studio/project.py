"""The project: a folder with `project.db` (SQLite, WAL, versioned schema) and its files.

    assets/<kind>/   outputs (image, audio, text)
    inputs/          input files, copied in by content hash
    models/          models fine-tuned here
    thumbs/          a cache that can always be rebuilt

Each output is written in this order: bytes to a temp name, fsync, rename into assets/,
fsync the folder, then one transaction that records it (with its generation, for the first
output). A crash at any point leaves the whole record or nothing, never a row pointing at a
missing file; every finished output of a long batch survives. Opening a project reconciles
the database with the folder and says what it found.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DB_NAME = "project.db"
KINDS = ("image", "audio", "text")
TEMP_PREFIX = ".tmp-"

# Append new migrations; never edit a released one. Index i brings the schema to version i + 1.
MIGRATIONS = [
    """
    CREATE TABLE generations (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES generations(id) ON DELETE SET NULL,
        created_at REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        engine TEXT NOT NULL,
        model TEXT,
        modality TEXT,
        prompt TEXT NOT NULL DEFAULT '',
        negative_prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER,
        recipe_json TEXT NOT NULL
    );
    CREATE INDEX generations_created ON generations(created_at);
    CREATE INDEX generations_engine ON generations(engine);
    CREATE TABLE outputs (
        id INTEGER PRIMARY KEY,
        generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        path TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        mime TEXT NOT NULL DEFAULT '',
        sha256 TEXT NOT NULL,
        content_sha256 TEXT,
        seed INTEGER,
        width INTEGER, height INTEGER, sample_rate INTEGER, duration_s REAL,
        favorite INTEGER NOT NULL DEFAULT 0,
        trashed_at REAL,
        missing INTEGER NOT NULL DEFAULT 0,
        sidecar TEXT,
        recipe_json TEXT NOT NULL
    );
    CREATE INDEX outputs_generation ON outputs(generation_id);
    CREATE TABLE tags (
        output_id INTEGER NOT NULL REFERENCES outputs(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (output_id, tag)
    );
    CREATE TABLE inputs (
        sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        original_name TEXT,
        size INTEGER,
        added_at REAL NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class ProjectError(Exception):
    """A project that cannot be used as asked; the message says what happened and what to do."""


@dataclass
class OutputRecord:
    id: int
    generation_id: int
    index: int
    path: Path
    kind: str
    mime: str
    sha256: str  # of the file
    content_sha256: str | None  # of what was made (pixels, samples, text): what a re-make compares
    seed: int | None
    width: int | None
    height: int | None
    sample_rate: int | None
    duration_s: float | None
    favorite: bool
    tags: list[str]
    trashed: bool
    missing: bool
    recipe: dict


@dataclass
class Generation:
    id: int
    parent_id: int | None
    created_at: float
    status: str
    error: str | None
    recipe: dict
    outputs: list[OutputRecord] = field(default_factory=list)

    def to_object(self) -> dict:
        """The CLI's generation object."""
        return {
            "generation_id": self.id,
            "parent_id": self.parent_id,
            "status": self.status,
            "error": self.error,
            "seed": self.recipe.get("seed"),
            "created_at": self.created_at,
            "outputs": [str(o.path) for o in self.outputs if not o.trashed],
            "recipe": self.recipe,
        }


@dataclass
class ReconcileReport:
    orphans: list[Path] = field(default_factory=list)
    missing: list[tuple[int, Path]] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)
    temp_removed: int = 0

    def ok(self) -> bool:
        return not (self.orphans or self.missing or self.interrupted)

    def summary(self) -> str:
        parts = []
        if self.interrupted:
            parts.append(f"{len(self.interrupted)} generation(s) were interrupted by a crash; their finished "
                         "outputs are kept")
        if self.missing:
            parts.append(f"{len(self.missing)} recorded output(s) have no file any more (first: "
                         f"{self.missing[0][1].name}); their records are kept")
        if self.orphans:
            parts.append(f"{len(self.orphans)} file(s) in assets/ have no record (first: {self.orphans[0].name}); "
                         "they were left in place")
        return "; ".join(parts) + ("." if parts else "")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(target: Path, data: bytes) -> None:
    """Temp name, fsync, rename, fsync the folder: the file is whole or absent."""
    tmp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


class Project:
    def __init__(self, root: Path, db: sqlite3.Connection):
        self.root = root
        self._db = db
        self._lock = threading.RLock()
        self.report = ReconcileReport()

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> "Project":
        root = Path(path).expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} is a file, not a project folder")
        if not root.exists():
            if not create:
                raise ProjectError(f"no project at {root}")
            try:
                root.mkdir(parents=True)
            except OSError as exc:
                raise ProjectError(f"cannot create the project folder {root}: {exc.strerror}") from None
        try:
            for sub in ("assets", "inputs", "models", "thumbs", *(f"assets/{k}" for k in KINDS)):
                (root / sub).mkdir(exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot write in the project folder {root}: {exc.strerror}") from None
        db_path = root / DB_NAME
        try:
            # One connection shared by the GUI thread and the job workers, guarded by a lock.
            db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last
            # commits, which reconcile then reports as files without records.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                f"{db_path} is damaged ({exc}). Your assets/ files are untouched; restore {DB_NAME} from a "
                "backup, or move it aside to start a new record"
            ) from None
        if version > SCHEMA_VERSION:
            db.close()
            raise ProjectError(f"{root.name} was saved by a newer Assetsmith (schema {version}, this one knows "
                               f"{SCHEMA_VERSION}); update Assetsmith to open it")
        project = cls(root, db)
        try:
            project._migrate(version)
            project.report = project.reconcile()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise ProjectError(f"{db_path} is damaged ({exc}); restore it from a backup") from None
        return project

    def _migrate(self, version: int) -> None:
        with self._lock:
            for number in range(version, SCHEMA_VERSION):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self)

    # -- reconcile ------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Compare the records with the folder. Nothing recorded is ever dropped here."""
        report = ReconcileReport()
        with self._lock, self._transaction() as db:
            report.interrupted = [r[0] for r in db.execute("SELECT id FROM generations WHERE status='running'")]
            db.execute("UPDATE generations SET status='interrupted', error='the app stopped before it finished' "
                       "WHERE status='running'")
            recorded = {}
            for oid, rel, sidecar in db.execute("SELECT id, path, sidecar FROM outputs"):
                recorded[rel] = oid
                if sidecar:
                    recorded[sidecar] = oid
            for oid, rel in db.execute("SELECT id, path FROM outputs").fetchall():
                gone = not (self.root / rel).is_file()
                if gone:
                    report.missing.append((oid, self.root / rel))
                db.execute("UPDATE outputs SET missing=? WHERE id=?", (int(gone), oid))
        for kind in KINDS:
            for f in sorted((self.root / "assets" / kind).iterdir()):
                if f.name.startswith(TEMP_PREFIX):
                    f.unlink(missing_ok=True)  # an unfinished write: never a finished output
                    report.temp_removed += 1
                elif f.is_file() and f.relative_to(self.root).as_posix() not in recorded:
                    report.orphans.append(f)
        return report

    # -- writing --------------------------------------------------------------------------
    def writer(self, recipe: dict, parent_id: int | None = None) -> "GenerationWriter":
        return GenerationWriter(self, recipe, parent_id)

    def import_input(self, path: str | Path) -> str:
        """Copy an input file in once per content; returns its project-relative path."""
        source = Path(path)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ProjectError(f"cannot read the input file {source}: {exc.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        rel = f"inputs/{digest}{source.suffix.lower()}"
        with self._lock:
            row = self._db.execute("SELECT path FROM inputs WHERE sha256=?", (digest,)).fetchone()
            if row and (self.root / row[0]).is_file():
                return row[0]
            _write_atomic(self.root / rel, data)
            self._db.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?)",
                             (digest, rel, source.name, len(data), time.time()))
        return rel

    def resolve(self, relpath: str) -> Path:
        """A project-relative path made absolute; paths leading outside are refused."""
        full = (self.root / relpath).resolve()
        if not full.is_relative_to(self.root):
            raise ProjectError(f"{relpath!r} points outside the project")
        return full

    # -- reading --------------------------------------------------------------------------
    def get(self, generation_id: int) -> Generation:
        with self._lock:
            row = self._db.execute(f"SELECT {_GEN_COLUMNS} FROM generations WHERE id=?", (generation_id,)).fetchone()
            if row is None:
                raise ProjectError(f"no generation {generation_id} in {self.root.name}")
            return self._generations([row], include_trashed=True)[0]

    def query(self, search: str | None = None, modality: str | None = None, engine: str | None = None,
              model: str | None = None, favorite: bool | None = None, tag: str | None = None,
              since: float | None = None, until: float | None = None, status: str | None = None,
              include_trashed: bool = False, limit: int | None = None, offset: int = 0) -> list[Generation]:
        """Generations, newest first, filtered; trashed outputs are left out unless asked."""
        where, args = [], []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(g.prompt LIKE ? ESCAPE '\\' OR g.negative_prompt LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        for column, value in (("modality", modality), ("engine", engine), ("model", model), ("status", status)):
            if value is not None:
                where.append(f"g.{column} = ?")
                args.append(value)
        if since is not None:
            where.append("g.created_at >= ?")
            args.append(since)
        if until is not None:
            where.append("g.created_at <= ?")
            args.append(until)
        live = "" if include_trashed else " AND o.trashed_at IS NULL"
        where.append(f"EXISTS (SELECT 1 FROM outputs o WHERE o.generation_id = g.id{live})")
        if favorite is not None:
            op = "EXISTS" if favorite else "NOT EXISTS"
            where.append(f"{op} (SELECT 1 FROM outputs o WHERE o.generation_id = g.id AND o.favorite = 1{live})")
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM outputs o JOIN tags t ON t.output_id = o.id "
                         f"WHERE o.generation_id = g.id AND t.tag = ?{live})")
            args.append(tag)
        sql = f"SELECT {_GEN_COLUMNS} FROM generations g WHERE {' AND '.join(where)} ORDER BY g.created_at DESC, g.id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        with self._lock:
            return self._generations(self._db.execute(sql, args).fetchall(), include_trashed)

    def _generations(self, rows, include_trashed: bool) -> list[Generation]:
        generations = {r[0]: Generation(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows}
        if not generations:
            return []
        marks = ",".join("?" * len(generations))
        tags: dict[int, list[str]] = {}
        for oid, tag in self._db.execute(
            f"SELECT t.output_id, t.tag FROM tags t JOIN outputs o ON o.id = t.output_id "
            f"WHERE o.generation_id IN ({marks}) ORDER BY t.tag", list(generations)
        ):
            tags.setdefault(oid, []).append(tag)
        for r in self._db.execute(
            f"SELECT id, generation_id, idx, path, kind, mime, sha256, content_sha256, seed, width, height, "
            f"sample_rate, duration_s, favorite, trashed_at, missing, recipe_json FROM outputs "
            f"WHERE generation_id IN ({marks}) ORDER BY idx", list(generations)
        ):
            if r[14] is not None and not include_trashed:
                continue
            generations[r[1]].outputs.append(OutputRecord(
                id=r[0], generation_id=r[1], index=r[2], path=self.root / r[3], kind=r[4], mime=r[5], sha256=r[6],
                content_sha256=r[7], seed=r[8], width=r[9], height=r[10], sample_rate=r[11], duration_s=r[12],
                favorite=bool(r[13]), tags=tags.get(r[0], []), trashed=r[14] is not None, missing=bool(r[15]),
                recipe=json.loads(r[16]),
            ))
        return list(generations.values())

    # -- favorites, tags, trash -----------------------------------------------------------
    def _update_output(self, sql: str, output_id: int, *args) -> None:
        with self._lock:
            if self._db.execute("SELECT 1 FROM outputs WHERE id=?", (output_id,)).fetchone() is None:
                raise ProjectError(f"no output {output_id} in {self.root.name}")
            self._db.execute(sql, (*args, output_id))

    def set_favorite(self, output_id: int, on: bool = True) -> None:
        self._update_output("UPDATE outputs SET favorite=? WHERE id=?", output_id, int(on))

    def add_tag(self, output_id: int, tag: str) -> None:
        tag = tag.strip()
        if not tag:
            raise ProjectError("a tag cannot be empty")
        self._update_output("INSERT OR IGNORE INTO tags (tag, output_id) VALUES (?, ?)", output_id, tag)

    def remove_tag(self, output_id: int, tag: str) -> None:
        self._update_output("DELETE FROM tags WHERE tag=? AND output_id=?", output_id, tag)

    def trash(self, output_id: int) -> None:
        self._update_output("UPDATE outputs SET trashed_at=? WHERE id=?", output_id, time.time())

    def restore(self, output_id: int) -> None:
        self._update_output("UPDATE outputs SET trashed_at=NULL WHERE id=?", output_id)

    def purge(self) -> int:
        """Delete trashed outputs for good (files and records), and generations left empty.
        Records go first: a crash in between leaves orphan files, never rows without files."""
        with self._lock, self._transaction() as db:
            rows = db.execute("SELECT id, path, sidecar FROM outputs WHERE trashed_at IS NOT NULL").fetchall()
            db.execute("DELETE FROM outputs WHERE trashed_at IS NOT NULL")
            db.execute("DELETE FROM generations WHERE NOT EXISTS "
                       "(SELECT 1 FROM outputs o WHERE o.generation_id = generations.id) AND status != 'running'")
        for _, rel, sidecar in rows:
            for name in filter(None, (rel, sidecar)):
                (self.root / name).unlink(missing_ok=True)
        return len(rows)


_GEN_COLUMNS = "id, parent_id, created_at, status, error, recipe_json"


class _Transaction:
    def __init__(self, project: Project):
        self.project = project

    def __enter__(self) -> sqlite3.Connection:
        self.project._lock.acquire()
        self.project._db.execute("BEGIN IMMEDIATE")
        return self.project._db

    def __exit__(self, exc_type, *exc) -> None:
        try:
            self.project._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.project._lock.release()


class GenerationWriter:
    """Records one generation output by output (see the module docstring for the order)."""

    def __init__(self, project: Project, recipe: dict, parent_id: int | None):
        self.project = project
        self.recipe = recipe
        self.parent_id = parent_id
        self.generation_id: int | None = None
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        self._token = uuid.uuid4().hex[:6]

    def add(self, *, index: int, seed: int, kind: str, ext: str, data: bytes, recipe: dict,
            sidecar: bytes | None = None, content_sha256: str | None = None, mime: str = "", width=None,
            height=None, sample_rate=None, duration_s=None) -> OutputRecord:
        if kind not in KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        folder = self.project.root / "assets" / kind
        stem = f"{self._stamp}-{self._token}-{index:03d}-{seed}"
        target = folder / f"{stem}.{ext}"
        _write_atomic(target, data)
        sidecar_rel = None
        if sidecar is not None:
            _write_atomic(folder / f"{stem}.json", sidecar)
            sidecar_rel = f"assets/{kind}/{stem}.json"
        rel = f"assets/{kind}/{stem}.{ext}"
        digest = hashlib.sha256(data).hexdigest()
        with self.project._transaction() as db:
            if self.generation_id is None:
                r = self.recipe
                self.generation_id = db.execute(
                    "INSERT INTO generations (parent_id, created_at, status, engine, model, modality, prompt, "
                    "negative_prompt, seed, recipe_json) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                    (self.parent_id, time.time(), r.get("engine", ""), r.get("model"), r.get("modality", kind),
                     r.get("prompt") or "", r.get("negative_prompt") or "", r.get("seed"),
                     json.dumps(r, ensure_ascii=False)),
                ).lastrowid
            oid = db.execute(
                "INSERT INTO outputs (generation_id, idx, path, kind, mime, sha256, content_sha256, seed, width, "
                "height, sample_rate, duration_s, sidecar, recipe_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.generation_id, index, rel, kind, mime, digest, content_sha256, seed, width, height,
                 sample_rate, duration_s, sidecar_rel, json.dumps(recipe, ensure_ascii=False)),
            ).lastrowid
        return OutputRecord(oid, self.generation_id, index, self.project.root / rel, kind, mime, digest,
                            content_sha256, seed, width, height, sample_rate, duration_s, False, [], False, False,
                            recipe)

    def finish(self, status: str, error: str | None = None) -> Generation | None:
        """Set the final status; None when nothing was made (then nothing is recorded)."""
        if self.generation_id is None:
            return None
        with self.project._transaction() as db:
            db.execute("UPDATE generations SET status=?, error=? WHERE id=?", (status, error, self.generation_id))
        return self.project.get(self.generation_id)
