"""The job runner with the real diffusion engine on a tiny model."""
import errno
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engines.api import ParamError, Request
from studio.jobs import JobRunner
from studio.models import ModelError
from studio.project import Project
from studio.recording import ProjectSink

ROOT = Path(__file__).resolve().parent.parent


def request(model, **params):
    params.setdefault("num_steps", 2)
    return Request(engine="diffusion", model=str(model), prompt="a red potion", seed=1, params=params)


@pytest.fixture
def runner():
    r = JobRunner()
    yield r
    r.shutdown()


@pytest.fixture
def project(tmp_path):
    p = Project.open(tmp_path / "p")
    yield p
    p.close()


class Recorder:
    """Collects job events, thread-safely."""

    def __init__(self, runner):
        self.events = []
        self._lock = threading.Lock()
        runner.subscribe(self)

    def __call__(self, event):
        with self._lock:
            self.events.append(event)

    def kinds(self, job_id):
        return [e.kind for e in self.events if e.job_id == job_id]


def test_finished_job_records_generation_and_events(runner, project, tiny_sd):
    rec = Recorder(runner)
    job = runner.submit(request(tiny_sd), sink=ProjectSink(project))
    assert job.wait(60)
    assert job.state == "finished", job.error
    kinds = rec.kinds(job.id)
    assert kinds[0] == "queued" and kinds[1] == "started" and kinds[-1] == "finished"
    steps = [e.progress for e in rec.events if e.job_id == job.id and e.kind == "progress"]
    total = steps[-1][1]
    assert steps == [(i, total) for i in range(1, total + 1)] and kinds.count("output") == 1
    assert sum(k in ("finished", "cancelled", "failed") for k in kinds) == 1
    generation = project.get(job.result["generation_id"])
    assert generation.status == "finished"
    assert generation.recipe["runtime"]["threads"] >= 1
    assert len(generation.recipe["model_hash"]) == 64
    # The versions are read once per process; each recipe holds a copy of its own.
    versions = generation.recipe["runtime"]["versions"]
    assert versions["torch"] and versions["diffusers"]
    from engines import devices

    devices.versions()["torch"] = "changed"
    assert devices.versions() == versions


def test_seed_is_resolved_before_queueing(runner, tiny_sd):
    job = runner.submit(request(tiny_sd).replace(seed=None))
    assert isinstance(job.request.seed, int)
    job.wait(60)


def test_bad_input_is_refused_at_submit(runner, tiny_sd, tmp_path):
    with pytest.raises(ParamError, match="num_steps"):
        runner.submit(request(tiny_sd, num_steps=0))
    with pytest.raises(ParamError, match="unknown engine"):
        runner.submit(Request(engine="nope"))
    with pytest.raises(ModelError, match="not found"):
        runner.submit(request(tmp_path / "missing"))
    with pytest.raises(ParamError, match="device 'cuda:7'"):
        runner.submit(request(tiny_sd), device="cuda:7")
    with pytest.raises(ParamError, match="unknown device"):
        runner.submit(request(tiny_sd), device="tpu")
    (tmp_path / "w.ckpt").write_bytes(b"x")
    with pytest.raises(ModelError, match="pickle"):
        runner.submit(request(tmp_path / "w.ckpt"))


def test_engine_failure_fails_the_job_and_the_runner_goes_on(runner, tiny_sd, tmp_path):
    broken = shutil.copytree(tiny_sd, tmp_path / "broken")
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights at all")
    bad = runner.submit(request(broken))
    good = runner.submit(request(tiny_sd))
    assert bad.wait(60) and good.wait(60)
    assert bad.state == "failed" and bad.error and "\n" not in bad.error
    assert good.state == "finished"


def test_queue_cancel_and_reorder(runner, tiny_sd):
    gate, holding = threading.Event(), threading.Event()
    started = []

    def on_event(event):
        if event.kind == "started":
            started.append(event.job_id)
            if len(started) == 1:
                holding.set()
                gate.wait(30)  # hold the worker on the first job while we rearrange the queue

    runner.subscribe(on_event)
    first = runner.submit(request(tiny_sd))
    assert holding.wait(60)  # the worker has taken the first job off the queue (a loaded machine is slow to)
    second, third, fourth = (runner.submit(request(tiny_sd)) for _ in range(3))
    assert runner.cancel(second.id)
    assert second.state == "cancelled" and second.done
    assert runner.move(fourth.id, 0)
    assert [j.id for j in runner.queued()] == [fourth.id, third.id]
    gate.set()
    for job in (first, third, fourth):
        assert job.wait(60) and job.state == "finished"
    assert started == [first.id, fourth.id, third.id]


def test_cancel_running_job_records_nothing(runner, project, tiny_sd):
    def on_event(event):
        if event.kind == "progress" and event.progress[0] == 2:
            runner.cancel(event.job_id)

    runner.subscribe(on_event)
    job = runner.submit(request(tiny_sd, num_steps=50), sink=ProjectSink(project))
    assert job.wait(60)
    assert job.state == "cancelled" and job.progress[0] == 2
    assert job.result is None and project.query() == []


def test_cancel_keeps_finished_outputs_of_a_batch(runner, project, tiny_sd):
    def on_event(event):
        if event.kind == "output":
            runner.cancel(event.job_id)

    runner.subscribe(on_event)
    job = runner.submit(request(tiny_sd).replace(count=3), sink=ProjectSink(project))
    assert job.wait(60) and job.state == "cancelled"
    generation = project.get(job.result["generation_id"])
    assert generation.status == "cancelled"
    assert [o.seed for o in generation.outputs] == [1]
    assert generation.outputs[0].path.is_file()


def test_full_disk_fails_the_job_and_keeps_what_was_written(runner, project, tiny_sd):
    class DiskFillsUp(ProjectSink):
        def output(self, job, output):
            if job.outputs:  # the second output finds the disk full
                raise OSError(errno.ENOSPC, "No space left on device")
            super().output(job, output)

    job = runner.submit(request(tiny_sd).replace(count=3), sink=DiskFillsUp(project))
    assert job.wait(60)
    assert job.state == "failed" and "No space left on device" in job.error
    generation = project.get(job.result["generation_id"])
    assert generation.status == "failed" and len(generation.outputs) == 1


def test_second_generation_reuses_the_loaded_engine(runner, tiny_sd):
    runner.submit(request(tiny_sd)).wait(60)
    (key,) = runner.cache.loaded()
    engine = runner.cache.cached(key)
    assert runner.submit(request(tiny_sd)).wait(60)
    assert runner.cache.loaded() == [key]
    assert runner.cache.cached(key) is engine


def test_memory_budget_evicts_least_recently_used(tiny_sd, tmp_path):
    other = shutil.copytree(tiny_sd, tmp_path / "other")
    runner = JobRunner(memory_budget=1)  # room for one engine at a time
    try:
        runner.submit(request(tiny_sd)).wait(60)
        first = runner.cache.cached(("diffusion", str(tiny_sd.resolve()), "cpu"))
        job = runner.submit(request(other))
        assert job.wait(60) and job.state == "finished"
        assert runner.cache.loaded() == [("diffusion", str(other.resolve()), "cpu")]
        assert first.memory_bytes() == 0  # unloaded
    finally:
        runner.shutdown()


def test_pause_collector_nests_and_leaves_the_collector_as_it_found_it():
    import gc

    from studio.jobs import collector_paused, pause_collector

    assert gc.isenabled() and not collector_paused()
    with pause_collector():
        with pause_collector():
            assert not gc.isenabled() and collector_paused()
        assert not gc.isenabled()
    assert gc.isenabled() and not collector_paused()
    gc.disable()  # as the window's own collector keeps it (ui/gc_guard.py)
    try:
        with pause_collector():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_prepare_imports_the_engines_libraries_and_freezes_what_they_made(runner):
    import gc
    import sys

    gc.unfreeze()
    try:
        assert runner.prepare(["speech"]) in ("cpu", "cuda", "mps")
        assert "transformers.models.bark.modeling_bark" in sys.modules  # SpeechEngine.warm_up
        assert gc.isenabled() and gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # the rest of the session collects as usual


def test_prepare_freezes_nothing_while_a_job_runs(runner, tiny_sd):
    import gc

    gc.unfreeze()
    job = runner.submit(request(tiny_sd, num_steps=300))
    try:
        for _ in range(600):
            if job.progress[0] >= 1 or job.done:
                break
            threading.Event().wait(0.05)
        assert job.state == "running"
        runner.prepare([])
        assert gc.get_freeze_count() == 0  # the job's pipeline must stay collectable after an unload
    finally:
        runner.cancel(job.id)
        job.wait(60)
        gc.unfreeze()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library is loaded ahead on Linux only")
def test_torch_library_is_loaded_without_holding_pythons_lock():
    """A warm-up imports torch on a worker while the window runs: its 430 MB library is loaded
    through a call that lets go of Python's lock, so this thread keeps running meanwhile; then
    torch imports and computes as usual. Each in a fresh interpreter (torch is loaded here)."""
    code = """
import sys, threading, time
from engines import devices
took, done = [], threading.Event()
def load():
    start = time.perf_counter()
    took.append((devices.load_torch_library(), time.perf_counter() - start))
    done.set()
worker = threading.Thread(target=load)
last = time.perf_counter(); longest = 0.0
worker.start()
while not done.is_set():
    now = time.perf_counter(); longest = max(longest, now - last); last = now
worker.join()
loaded, seconds = took[0]
mapped = "libtorch_cpu.so" in open("/proc/self/maps").read()
before = "torch" in sys.modules
import torch
print(loaded, mapped, before, round(seconds, 3), round(longest, 3), float(torch.ones(3).sum()))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded, mapped, before, seconds, longest, total = done.stdout.split()
    assert (loaded, mapped, before, total) == ("True", "True", "False", "3.0")
    if float(seconds) > 0.02:  # long enough to tell a held lock from a released one
        assert float(longest) < float(seconds) / 2, (seconds, longest)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library is loaded ahead on Linux only")
def test_a_torch_library_that_cannot_load_is_left_to_the_import(tmp_path, monkeypatch):
    """A broken or missing libtorch_cpu is no error here: `import torch` loads it as it always
    did and says what is wrong."""
    import importlib.machinery
    import importlib.util

    from engines import devices

    broken = tmp_path / "torch"
    (broken / "lib").mkdir(parents=True)
    (broken / "lib" / "libtorch_cpu.so").write_bytes(b"not a shared library")
    spec = importlib.machinery.ModuleSpec("torch", None, is_package=True)
    spec.submodule_search_locations = [str(broken)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    assert devices.load_torch_library() is False
    (broken / "lib" / "libtorch_cpu.so").unlink()
    assert devices.load_torch_library() is False
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert devices.load_torch_library() is False
