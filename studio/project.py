"""The project: a folder with `project.db` (SQLite, WAL, versioned schema) and its files.

    assets/<kind>/   outputs (image, audio, text)
    inputs/          input files, copied in by content hash
    models/          models fine-tuned here
    thumbs/          a cache that can always be rebuilt
    .sessions/       one lock file per process that has the project open

Each output is written in this order: bytes to a temp name, fsync, rename into assets/,
fsync the folder, then one transaction that records it (with its generation, for the first
output). A crash at any point leaves the whole record or nothing, never a row pointing at a
missing file; every finished output of a long batch survives. Opening a project reconciles
the database with the folder and says what it found.

Several processes may have one project open (the window and a CLI batch). Each holds an OS
lock on its own file in .sessions/, which the OS drops when the process dies, even by
SIGKILL: so reconcile marks "interrupted" and removes temp files only for processes that
are gone, never for one that is still writing.
"""
from __future__ import annotations

# hashlib is imported where a hash is made: loading OpenSSL is 3 ms of the window's start.
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

DB_NAME = "project.db"
KINDS = ("image", "audio", "text")
FOLDERS = ("assets", "inputs", "models", "thumbs", ".sessions", *(f"assets/{k}" for k in KINDS))
TEMP_PREFIX = ".tmp-"
FINAL_STATES = ("finished", "cancelled", "failed")

# Append new migrations; never edit one that has shipped. Entry i brings the schema to
# version i + 1, inside one transaction (SQLite's DDL is transactional).
MIGRATIONS = [
    # 1
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
    # 2: which process is writing a running generation; indexes for the other filters
    """
    ALTER TABLE generations ADD COLUMN session TEXT;
    CREATE INDEX generations_status ON generations(status);
    CREATE INDEX generations_model ON generations(model);
    CREATE INDEX generations_modality ON generations(modality);
    CREATE INDEX outputs_favorite ON outputs(generation_id) WHERE favorite = 1;
    CREATE INDEX tags_tag ON tags(tag COLLATE NOCASE);
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
    path: Path  # absolute
    kind: str
    mime: str
    sha256: str  # of the file
    seed: int | None
    width: int | None
    height: int | None
    sample_rate: int | None
    duration_s: float | None
    favorite: bool
    tags: list[str]
    trashed: bool
    recipe: dict  # this output's own recipe
    content_sha256: str | None = None  # of what was made (pixels, samples, text): what a re-make compares
    missing: bool = False  # the file was gone at the last reconcile


@dataclass
class Generation:
    id: int
    parent_id: int | None
    created_at: float
    status: str  # running | finished | cancelled | failed | interrupted
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
            "outputs": [str(o.path) for o in sorted(self.outputs, key=lambda o: o.index) if not o.trashed],
            "recipe": self.recipe,
        }


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(paths: list[Path]) -> str:
    shown = ", ".join(p.name for p in paths[:3])
    return shown + (", …" if len(paths) > 3 else "")


@dataclass
class ReconcileReport:
    orphans: list[Path] = field(default_factory=list)  # files in assets/ with no record: left in place
    missing: list[tuple[int, Path]] = field(default_factory=list)  # (output id, path) whose file is gone
    interrupted: list[int] = field(default_factory=list)  # generations a crash left "running"
    temp_removed: int = 0  # temp files of writes that never finished

    def ok(self) -> bool:
        # Removing temp files is housekeeping: they were never outputs.
        return not (self.orphans or self.missing or self.interrupted)

    def summary(self) -> str:
        """One readable paragraph; "" when all is well."""
        if self.ok():
            return ""
        parts = []
        if self.interrupted:
            parts.append(f"{_count(len(self.interrupted), 'generation was', 'generations were')} interrupted "
                         "(Assetsmith stopped before it finished); the outputs finished before that are kept.")
        if self.missing:
            parts.append(f"{_count(len(self.missing), 'recorded output has', 'recorded outputs have')} no file any "
                         f"more ({_names([p for _, p in self.missing])}); the records are kept and marked missing.")
        if self.orphans:
            parts.append(f"{_count(len(self.orphans), 'file', 'files')} in assets/ "
                         f"{'has' if len(self.orphans) == 1 else 'have'} no record ({_names(self.orphans)}); "
                         "left in place.")
        if self.temp_removed:
            parts.append(f"Removed {_count(self.temp_removed, 'unfinished temp file', 'unfinished temp files')}.")
        return " ".join(parts)


# -- files ------------------------------------------------------------------------------------

def _fsync_dir(folder: Path) -> None:
    """Make a rename durable. Windows cannot open a folder; NTFS journals renames itself."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(target: Path, data: bytes, session: str) -> None:
    """Temp name, fsync, rename, fsync the folder: the file is whole or absent."""
    tmp = target.with_name(f"{TEMP_PREFIX}{session}-{os.urandom(16).hex()}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _temp_session(name: str) -> str | None:
    rest = name[len(TEMP_PREFIX):]
    return rest.split("-", 1)[0] if "-" in rest else None


# -- sessions: which processes have the project open --------------------------------------------

if os.name == "nt":
    import msvcrt

    def _lock(fd: int, wait: bool) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
else:
    import fcntl

    def _lock(fd: int, wait: bool) -> bool:
        # flock, not fcntl locks: it is per open file, so two Projects in one process see each other.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            return True
        except BlockingIOError:
            return False
        except OSError:  # a filesystem without locks: behave as if every other session were gone
            return True


class _Session:
    """This process's lock file in .sessions/, held for as long as the project is open."""

    def __init__(self, folder: Path):
        self.folder = folder
        while True:
            self.id = os.urandom(6).hex()
            path = folder / f"{self.id}.lock"
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            _lock(self.fd, wait=True)
            # A reaper may have taken this file for a dead session's and deleted it before we
            # locked it; only a lock on the file still at that path counts.
            try:
                if os.path.samestat(os.fstat(self.fd), os.stat(path)):
                    return
            except FileNotFoundError:
                pass
            os.close(self.fd)

    def live(self) -> set[str]:
        """Ids of the sessions whose process is still running; lock files of dead ones are removed."""
        alive = {self.id}
        for path in self.folder.glob("*.lock"):
            if path.stem == self.id:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)  # enough to lock, even another user's file
            except FileNotFoundError:
                continue  # removed meanwhile: gone
            except OSError:
                alive.add(path.stem)  # cannot tell: assume it still runs, the safe side
                continue
            try:
                dead = _lock(fd, wait=False)
                if dead and os.name != "nt":
                    with suppress(OSError):
                        path.unlink()  # while we hold its lock: see __init__
            finally:
                os.close(fd)
            if not dead:
                alive.add(path.stem)
            elif os.name == "nt":
                with suppress(OSError):
                    path.unlink()  # Windows deletes only closed files
        return alive

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # first: Windows cannot delete a file that is open
            self.fd = None
            (self.folder / f"{self.id}.lock").unlink(missing_ok=True)


# -- the project ---------------------------------------------------------------------------------

def _casefold(text: str | None) -> str:
    return (text or "").casefold()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (complete_statement keeps triggers whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def _in(column: str, value, args: list) -> str:
    """`column = ?` for one value, `column IN (...)` for several."""
    values = [value] if isinstance(value, str) else list(value)
    args += values
    return f"{column} = ?" if len(values) == 1 else f"{column} IN ({','.join('?' * len(values))})"


def _generation_filters(search, modality, engine, model, since, until, status) -> tuple[list[str], list]:
    """WHERE clauses on generations `g` shared by query() and output_ids()."""
    where, args = [], []
    if search:
        where.append("(instr(casefold(g.prompt), ?) OR instr(casefold(g.negative_prompt), ?))")
        args += [search.casefold()] * 2
    for column, value in (("modality", modality), ("engine", engine), ("model", model), ("status", status)):
        if value is not None:
            where.append(_in(f"g.{column}", value, args))
    if since is not None:
        where.append("g.created_at >= ?")
        args.append(since)
    if until is not None:
        where.append("g.created_at <= ?")
        args.append(until)
    return where, args


def _db_error(db_path: Path, exc: sqlite3.DatabaseError) -> ProjectError:
    if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, cannot open: not damage
        hint = ("open a copy in a folder you can write to" if "readonly" in str(exc)
                else "close other programs using it and try again")
        return ProjectError(f"cannot open {db_path} ({exc}); {hint}")
    return ProjectError(f"{db_path} is damaged ({exc}). Your assets/ files are untouched; restore {DB_NAME} "
                        "from a backup or move it aside to start a new record")


_GEN_COLUMNS = "id, parent_id, created_at, status, error, recipe_json"
_OUT_COLUMNS = ("id, generation_id, idx, path, kind, mime, sha256, seed, width, height, sample_rate, duration_s, "
                "favorite, trashed_at, recipe_json, content_sha256, missing")


class Project:
    def __init__(self, root: Path, db: sqlite3.Connection, session: _Session):
        self.root = root
        self.report = ReconcileReport()
        self._db = db
        self._session = session
        # One connection shared by the GUI thread and the job workers; the lock serialises them.
        self._lock = threading.RLock()

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, create: bool = True) -> Project:
        """Open (or create) the project at `path` and reconcile it with its folder."""
        root = Path(path).expanduser().resolve()
        db_path = root / DB_NAME
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} is a file, not a project folder; choose a folder")
        if not create and not db_path.is_file():
            raise ProjectError(f"no project at {root}; check the path, or create one there")
        try:
            root.mkdir(parents=True, exist_ok=True)
            for sub in FOLDERS:
                (root / sub).mkdir(exist_ok=True)
            session = _Session(root / ".sessions")  # also proves we can write here
        except OSError as exc:
            raise ProjectError(f"cannot write in {root} ({exc.strerror or exc}); Assetsmith keeps its record "
                               "there: open a copy in a folder you can write to") from None
        if db_path.exists() and not os.access(db_path, os.W_OK):
            session.close()
            raise ProjectError(f"{db_path} is read-only; Assetsmith records every generation there: "
                               "make it writable, or open a copy")
        db = None
        try:
            db = cls._connect(db_path)
            project = cls(root, db, session)
            project._migrate()
            project.report = project.reconcile()
            return project
        except BaseException as exc:
            if db is not None:
                db.close()
            session.close()
            if isinstance(exc, sqlite3.DatabaseError):  # damage found past the header
                raise _db_error(db_path, exc) from None
            raise

    @staticmethod
    def _connect(db_path: Path) -> sqlite3.Connection:
        db = None
        try:
            # Autocommit; every write below opens its own BEGIN IMMEDIATE transaction.
            db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode never corrupts the database; a power cut can lose only the last
            # commits, whose files were fsynced first, so they come back as orphans, never as rows
            # without files. FULL would add an fsync to every output for nothing we need.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.create_function("casefold", 1, _casefold, deterministic=True)
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise _db_error(db_path, exc) from None
        if version > SCHEMA_VERSION:
            db.close()
            raise ProjectError(f"{db_path.parent.name} was saved by a newer Assetsmith (schema {version}, this one "
                               f"knows up to {SCHEMA_VERSION}); update Assetsmith to open it")
        return db

    def _migrate(self) -> None:
        """Apply the missing migrations in order, each in its own transaction."""
        while True:
            with self._transaction() as db:
                # Read inside the write lock: another process may have migrated meanwhile.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    return
                try:
                    for statement in _statements(MIGRATIONS[version]):
                        db.execute(statement)
                except sqlite3.DatabaseError as exc:
                    raise ProjectError(f"could not upgrade {self.root / DB_NAME} to schema {version + 1} ({exc}); "
                                       "it was left as it was: report this with the file") from None
                db.execute(f"PRAGMA user_version = {version + 1}")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE"):
        """One transaction on the shared connection. IMMEDIATE takes the write lock at once, so
        it never fails half-way for another writer; DEFERRED is a consistent read snapshot."""
        with self._lock:
            self._db.execute(f"BEGIN {mode}")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    # -- reconcile ----------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Compare the records with the folder and say what was found. Nothing recorded and no
        finished file is ever deleted here; only temp files of writes that died are removed."""
        report = ReconcileReport()
        live = self._session.live()
        # Scan before reading the rows: a file renamed in and recorded meanwhile is then known.
        files = []
        for top in ("assets", "inputs"):
            for folder, dirs, names in os.walk(self.root / top):
                dirs.sort()
                for name in sorted(names):
                    path = Path(folder) / name
                    if not name.startswith(TEMP_PREFIX):
                        if top == "assets":
                            files.append(path)
                    elif _temp_session(name) not in live:  # its writer is gone: never a finished output
                        path.unlink(missing_ok=True)
                        report.temp_removed += 1
        with self._transaction() as db:
            running = db.execute("SELECT id, session FROM generations WHERE status = 'running'").fetchall()
            report.interrupted = [gid for gid, session in running if session not in live]
            db.executemany("UPDATE generations SET status = 'interrupted', error = ? WHERE id = ?",
                           [("Assetsmith stopped before this generation finished", gid) for gid in report.interrupted])
            rows = db.execute("SELECT id, path, sidecar, missing FROM outputs ORDER BY id").fetchall()
        recorded = {name for _, rel, sidecar, _ in rows for name in (rel, sidecar) if name}
        report.orphans = [f for f in files if f.relative_to(self.root).as_posix() not in recorded]
        changed = []
        for oid, rel, _, was_missing in rows:
            gone = not (self.root / rel).is_file()
            if gone:
                report.missing.append((oid, self.root / rel))
            if gone != bool(was_missing):
                changed.append((int(gone), oid))
        if changed:
            with self._transaction() as db:
                db.executemany("UPDATE outputs SET missing = ? WHERE id = ?", changed)
        return report

    # -- writing ------------------------------------------------------------------------------
    def writer(self, recipe: dict, parent_id: int | None = None) -> GenerationWriter:
        """Record a generation output by output; see GenerationWriter."""
        if parent_id is not None:
            self.get(parent_id)  # a clear error now rather than a foreign-key failure later
        return GenerationWriter(self, recipe, parent_id)

    def import_input(self, path: str | Path) -> str:
        """Copy an input file in, once per content; returns its project-relative path."""
        source = Path(path).expanduser()
        folder = self.root / "inputs"
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{TEMP_PREFIX}{self._session.id}-{os.urandom(16).hex()}"
        if not os.access(source, os.R_OK) or not source.is_file():
            raise ProjectError(f"cannot read the input file {source}; check that it exists and is readable")
        import hashlib

        digest = hashlib.sha256()
        try:
            # Hash what is copied, in one pass: the copy is exactly the content named.
            with open(source, "rb") as src, open(tmp, "xb") as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                size = dst.tell()
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ProjectError(f"cannot copy {source} into {folder} ({exc.strerror or exc})") from None
        sha = digest.hexdigest()
        suffix = source.suffix.lower() if source.suffix[1:].isalnum() and len(source.suffix) <= 10 else ""
        with self._lock:
            row = self._db.execute("SELECT path FROM inputs WHERE sha256 = ?", (sha,)).fetchone()
            rel = row[0] if row and (self.root / row[0]).is_file() else f"inputs/{sha}{suffix}"
            if (self.root / rel).is_file():
                tmp.unlink()
            else:
                os.replace(tmp, self.root / rel)
                _fsync_dir(folder)
            self._db.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?)",
                             (sha, rel, source.name, size, time.time()))
        return rel

    def made_here(self, input_rel: str) -> int | None:
        """The generation that made the content of this input (`inputs/...`), when it was one
        of this project's outputs: re-processing or varying an output is its child."""
        row = self._db.execute(
            "SELECT o.generation_id FROM inputs i JOIN outputs o ON o.sha256 = i.sha256 "
            "WHERE i.path = ? ORDER BY o.id LIMIT 1", (str(input_rel),)).fetchone()
        return row[0] if row else None

    def resolve(self, relpath: str | Path) -> Path:
        """A project-relative path made absolute; paths leading outside the project are refused."""
        full = (self.root / relpath).resolve()
        if not full.is_relative_to(self.root):
            raise ProjectError(f"{str(relpath)!r} points outside the project {self.root}; "
                               "use a path inside it, or import the file first")
        return full

    # -- reading ------------------------------------------------------------------------------
    def get(self, generation_id: int) -> Generation:
        """One generation with all its outputs, trashed ones included."""
        with self._transaction("DEFERRED") as db:
            row = db.execute(f"SELECT {_GEN_COLUMNS} FROM generations WHERE id = ?", (generation_id,)).fetchone()
            if row is None:
                raise ProjectError(f"no generation {generation_id} in {self.root.name}; "
                                   "list the project to see its generations")
            return self._generations([row], include_trashed=True)[0]

    def query(self, search: str | None = None, modality=None, engine=None, model=None,
              favorite: bool | None = None, tag: str | None = None, since: float | None = None,
              until: float | None = None, status=None, include_trashed: bool = False,
              limit: int | None = None, offset: int = 0) -> list[Generation]:
        """Generations, newest first. `search` is a case-insensitive substring of the prompt or
        negative prompt; modality, engine, model and status take one value or several; favorite
        and tag hold when any output matches. Trashed outputs (and generations with nothing
        else) are left out unless `include_trashed`."""
        where, args = _generation_filters(search, modality, engine, model, since, until, status)
        live = "" if include_trashed else " AND o.trashed_at IS NULL"
        where.append(f"EXISTS (SELECT 1 FROM outputs o WHERE o.generation_id = g.id{live})")
        if favorite is not None:
            where.append(f"{'' if favorite else 'NOT '}EXISTS "
                         f"(SELECT 1 FROM outputs o WHERE o.generation_id = g.id AND o.favorite = 1{live})")
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM outputs o JOIN tags t ON t.output_id = o.id "
                         f"WHERE o.generation_id = g.id AND t.tag = ? COLLATE NOCASE{live})")
            args.append(tag.strip())
        sql = (f"SELECT {_GEN_COLUMNS} FROM generations g WHERE {' AND '.join(where)} "
               "ORDER BY g.created_at DESC, g.id DESC LIMIT ? OFFSET ?")
        args += [-1 if limit is None else limit, offset]
        with self._transaction("DEFERRED") as db:
            return self._generations(db.execute(sql, args).fetchall(), include_trashed)

    # -- the gallery: outputs one by one, fast on tens of thousands --------------------------
    def output_ids(self, search: str | None = None, modality=None, engine=None, model=None,
                   favorite: bool | None = None, tag: str | None = None, since: float | None = None,
                   until: float | None = None, status=None, include_trashed: bool = False) -> list[int]:
        """Ids of the matching outputs, newest generation first, then in batch order. Unlike
        query(), favorite and tag hold for the output itself. Only ids (one indexed query, a few
        ms for 10,000): a view loads the records it shows with outputs()."""
        where, args = _generation_filters(search, modality, engine, model, since, until, status)
        if not include_trashed:
            where.append("o.trashed_at IS NULL")
        if favorite is not None:
            where.append(f"o.favorite = {int(bool(favorite))}")
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.output_id = o.id AND t.tag = ? COLLATE NOCASE)")
            args.append(tag.strip())
        sql = (f"SELECT o.id FROM outputs o JOIN generations g ON g.id = o.generation_id "
               f"WHERE {' AND '.join(where) or '1'} ORDER BY g.created_at DESC, g.id DESC, o.idx, o.id")
        with self._transaction("DEFERRED") as db:
            return [row[0] for row in db.execute(sql, args)]

    def outputs(self, ids: list[int]) -> list[OutputRecord]:
        """The records of these outputs, in the order asked (ids not found are left out)."""
        found: dict[int, OutputRecord] = {}
        with self._transaction("DEFERRED") as db:
            for start in range(0, len(ids), 500):  # stay under SQLite's limit on bound parameters
                chunk = list(ids[start:start + 500])
                marks = ",".join("?" * len(chunk))
                tags: dict[int, list[str]] = {}
                for oid, tag in db.execute(f"SELECT output_id, tag FROM tags WHERE output_id IN ({marks}) "
                                           "ORDER BY tag", chunk):
                    tags.setdefault(oid, []).append(tag)
                for r in db.execute(f"SELECT {_OUT_COLUMNS} FROM outputs WHERE id IN ({marks})", chunk):
                    found[r[0]] = self._output_record(r, tags.get(r[0], []))
        return [found[i] for i in ids if i in found]

    def output(self, output_id: int) -> OutputRecord:
        found = self.outputs([output_id])
        if not found:
            raise ProjectError(f"no output {output_id} in {self.root.name}")
        return found[0]

    def values(self, column: str) -> list[str]:
        """The distinct engines, models or modalities recorded (for the gallery's filters)."""
        if column not in ("engine", "model", "modality"):
            raise ValueError(f"no filter on {column!r}")
        with self._transaction("DEFERRED") as db:
            rows = db.execute(f"SELECT DISTINCT {column} FROM generations WHERE {column} IS NOT NULL "
                              f"AND {column} != '' ORDER BY {column}").fetchall()
        return [r[0] for r in rows]

    def _output_record(self, r, tags: list[str]) -> OutputRecord:
        return OutputRecord(
            id=r[0], generation_id=r[1], index=r[2], path=self.root / r[3], kind=r[4], mime=r[5],
            sha256=r[6], seed=r[7], width=r[8], height=r[9], sample_rate=r[10], duration_s=r[11],
            favorite=bool(r[12]), tags=tags, trashed=r[13] is not None,
            recipe=json.loads(r[14]), content_sha256=r[15], missing=bool(r[16]),
        )

    def _generations(self, rows, include_trashed: bool) -> list[Generation]:
        generations = {r[0]: Generation(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows}
        ids = list(generations)
        for start in range(0, len(ids), 500):  # stay under SQLite's limit on bound parameters
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            tags: dict[int, list[str]] = {}
            for oid, tag in self._db.execute(
                f"SELECT t.output_id, t.tag FROM tags t JOIN outputs o ON o.id = t.output_id "
                f"WHERE o.generation_id IN ({marks}) ORDER BY t.tag", chunk
            ):
                tags.setdefault(oid, []).append(tag)
            trashed = "" if include_trashed else " AND trashed_at IS NULL"
            for r in self._db.execute(
                f"SELECT {_OUT_COLUMNS} FROM outputs WHERE generation_id IN ({marks}){trashed} ORDER BY idx, id",
                chunk,
            ):
                generations[r[1]].outputs.append(self._output_record(r, tags.get(r[0], [])))
        return list(generations.values())

    # -- favorites, tags, trash ---------------------------------------------------------------
    def _update_output(self, sql: str, output_id: int, *args) -> None:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM outputs WHERE id = ?", (output_id,)).fetchone() is None:
                raise ProjectError(f"no output {output_id} in {self.root.name}")
            db.execute(sql, (*args, output_id))

    def set_favorite(self, output_id: int, on: bool = True) -> None:
        self._update_output("UPDATE outputs SET favorite = ? WHERE id = ?", output_id, int(on))

    def add_tag(self, output_id: int, tag: str) -> None:
        tag = tag.strip()
        if not tag:
            raise ProjectError("a tag cannot be empty")
        self._update_output("INSERT OR IGNORE INTO tags (tag, output_id) VALUES (?, ?)", output_id, tag)

    def remove_tag(self, output_id: int, tag: str) -> None:
        self._update_output("DELETE FROM tags WHERE tag = ? AND output_id = ?", output_id, tag.strip())

    def trash(self, output_id: int) -> None:
        """Hide an output; its file stays until purge(), so restore() can bring it back."""
        self._update_output("UPDATE outputs SET trashed_at = coalesce(trashed_at, ?) WHERE id = ?",
                            output_id, time.time())

    def restore(self, output_id: int) -> None:
        self._update_output("UPDATE outputs SET trashed_at = NULL WHERE id = ?", output_id)

    def purge(self) -> int:
        """Delete trashed outputs for good (files and records), and the generations left with
        none; returns how many outputs. Records go first, durably: a crash in between leaves
        files without records (reported as orphans), never records without files."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")  # this commit must survive a power cut
            try:
                with self._transaction() as db:
                    rows = db.execute("SELECT path, sidecar FROM outputs WHERE trashed_at IS NOT NULL").fetchall()
                    db.execute("DELETE FROM outputs WHERE trashed_at IS NOT NULL")
                    db.execute("DELETE FROM generations WHERE status != 'running' AND NOT EXISTS "
                               "(SELECT 1 FROM outputs o WHERE o.generation_id = generations.id)")
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        for rel, sidecar in rows:
            for name in filter(None, (rel, sidecar)):
                (self.root / name).unlink(missing_ok=True)
        return len(rows)


class GenerationWriter:
    """Records one generation output by output, each in the crash-safe order of the module
    docstring. Nothing is recorded until the first output: a job cancelled or failed before
    it leaves no trace."""

    def __init__(self, project: Project, recipe: dict, parent_id: int | None):
        self.project = project
        self.recipe = recipe
        self.parent_id = parent_id
        self.generation_id: int | None = None
        self._recipe_json = json.dumps(recipe, ensure_ascii=False)  # fails here, before any file
        self._started = time.time()
        # File names: readable, sortable, unique without knowing the generation id yet.
        self._prefix = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(self._started))}-{os.urandom(4).hex()}"
        self._done = False

    def add(self, *, index: int, seed: int, kind: str, ext: str, data: bytes, recipe: dict,
            sidecar: bytes | None = None, content_sha256: str | None = None, mime: str = "",
            width=None, height=None, sample_rate=None, duration_s=None) -> OutputRecord:
        """Write one output's file (and a text output's JSON sidecar), then record it."""
        if self._done:
            raise RuntimeError("this generation is finished; start another writer")
        if kind not in KINDS:
            raise ValueError(f"unknown output kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not ext.isalnum():
            raise ValueError(f"bad file extension {ext!r}")
        recipe_json = json.dumps(recipe, ensure_ascii=False)
        project, session = self.project, self.project._session.id
        folder = project.root / "assets" / kind
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self._prefix}-{index:03d}-{seed}"
        while (folder / f"{stem}.{ext}").exists() or (folder / f"{stem}.json").exists():
            stem = f"{self._prefix}-{index:03d}-{seed}-{os.urandom(2).hex()}"  # never overwrite a file
        rel = f"assets/{kind}/{stem}.{ext}"
        sidecar_rel = f"assets/{kind}/{stem}.json" if sidecar is not None else None
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        written: list[Path] = []
        try:
            _write_atomic(project.root / rel, data, session)
            written.append(project.root / rel)
            if sidecar is not None:
                _write_atomic(project.root / sidecar_rel, sidecar, session)
                written.append(project.root / sidecar_rel)
            with project._transaction() as db:
                generation_id = self.generation_id
                if generation_id is None:
                    r = self.recipe
                    generation_id = db.execute(
                        "INSERT INTO generations (parent_id, created_at, status, engine, model, modality, prompt, "
                        "negative_prompt, seed, recipe_json, session) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.parent_id, self._started, r.get("engine") or "", r.get("model"),
                         r.get("modality") or kind, r.get("prompt") or "", r.get("negative_prompt") or "",
                         r.get("seed"), self._recipe_json, session),
                    ).lastrowid
                oid = db.execute(
                    "INSERT INTO outputs (generation_id, idx, path, kind, mime, sha256, content_sha256, seed, width, "
                    "height, sample_rate, duration_s, sidecar, recipe_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (generation_id, index, rel, kind, mime, digest, content_sha256, seed, width, height,
                     sample_rate, duration_s, sidecar_rel, recipe_json),
                ).lastrowid
        except Exception:
            for path in written:  # never recorded: leave no orphan behind
                path.unlink(missing_ok=True)
            raise
        self.generation_id = generation_id
        return OutputRecord(oid, generation_id, index, project.root / rel, kind, mime, digest, seed, width, height,
                            sample_rate, duration_s, False, [], False, recipe, content_sha256)

    def finish(self, status: str, error: str | None = None) -> Generation | None:
        """Set the final status in one transaction; None when no output was ever added
        (then nothing at all is recorded)."""
        if status not in FINAL_STATES:
            raise ValueError(f"status must be one of {', '.join(FINAL_STATES)}, got {status!r}")
        self._done = True
        if self.generation_id is None:
            return None
        with self.project._transaction() as db:
            db.execute("UPDATE generations SET status = ?, error = ?, session = NULL WHERE id = ?",
                       (status, error, self.generation_id))
        return self.project.get(self.generation_id)
