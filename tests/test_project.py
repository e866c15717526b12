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

from studio.project import SCHEMA_VERSION, Project, ProjectError

ROOT = Path(__file__).resolve().parent.parent


def recipe(prompt="a red potion", engine="diffusion", model="m1", seed=1, **extra):
    return {"engine": engine, "model": model, "prompt": prompt, "negative_prompt": "", "seed": seed, **extra}


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
    ids = lambda gens: [g.id for g in gens]  # noqa: E731
    assert ids(project.query()) == [c.id, b.id, a.id]
    assert ids(project.query(search="red potion")) == [a.id]
    assert ids(project.query(search="100%_")) == [b.id]
    assert ids(project.query(search="%")) == [b.id]
    assert ids(project.query(engine="gan")) == [b.id]
    assert ids(project.query(model="m1")) == [c.id, a.id]
    assert ids(project.query(modality="text")) == [c.id]
    assert ids(project.query(since=b.created_at)) == [c.id, b.id]
    assert ids(project.query(until=a.created_at)) == [a.id]
    assert ids(project.query(limit=1, offset=1)) == [b.id]
    project.set_favorite(b.outputs[0].id)
    project.add_tag(a.outputs[0].id, "potions")
    assert ids(project.query(favorite=True)) == [b.id]
    assert ids(project.query(tag="potions")) == [a.id]
    assert project.get(a.id).outputs[0].tags == ["potions"]
    project.remove_tag(a.outputs[0].id, "potions")
    assert project.query(tag="potions") == []
    with pytest.raises(ProjectError, match="no output 999"):
        project.set_favorite(999)


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
    assert project.resolve(rel).read_bytes() == b"pixels"
    assert len(list((project.root / "inputs").iterdir())) == 1
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
        except Exception as exc:  # pragma: no cover - reported below
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
        w.add(index=i, seed=g + i, kind="image", ext="png", data=b"x" * 200000, recipe={{"seed": g + i}})
        print(g, i, flush=True)
    w.finish("finished")
"""


def test_sigkill_while_writing_never_leaves_a_row_without_its_file(tmp_path):
    path = tmp_path / "P"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path))],
                             stdout=subprocess.PIPE, text=True)
    for _ in range(8):  # let a few outputs be recorded, then kill it mid-write
        child.stdout.readline()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with Project.open(path) as p:
        generations = p.query(include_trashed=True)
        assert len(generations) >= 3
        for generation in generations:
            assert generation.status in ("finished", "interrupted")
            for o in generation.outputs:
                assert o.path.is_file() and o.path.stat().st_size == 200000
        assert not p.report.missing
        assert sum(g.status == "interrupted" for g in generations) <= 1
        assert not list((path / "assets" / "image").glob(".tmp-*"))
