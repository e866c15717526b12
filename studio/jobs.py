"""The job runner: one worker thread per device, a FIFO queue each, an engine cache.

Every job ends in exactly one of finished, cancelled or failed. Cancel stops the engine at
its next step; outputs already finished stay (they were handed to the job's sink the moment
they were made). An exception inside an engine fails that job with a readable message and
the worker goes on with the next. Events go to plain callbacks, from worker threads; the
window re-emits them as Qt signals on its own thread (ui/bridge.py).
"""
from __future__ import annotations

import gc
import itertools
import logging
import random
import threading
import time
from collections import OrderedDict, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from engines import devices, registry
from engines.api import SEED_MAX, Cancelled, EngineError, Output, ParamError, Request, check_request
from studio import inputs, models, settings

if TYPE_CHECKING:
    from studio.project import Project

log = logging.getLogger(__name__)

TERMINAL = ("finished", "cancelled", "failed")


@dataclass
class JobEvent:
    kind: str  # queued, started, progress, preview, output, moved, finished, cancelled, failed
    job_id: int
    progress: tuple[int, int] | None = None
    preview: Any = None
    result: Any = None
    error: str | None = None


class JobSink(Protocol):
    """Where a job's outputs go as they are made (the project, in the app and the CLI)."""

    def output(self, job: "Job", output: Output) -> None: ...

    def end(self, job: "Job") -> Any: ...


@dataclass
class Job:
    id: int
    request: Request
    device: str
    model: models.ResolvedModel
    threads: int | None = None
    parent_id: int | None = None
    sink: JobSink | None = None
    engine_request: Request | None = None  # the request with input files as absolute paths
    state: str = "queued"
    progress: tuple[int, int] = (0, 0)
    outputs: list[Output] = field(default_factory=list)
    runtime: dict = field(default_factory=dict)  # device, threads, versions, model hash: filled when it runs
    result: Any = None
    error: str | None = None
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


class EngineCache:
    """Loaded engines by (engine, model path, device), evicted least recently used first
    when a device's memory budget would be exceeded. A second generation with the same
    model never reloads it."""

    def __init__(self, budget: Callable[[str], int]):
        self._budget = budget
        self._engines: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, engine_cls: type, model_path: Path, device: str):
        key = (engine_cls.name, str(model_path), device)
        with self._lock:
            if key in self._engines:
                self._engines.move_to_end(key)
                return self._engines[key]
            needed = sum(f.stat().st_size for f in models.weight_files(model_path))
            self._evict(device, needed)
        engine = engine_cls()
        engine.load(str(model_path), device)
        with self._lock:
            self._engines[key] = engine
            self._evict(device, 0, keep=key)
        return engine

    def _evict(self, device: str, needed: int, keep: tuple | None = None) -> None:
        budget = self._budget(device)
        while True:
            on_device = [k for k in self._engines if k[2] == device and k != keep]
            used = sum(self._engines[k].memory_bytes() for k in self._engines if k[2] == device)
            if used + needed <= budget or not on_device:
                return
            self.unload(on_device[0])

    def unload(self, key: tuple | None = None) -> None:
        """Unload one engine, or all of them when key is None."""
        keys = [key] if key is not None else list(self._engines)
        for k in keys:
            engine = self._engines.pop(k, None)
            if engine is not None:
                log.info("unloading %s (%s) from %s", k[0], k[1], k[2])
                engine.unload()

    def loaded(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._engines)

    def cached(self, key: tuple[str, str, str]):
        """The loaded engine under `key` (engine, model path, device), or None."""
        with self._lock:
            return self._engines.get(key)


def default_budget(device: str) -> int:
    """Half the RAM on CPU (the OS and the app need the rest), 90 % of a GPU's memory."""
    total = devices.total_memory(device)
    return int(total * (0.5 if device == "cpu" else 0.9))


class JobRunner:
    def __init__(self, memory_budget: int | None = None):
        budget = (lambda device: memory_budget) if memory_budget is not None else default_budget
        self.cache = EngineCache(budget)
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._jobs: dict[int, Job] = {}
        self._listeners: list[Callable[[JobEvent], None]] = []
        self._closed = False

    # -- events ---------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[JobEvent], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _emit(self, event: JobEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a broken listener must not break the job
                log.exception("job event listener failed")

    # -- queue ----------------------------------------------------------------------------
    def submit(
        self,
        request: Request,
        *,
        device: str = "auto",
        threads: int | None = None,
        parent_id: int | None = None,
        sink: JobSink | None = None,
        project: "Project | None" = None,
    ) -> Job:
        """Validate and queue a request. Bad input raises ParamError / ModelError /
        ProjectError here, at once, so the caller can say so before anything runs. The seed is
        resolved to a concrete number before the job is queued; with a project, input files
        are copied into it and the recipe names them by their place there."""
        engine_cls = registry.get(request.engine)
        request = check_request(engine_cls, request)
        model = models.resolve(request.model, engine_cls, project.root if project else None)
        engine_request = request
        if project is not None:
            request = inputs.import_inputs(request, engine_cls, project)
            if parent_id is None:
                parent_id = inputs.parent_generation(request, engine_cls, project)
            engine_request = inputs.resolve_inputs(request, engine_cls, project)
        if request.params.get("loras"):  # the recipe keeps each LoRA's reference, the engine gets its path
            loras = [[str(models.resolve_lora(ref, project.root if project else None)), weight]
                     for ref, weight in request.params["loras"]]
            engine_request = engine_request.replace(params={**engine_request.params, "loras": loras})
        if request.seed is None:
            request = request.replace(seed=random.randint(0, SEED_MAX))
        request = request.replace(model=model.ref)
        engine_request = engine_request.replace(seed=request.seed, model=model.ref)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ParamError(f"threads must be a whole number of at least 1, got {threads!r}")
        # "auto" is resolved by its worker: finding it imports torch, which must not stall
        # the caller (a window's GUI thread); an explicit device is checked now.
        if device != "auto":
            try:
                device = devices.resolve(device)
            except ValueError as exc:
                raise ParamError(str(exc)) from None
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is shut down")
            job = Job(next(self._ids), request, device, model, threads, parent_id, sink, engine_request)
            self._jobs[job.id] = job
            self._queues.setdefault(device, deque()).append(job)
            self._ensure_worker(device)
            self._lock.notify_all()
        self._emit(JobEvent("queued", job.id))
        return job

    @property
    def closed(self) -> bool:
        return self._closed

    def warm_up(self, engine_names=()) -> threading.Thread:
        """`prepare(engine_names)` in the background."""
        thread = threading.Thread(target=self.prepare, args=(tuple(engine_names),), name="jobs-warm-up", daemon=True)
        thread.start()
        return thread

    def prepare(self, engine_names=()) -> str:
        """Import torch, find the device and import the libraries of the engines named (their
        `warm_up()`), so that the first generation with them does neither; returns the device.
        A window calls it off its own thread after its first paint.

        Importing torch, diffusers and transformers makes some 650,000 objects, and the
        collector's full passes over them hold Python's lock 0.1-0.5 s each with no break
        (five to seven of them: the window froze for up to half a second; measured with a
        1 ms ticker thread and gc.callbacks, bench/README.md). So the collector is paused while
        the libraries import, and what they made is then frozen out of its passes (gc.freeze:
        modules, classes and functions live as long as the process anyway). Not while a job
        runs: its model's objects would be frozen too, and never collected after an unload."""
        with pause_collector():
            device = devices.resolve("auto")  # imports torch
            devices.automatic_threads()  # both read once, here rather than in the first job
            devices.versions()
            for name in engine_names:
                warm = getattr(registry.get(name), "warm_up", None)
                if warm is not None:
                    warm()
            with self._lock:
                if not any(job.state == "running" for job in self._jobs.values()):
                    gc.freeze()
        return device

    def get(self, job_id: int) -> Job:
        return self._jobs[job_id]

    def queued(self, device: str | None = None) -> list[Job]:
        with self._lock:
            return [j for d, q in self._queues.items() if device in (None, d) for j in q]

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued job at once, or ask a running one to stop at its next step."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.done:
                return False
            job._cancel.set()
            queue = self._queues.get(job.device)
            if job.state == "queued" and queue is not None and job in queue:
                queue.remove(job)
            else:
                return True
        self._end(job, "cancelled")
        return True

    def cancel_all(self) -> None:
        for job in list(self._jobs.values()):
            self.cancel(job.id)

    def move(self, job_id: int, index: int) -> bool:
        """Move a queued job to `index` in its device's queue (0 = next to run)."""
        with self._lock:
            job = self._jobs.get(job_id)
            queue = self._queues.get(job.device) if job else None
            if job is None or queue is None or job not in queue:
                return False
            queue.remove(job)
            queue.insert(max(0, min(index, len(queue))), job)
        self._emit(JobEvent("moved", job_id))
        return True

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Cancel everything, stop the workers and unload the engines."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self.cancel_all()
        if wait:
            for worker in list(self._workers.values()):
                worker.join(timeout)
        self.cache.unload()

    # -- workers --------------------------------------------------------------------------
    def _ensure_worker(self, device: str) -> None:
        if device not in self._workers:
            worker = threading.Thread(target=self._work, args=(device,), name=f"jobs-{device}", daemon=True)
            self._workers[device] = worker
            worker.start()

    def _work(self, device: str) -> None:
        queue = self._queues[device]
        while True:
            with self._lock:
                while not queue and not self._closed:
                    self._lock.wait()
                if self._closed and not queue:
                    return
                job = queue.popleft()
                job.state = "running"
                job.started_at = time.time()
            self._run(job)

    def _run(self, job: Job) -> None:
        self._emit(JobEvent("started", job.id))
        try:
            engine_cls = registry.get(job.request.engine)
            # The CPU thread count changes the bits: a re-make runs with the recorded one.
            threads = job.threads or settings.threads() or devices.automatic_threads()
            devices.set_threads(threads)
            device = devices.resolve(job.device)  # the queue's device; "auto" found on this thread
            job.runtime = self._runtime(job, threads, device)
            engine = self.cache.get(engine_cls, job.model.path, device)
            engine.generate(job.engine_request or job.request, _JobEvents(self, job))
        except Cancelled:
            self._end(job, "cancelled")
        except Exception as exc:
            # The message is the user's; the traceback is for ASSETSMITH_DEBUG=1.
            log.debug("job %s failed", job.id, exc_info=True)
            self._end(job, "failed", error_message(exc))
        else:
            self._end(job, "finished")

    def _runtime(self, job: Job, threads: int, device: str) -> dict:
        """What the recipe records about where and how the job ran."""
        return {
            "device": device,
            "threads": threads,
            "versions": devices.versions(),
            "model_hash": models.content_hash(job.model.path),
            "model_name": job.model.name,
        }

    def _end(self, job: Job, state: str, error: str | None = None) -> None:
        with self._lock:
            if job.done or job.state in TERMINAL:
                return
            job.state, job.error = state, error  # claimed: nobody else can end this job now
        if job.sink is not None:
            try:
                job.result = job.sink.end(job)
            except Exception as exc:
                log.debug("recording job %s failed", job.id, exc_info=True)
                state, error = "failed", f"could not record the result: {error_message(exc)}"
        job.state, job.error, job.ended_at = state, error, time.time()
        job._done.set()
        self._emit(JobEvent(state, job.id, result=job.result, error=error))


_pause_lock = threading.Lock()
_pauses = 0  # warm-ups under way (two windows' may overlap)
_was_enabled = True


def collector_paused() -> bool:
    """Whether a warm-up is importing: a collector of one's own (ui/gc_guard.py) waits too."""
    return _pauses > 0


@contextmanager
def pause_collector():
    """gc.disable() for the duration; nested and across threads, since the collector is global."""
    global _pauses, _was_enabled
    with _pause_lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()


def error_message(exc: BaseException) -> str:
    """One readable line: the message alone for our own errors, with the type otherwise."""
    if isinstance(exc, (ParamError, EngineError, models.ModelError)):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _JobEvents:
    """The engine's events for one job: progress, previews, cancel polling, outputs."""

    def __init__(self, runner: JobRunner, job: Job):
        self._runner, self._job = runner, job

    def progress(self, step: int, total: int) -> None:
        self._job.progress = (step, total)
        self._runner._emit(JobEvent("progress", self._job.id, progress=(step, total)))

    def preview(self, partial: Any) -> None:
        self._runner._emit(JobEvent("preview", self._job.id, preview=partial))

    def cancelled(self) -> bool:
        return self._job._cancel.is_set()

    def output(self, output: Output) -> None:
        # Recorded the moment it is made: a later cancel, failure or crash never loses it.
        if self._job.sink is not None:
            self._job.sink.output(self._job, output)
        self._job.outputs.append(output)
        self._runner._emit(JobEvent("output", self._job.id, result=output))
