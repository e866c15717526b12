"""The project store: crash-safe writes, reconcile, queries, favorites, tags, trash."""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio import project as project_module
from studio.project import MIGRATIONS, SCHEMA_VERSION, Project, ProjectError

ROOT = Path(__file__).resolve().parent.parent


def recipe(prompt="a red potion", engine="diffusion", model="m1", seed=1, negative_prompt="", **extra):
    return {"engine": engine, "model": model, "prompt": prompt, "negative_prompt": negative_prompt, "seed": seed,
            **extra}


def record(project, prompt="a red potion", n=1, status="finished", kind="image", **kw):
    time.sleep(0.002)  # distinct creation times, for the date filters
    writer = project.writer(recipe(prompt, **kw))
    for i in range(n):
        writer.add(index=i, seed=1 + i, kind=kind, ext="png" if kind == "image" else "txt",
                   data=f"{prompt}-{i}".encode(), recipe=recipe(prompt, seed=1 + i, **kw),
                   sidecar=b"{}" if kind == "text" else None, content_sha256=f"c{i}")
    return writer.finish(status)


@pytest.fixture
def project(tmp_path):
    with Project.open(tmp_path / "P") as p:
        yield p


def test_create_layout_and_reopen(tmp_path):
    root = tmp_path / "new" / "P"
    with Project.open(root) as p:
        assert p.root == root.resolve()
        for sub in ("assets/image", "assets/audio", "assets/text", "inputs", "models", "thumbs"):
            assert (root / sub).is_dir()
        generation = record(p)
    with Project.open(root) as p:
        assert p.report.ok() and p.report.summary() == ""
        assert p.get(generation.id).outputs[0].path.read_bytes() == b"a red potion-0"
    db = sqlite3.connect(root / "project.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_writer_records_outputs_in_order_and_generation_object(project):
    generation = record(project, n=3)
    obj = generation.to_object()
    assert obj["status"] == "finished" and obj["seed"] == 1 and obj["generation_id"] == generation.id
    assert [Path(p).read_bytes() for p in obj["outputs"]] == [b"a red potion-0", b"a red potion-1", b"a red potion-2"]
    assert all(Path(p).is_absolute() for p in obj["outputs"])
    assert [o.seed for o in generation.outputs] == [1, 2, 3]
    assert generation.outputs[1].recipe["seed"] == 2
    assert not list((project.root / "assets" / "image").glob(".tmp-*"))


def test_a_writer_with_no_outputs_records_nothing(project):
    assert project.writer(recipe()).finish("cancelled") is None
    assert project.query(include_trashed=True) == []


def test_text_outputs_keep_their_sidecar(project):
    generation = record(project, kind="text")
    out = generation.outputs[0]
    assert out.path.suffix == ".txt" and out.path.with_suffix(".json").is_file()
    with Project.open(project.root) as again:
        assert again.report.orphans == []  # the sidecar belongs to its output


def test_crash_leaves_interrupted_generation_with_its_outputs(tmp_path):
    with Project.open(tmp_path / "P") as p:
        writer = p.writer(recipe())
        writer.add(index=0, seed=1, kind="image", ext="png", data=b"x", recipe=recipe())
        # no finish(): the process "dies" here
    with Project.open(tmp_path / "P") as p:
        assert p.report.interrupted == [writer.generation_id]
        assert "interrupted" in p.report.summary()
        generation = p.get(writer.generation_id)
        assert generation.status == "interrupted" and len(generation.outputs) == 1


def test_orphans_are_reported_not_deleted_and_missing_files_are_kept(tmp_path):
    with Project.open(tmp_path / "P") as p:
        generation = record(p, n=2)
    orphan = tmp_path / "P" / "assets" / "image" / "stray.png"
    orphan.write_bytes(b"stray")
    (tmp_path / "P" / "assets" / "image" / ".tmp-deadbeef").write_bytes(b"half")
    generation.outputs[0].path.unlink()
    with Project.open(tmp_path / "P") as p:
        assert p.report.orphans == [orphan] and orphan.exists()
        assert p.report.missing == [(generation.outputs[0].id, generation.outputs[0].path)]
        assert p.report.temp_removed == 1
        assert "no record" in p.report.summary() and "no file" in p.report.summary()
        again = p.get(generation.id)
        assert len(again.outputs) == 2 and again.outputs[0].missing and not again.outputs[1].missing


def test_corrupt_database_gives_clear_error(tmp_path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "project.db").write_bytes(b"garbage" * 500)
    with pytest.raises(ProjectError, match="project.db is damaged.*assets/ files are untouched"):
        Project.open(tmp_path / "P")


def test_damage_past_the_header_gives_the_same_clear_error(tmp_path):
    with Project.open(tmp_path / "P") as p:
        for i in range(30):
            record(p, f"potion {i}" * 50, n=2)
    db = tmp_path / "P" / "project.db"
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first (the schema)
    db.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match="project.db is damaged .*malformed.*assets/ files are untouched"):
        Project.open(tmp_path / "P")
    assert not list((tmp_path / "P" / ".sessions").iterdir())  # nothing left held


def test_newer_schema_and_file_path_are_refused(tmp_path):
    Project.open(tmp_path / "P").close()
    db = sqlite3.connect(tmp_path / "P" / "project.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ProjectError, match="newer Assetsmith"):
        Project.open(tmp_path / "P")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="is a file"):
        Project.open(tmp_path / "file")
    with pytest.raises(ProjectError, match="no project"):
        Project.open(tmp_path / "none", create=False)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ProjectError, match="no project"):
        Project.open(tmp_path / "plain", create=False)
    assert list((tmp_path / "plain").iterdir()) == []  # nothing was created there


def test_migrations_bring_an_empty_database_up_to_date(tmp_path):
    (tmp_path / "P").mkdir()
    sqlite3.connect(tmp_path / "P" / "project.db").close()  # version 0: an empty database
    with Project.open(tmp_path / "P") as p:
        assert p._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        record(p)


def test_queries_filter_and_search(project):
    a = record(project, "A Red Potion", engine="diffusion", model="m1")
    b = record(project, "blue 100%_sword", engine="gan", model="m2")
    c = record(project, "green gem", kind="text", engine="causal-lm", model="m1")
    ids = lambda gens: [g.id for g in gens]
    assert ids(project.query()) == [c.id, b.id, a.id]
    assert ids(project.query(search="red potion")) == [a.id]
    assert ids(project.query(search="100%_")) == [b.id]
    assert ids(project.query(search="%")) == [b.id]
    assert ids(project.query(engine="gan")) == [b.id]
    assert ids(project.query(model="m1")) == [c.id, a.id]
    assert ids(project.query(modality="text")) == [c.id]
    assert ids(project.query(since=b.created_at)) == [c.id, b.id]
    assert ids(project.query(until=a.created_at)) == [a.id]
    assert ids(project.query(since=b.created_at, until=b.created_at)) == [b.id]
    assert ids(project.query(limit=1, offset=1)) == [b.id]
    assert ids(project.query(offset=2)) == [a.id]
    assert ids(project.query(engine=["gan", "causal-lm"])) == [c.id, b.id]
    assert ids(project.query(status="finished")) == [c.id, b.id, a.id] and project.query(status="failed") == []
    project.set_favorite(b.outputs[0].id)
    project.add_tag(a.outputs[0].id, "potions")
    assert ids(project.query(favorite=True)) == [b.id]
    assert ids(project.query(favorite=False)) == [c.id, a.id]
    assert ids(project.query(tag="potions")) == [a.id] == ids(project.query(tag="Potions"))
    assert project.get(a.id).outputs[0].tags == ["potions"]
    project.remove_tag(a.outputs[0].id, "potions")
    assert project.query(tag="potions") == []
    with pytest.raises(ProjectError, match="no output 999"):
        project.set_favorite(999)
    project.set_favorite(b.outputs[0].id, False)
    assert project.query(favorite=True) == []


def test_search_is_case_insensitive_beyond_ascii_and_covers_the_negative_prompt(project):
    a = record(project, "ÉPÉE de feu")
    b = record(project, "shield", negative_prompt="Blurry, LOW quality")
    assert [g.id for g in project.query(search="épée")] == [a.id]
    assert [g.id for g in project.query(search="low QUAL")] == [b.id]
    assert project.query(search="potion") == []


def test_trash_restore_and_purge(project):
    generation = record(project, n=2)
    keep, drop = generation.outputs
    project.trash(drop.id)
    assert [o.id for o in project.query()[0].outputs] == [keep.id]
    assert len(project.get(generation.id).outputs) == 2
    project.restore(drop.id)
    project.trash(drop.id)
    assert project.purge() == 1
    assert not drop.path.exists() and keep.path.exists()
    project.trash(keep.id)
    assert project.query() == [] and len(project.query(include_trashed=True)) == 1
    assert project.purge() == 1
    with pytest.raises(ProjectError):
        project.get(generation.id)


def test_inputs_are_copied_in_once_by_content(project, tmp_path):
    src = tmp_path / "Init.PNG"
    src.write_bytes(b"pixels")
    rel = project.import_input(src)
    assert rel.startswith("inputs/") and rel.endswith(".png")
    assert project.import_input(src) == rel
    twin = tmp_path / "copy.png"
    twin.write_bytes(b"pixels")
    assert project.import_input(twin) == rel  # same content, same copy
    other = tmp_path / "other.wav"
    other.write_bytes(b"samples")
    assert project.import_input(other).endswith(".wav") and project.import_input(other) != rel
    with pytest.raises(ProjectError, match="cannot read"):
        project.import_input(tmp_path)  # a folder
    with pytest.raises(ProjectError, match="outside the project"):
        project.resolve("inputs/../../elsewhere.png")
    with pytest.raises(ProjectError, match="outside the project"):
        project.resolve(str(tmp_path / "Init.PNG"))
    assert project.resolve(rel).read_bytes() == b"pixels"
    assert len(list((project.root / "inputs").iterdir())) == 2
    with pytest.raises(ProjectError, match="outside the project"):
        project.resolve("../elsewhere.png")
    with pytest.raises(ProjectError, match="cannot read"):
        project.import_input(tmp_path / "missing.png")


def test_concurrent_writers_and_readers(project):
    errors = []

    def write(prompt):
        try:
            for _ in range(10):
                record(project, prompt, n=2)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in ("alpha", "beta")]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        project.query(search="a")
    for t in threads:
        t.join()
    assert errors == []
    assert len(project.query()) == 20


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from studio.project import Project
p = Project.open({path!r})
for g in range(1000):
    w = p.writer({{"engine": "diffusion", "prompt": "p%d" % g, "seed": g}})
    for i in range(3):
        w.add(index=i, seed=g + i, kind="image", ext="png", data=bytes([i]) * 200000, recipe={{"seed": g + i}})
        print(g, i, flush=True)
    w.finish("finished")
"""


def test_sigkill_while_writing_never_leaves_a_row_without_its_file(tmp_path):
    path = tmp_path / "P"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path))],
                             stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
        # Another process opening the project while the child writes must not disturb it:
        # the child's running generation is not "interrupted", its temp files are not removed.
        with Project.open(path) as watcher:
            assert watcher.report.interrupted == [] and watcher.report.temp_removed == 0
            for _ in range(7):
                child.stdout.readline()
                watcher.query(search="p")
            assert watcher.query(status="running")  # still being written by the live child
            assert child.poll() is None
            time.sleep(0.003)  # land the kill somewhere inside the next output's write
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            report = watcher.reconcile()
            # Now that the child is gone its running generation (if the kill came after its first
            # output was recorded) is interrupted.
            assert len(report.interrupted) <= 1
            generations = watcher.query(include_trashed=True)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert len(generations) >= 3 and not report.missing
    recorded = set()
    for generation in generations:
        assert generation.status in ("finished", "interrupted")
        assert [o.index for o in generation.outputs] == list(range(len(generation.outputs)))
        assert generation.status == "interrupted" or len(generation.outputs) == 3
        for o in generation.outputs:
            assert o.path.read_bytes() == bytes([o.index]) * 200000
            assert o.sha256 == __import__("hashlib").sha256(o.path.read_bytes()).hexdigest()
            recorded.add(o.path)
    # At most the one output renamed in but not yet recorded is an orphan; no temp file is left.
    assert len(report.orphans) <= 1 and set(report.orphans).isdisjoint(recorded)
    assert not list((path / "assets" / "image").glob(".tmp-*"))
    assert list((path / ".sessions").iterdir()) == []  # the dead child's lock file is cleaned up


def test_a_project_open_in_two_places_keeps_the_other_writer_alive(tmp_path):
    with Project.open(tmp_path / "P") as a:
        writer = a.writer(recipe())
        writer.add(index=0, seed=1, kind="image", ext="png", data=b"x", recipe=recipe())
        stale = tmp_path / "P" / "assets" / "image" / ".tmp-deadbeef"  # no live session owns it
        stale.write_bytes(b"half")
        mine = tmp_path / "P" / "assets" / "image" / f".tmp-{a._session.id}-0"
        mine.write_bytes(b"being written")
        with Project.open(tmp_path / "P") as b:
            assert b.report.interrupted == [] and b.report.temp_removed == 1
            assert mine.exists() and not stale.exists()
            assert b.get(writer.generation_id).status == "running"
            mine.unlink()
            assert writer.finish("finished").status == "finished"
            assert b.get(writer.generation_id).status == "finished"
            second = a.writer(recipe())
            second.add(index=0, seed=1, kind="image", ext="png", data=b"y", recipe=recipe())
        # a closes without finishing: its session is over, so the generation was interrupted
    with Project.open(tmp_path / "P") as c:
        assert c.report.interrupted == [second.generation_id]


def test_summary_reads_as_a_paragraph_and_temp_files_alone_are_fine():
    from studio.project import ReconcileReport

    assert ReconcileReport(temp_removed=2).ok() and ReconcileReport(temp_removed=2).summary() == ""
    text = ReconcileReport(orphans=[Path("a.png"), Path("b.png")], missing=[(3, Path("c.png"))],
                           interrupted=[1], temp_removed=1).summary()
    assert text == ("1 generation was interrupted (Assetsmith stopped before it finished); the outputs finished "
                    "before that are kept. 1 recorded output has no file any more (c.png); the records are kept "
                    "and marked missing. 2 files in assets/ have no record (a.png, b.png); left in place. "
                    "Removed 1 unfinished temp file.")
    assert "\n" not in text


def old_v1_project(root):
    """A project as schema version 1 left it, with a generation a crash left running."""
    (root / "assets" / "image").mkdir(parents=True)
    (root / "assets" / "image" / "old.png").write_bytes(b"old")
    db = sqlite3.connect(root / "project.db")
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO generations (id, created_at, status, engine, prompt, recipe_json) "
               "VALUES (1, 1.0, 'running', 'gan', 'old sword', '{\"seed\": 5}')")
    db.execute("INSERT INTO outputs (generation_id, idx, path, kind, sha256, seed, recipe_json) "
               "VALUES (1, 0, 'assets/image/old.png', 'image', 'h', 5, '{}')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_migrations_upgrade_an_old_project_in_order_and_keep_its_records(tmp_path, monkeypatch):
    old_v1_project(tmp_path / "P")
    extra = "CREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES ((SELECT count(*) FROM generations));"
    monkeypatch.setattr(project_module, "MIGRATIONS", [*MIGRATIONS, extra])
    monkeypatch.setattr(project_module, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with Project.open(tmp_path / "P") as p:
        assert p._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        assert p._db.execute("SELECT x FROM extra").fetchone()[0] == 1  # ran after the others
        assert p.report.interrupted == [1]  # version 1 knew no sessions: a running one was a crash
        old = p.get(1)
        assert old.status == "interrupted" and old.outputs[0].path.read_bytes() == b"old"
        assert [g.id for g in p.query(search="SWORD")] == [1]
        record(p)


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    old_v1_project(tmp_path / "P")
    broken = "CREATE TABLE extra (x INTEGER);\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(project_module, "MIGRATIONS", [*MIGRATIONS, broken])
    monkeypatch.setattr(project_module, "SCHEMA_VERSION", len(MIGRATIONS) + 1)
    with pytest.raises(ProjectError, match=f"could not upgrade .* to schema {len(MIGRATIONS) + 1}"):
        Project.open(tmp_path / "P")
    db = sqlite3.connect(tmp_path / "P" / "project.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)  # the good ones stay
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone()[0] == 0
    db.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_location_is_refused(tmp_path):
    Project.open(tmp_path / "P").close()
    for folder, _, _ in os.walk(tmp_path / "P"):
        os.chmod(folder, 0o555)
    try:
        with pytest.raises(ProjectError, match="cannot write in"):
            Project.open(tmp_path / "P")
    finally:
        for folder, _, _ in os.walk(tmp_path / "P"):
            os.chmod(folder, 0o755)
    os.chmod(tmp_path / "P" / "project.db", 0o444)
    with pytest.raises(ProjectError, match="project.db is read-only"):
        Project.open(tmp_path / "P")


def test_writer_rejects_misuse_and_leaves_no_files_when_recording_fails(project, monkeypatch):
    with pytest.raises(TypeError):
        project.writer({"engine": "gan", "bad": object()})
    writer = project.writer(recipe())
    with pytest.raises(ValueError, match="unknown output kind"):
        writer.add(index=0, seed=1, kind="video", ext="mp4", data=b"x", recipe={})
    with pytest.raises(TypeError):
        writer.add(index=0, seed=1, kind="image", ext="png", data=b"x", recipe={"bad": object()})

    def broken_transaction(*args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(project, "_transaction", broken_transaction)
    with pytest.raises(sqlite3.OperationalError):
        writer.add(index=0, seed=1, kind="text", ext="txt", data=b"x", recipe={}, sidecar=b"{}")
    monkeypatch.undo()
    assert [f for f in (project.root / "assets").rglob("*") if f.is_file()] == []
    assert writer.generation_id is None and writer.finish("failed") is None
    with pytest.raises(RuntimeError, match="finished"):
        writer.add(index=0, seed=1, kind="image", ext="png", data=b"x", recipe={})
    with pytest.raises(ValueError, match="status must be"):
        project.writer(recipe()).finish("done")
    with pytest.raises(ProjectError, match="no generation 42"):
        project.writer(recipe(), parent_id=42)


def test_parent_and_unique_readable_names(project):
    parent = record(project, n=1)
    writer = project.writer(recipe(), parent_id=parent.id)
    a = writer.add(index=0, seed=7, kind="image", ext="png", data=b"a", recipe={})
    b = writer.add(index=0, seed=7, kind="image", ext="png", data=b"b", recipe={})  # same index and seed
    child = writer.finish("cancelled", "stopped by the user")
    assert a.path != b.path and a.path.read_bytes() == b"a" and b.path.read_bytes() == b"b"
    assert a.path.name.endswith("-000-7.png") and a.path.parent == project.root / "assets" / "image"
    obj = child.to_object()
    assert obj["parent_id"] == parent.id and obj["status"] == "cancelled" and obj["error"] == "stopped by the user"
