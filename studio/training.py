"""Training runs as the app sees them (Qt-free): start, follow, stop, resume, register, list.

A run lives in the project, `runs/RUN_ID/` (layout and event protocol: engines/train/harness.py),
and trains in a child process, `python -m engines.train RUN_DIR`, in a session of its own, so
neither a crash of the trainer nor one of the window takes the other down. Its stdout is one
JSON event a line; `TrainingProcess.events()` yields them as dicts.

- Stop writes the run's `stop` file: the trainer saves a checkpoint and exits; only when it has
  not exited after `timeout` seconds is it killed (the previous checkpoint stays).
- Resume starts the child again on the same folder with `--resume`: it continues from the
  latest checkpoint, bit for bit.
- On a machine with several GPUs (or when the run's `processes` says so) the same child is
  started by `accelerate launch`, one process per GPU, data parallel
  (engines/train/distributed.py); a resume uses the run's process count again.
- When a run finishes, its `model/` is copied into the project's `models/NAME/` (aside, then
  renamed), where studio/models.py lists it as `project:NAME`; `registered.json` in the run
  says where it went, and a `registered` event follows `finished`.
- While it trains the child holds an OS lock on `RUN_DIR/.lock`, which the OS drops when it
  dies, even by SIGKILL: so `list_runs` tells a running run from an interrupted one.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

from engines.api import ParamError
from engines.train import schema
from studio import settings

RUNS = "runs"
STOP_TIMEOUT_S = 60.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class TrainingError(Exception):
    """A run that cannot be started, resumed or found; the message says what to do."""


def runs_folder(project_root: Path) -> Path:
    return Path(project_root) / RUNS


def run_dir(project_root: Path, run_id: str) -> Path:
    folder = runs_folder(project_root) / run_id
    if not re.fullmatch(r"[\w.-]+", run_id) or not (folder / "config.json").is_file():
        raise TrainingError(f"no training run {run_id!r} in {runs_folder(project_root)} "
                            "(`assetsmith train --list` shows the runs)")
    return folder


def create_run(project_root: Path, engine: str, data: str | Path, params: dict, name: str | None = None) -> Path:
    """Check everything that can be checked before a child starts, and write the run's
    config.json. Bad input raises ParamError with the reason. Threads left unset are the
    `threads` setting, when one is set (the default the window and the CLI share)."""
    default_threads = settings.threads()
    if params.get("threads") is None and default_threads:
        params = {**params, "threads": default_threads}
    schema.resolve(engine, params)
    data = Path(data).expanduser()
    if not data.is_dir():
        raise ParamError(f"data folder {data} does not exist or is not a folder; point --data at your images")
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    name = name or f"{engine}-{run_id}"
    if not _NAME.fullmatch(name):
        raise ParamError(f"model name {name!r} must be letters, digits, '.', '_' or '-' (up to 64), "
                         "starting with a letter or digit")
    if (Path(project_root) / "models" / name).exists():
        raise ParamError(f"the project already has a model named {name!r}; choose another name")
    folder = runs_folder(project_root) / run_id
    folder.mkdir(parents=True)
    config = {"run_id": run_id, "engine": engine, "data": str(data.resolve()), "name": name,
              "params": dict(params), "created": time.time()}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    return folder


class TrainingProcess:
    """One child process training one run."""

    def __init__(self, project_root: Path, folder: Path, resume: bool):
        self.project_root = Path(project_root)
        self.folder = folder
        self.run_id = folder.name
        (folder / "stop").unlink(missing_ok=True)  # an old request must not stop the new child
        self.processes = _processes(folder, resume)
        command = launch_command(folder, resume, self.processes)
        session = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt"
                   else {"start_new_session": True})  # Ctrl-C in a terminal reaches the parent only
        with open(folder / "stderr.log", "ab") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL,
                                            text=True, encoding="utf-8", bufsize=1, **session)
        self.model_ref: str | None = None

    @classmethod
    def start(cls, project_root: Path, engine: str, data: str | Path, params: dict,
              name: str | None = None) -> "TrainingProcess":
        return cls(project_root, create_run(project_root, engine, data, params, name), resume=False)

    @classmethod
    def resume(cls, project_root: Path, run_id: str) -> "TrainingProcess":
        folder = run_dir(project_root, run_id)
        if is_running(folder):
            raise TrainingError(f"run {run_id} is still training; stop it before resuming")
        state = _last_state(folder)
        if state == "finished":
            model = _registered(folder) or register_model(project_root, run_id)
            raise TrainingError(f"run {run_id} has finished; its model is {model}")
        return cls(project_root, folder, resume=True)

    def events(self) -> Iterator[dict]:
        """The child's events as they come, then `registered` after `finished`."""
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "log", "run_id": self.run_id, "text": line}
            yield event
            if event.get("event") == "finished":
                self.process.wait()  # the child has written model/ before saying so
                self.model_ref = register_model(self.project_root, self.run_id)
                yield {"event": "registered", "run_id": self.run_id, "step": event.get("step"),
                       "time": round(time.time(), 3), "model": self.model_ref}
        self.process.wait()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ask the run to save and stop; kill it only when it has not stopped in `timeout` s."""
        if self.process.poll() is None:
            (self.folder / "stop").touch()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        if os.name == "nt":
            self.process.kill()
        else:  # the whole session: accelerate's launcher and every training process under it
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
        self.process.wait()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()


def launch_command(folder: Path, resume: bool, processes: int = 1) -> list[str]:
    """The child's command line: the harness itself, or the harness under accelerate's
    launcher (torchrun) when several processes train together."""
    child = ["-m", "engines.train", str(folder)] + (["--resume"] if resume else [])
    if processes == 1:
        return [sys.executable, *child]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines", "1",
            "--num_processes", str(processes), "--mixed_precision", "no", "--dynamo_backend", "no", *child]


def _processes(folder: Path, resume: bool) -> int:
    """How many processes train the run: a resume keeps the count it started with; else the
    `processes` param, or one per GPU when the run may use CUDA and there are several."""
    if resume:
        started = [e for e in read_events(folder) if e.get("event") == "started"]
        return int(started[-1].get("processes", 1)) if started else 1
    params = json.loads((folder / "config.json").read_text())["params"]
    if params.get("processes"):
        return int(params["processes"])
    if str(params.get("device", "auto")) not in ("auto", "cuda"):
        return 1
    from engines import devices

    return max(1, devices.cuda_count())


def register_model(project_root: Path, run_id: str) -> str:
    """Copy a finished run's model into the project's models/ and return its reference."""
    folder = run_dir(project_root, run_id)
    done = _registered(folder)
    if done:
        return done
    model = folder / "model"
    if not (model / "model.json").is_file():
        raise TrainingError(f"run {run_id} has no finished model yet; resume it to finish training")
    name = json.loads((folder / "config.json").read_text())["name"]
    models = Path(project_root) / "models"
    models.mkdir(exist_ok=True)
    target, n = models / name, 1
    while target.exists():  # a model of that name appeared since the run started: keep both
        n += 1
        target = models / f"{name}-{n}"
    tmp = models / f".tmp-{run_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model, tmp)
    tmp.rename(target)
    ref = f"project:{target.name}"
    (folder / "registered.json").write_text(json.dumps({"model": ref, "time": time.time()}))
    return ref


def _registered(folder: Path) -> str | None:
    try:
        return json.loads((folder / "registered.json").read_text())["model"]
    except (OSError, ValueError, KeyError):
        return None


def is_running(folder: Path) -> bool:
    """Whether a trainer holds the run's lock (a dead one never does)."""
    lock = folder / ".lock"
    if not lock.exists():
        return False
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; trust the log
        return _last_state(folder) == "running"
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def read_events(folder: Path) -> list[dict]:
    """The run's events so far, from its events.jsonl (a line cut short by a kill is skipped)."""
    events = []
    try:
        lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            pass  # a line cut short by a kill
    return events


def _last_state(folder: Path, events: list[dict] | None = None) -> str:
    for event in reversed(events if events is not None else read_events(folder)):
        if event.get("event") in ("finished", "stopped", "failed"):
            return event["event"]
        if event.get("event") == "started":
            break
    return "running" if events or (folder / "events.jsonl").exists() else "created"


def resume_following(project_root: Path, run_id: str) -> tuple["TrainingProcess", list[dict], str]:
    """Resume a run for a window that draws it: the process, the events it had written before
    (read before the child starts, so no event is both in them and on the pipe; `started` left
    out: the child says it again) and its trainer."""
    folder = run_dir(project_root, run_id)
    try:
        engine = json.loads((folder / "config.json").read_text())["engine"]
    except (OSError, ValueError, KeyError, TypeError):
        engine = ""  # the trainer itself says what is wrong with the run
    history = [e for e in read_events(folder) if e.get("event") != "started"]
    return TrainingProcess.resume(project_root, run_id), history, engine


def describe_run(folder: Path) -> dict:
    """A run as the Train workspace and `assetsmith train --list` show it."""
    config = json.loads((folder / "config.json").read_text())
    events = read_events(folder)
    state = _last_state(folder, events)
    running = is_running(folder)
    if running:
        state = "running"
    elif state == "running":
        state = "interrupted"  # it started and died without a word: resume continues it
    started = next((e for e in reversed(events) if e.get("event") == "started"), {})
    metrics = next((e["metrics"] for e in reversed(events) if e.get("event") == "eval"), None)
    samples = [e["path"] for e in events if e.get("event") == "sample"]
    return {
        "run_id": config["run_id"], "engine": config["engine"], "name": config["name"], "data": config["data"],
        "created": config.get("created"), "state": state, "params": config.get("params") or {},
        "step": max((e.get("step", 0) for e in events), default=0),
        "total_steps": started.get("total_steps"), "metrics": metrics,
        "last_sample": samples[-1] if samples else None, "model": _registered(folder),
        "error": next((e["error"] for e in reversed(events) if e.get("event") == "failed"), None)
        if state == "failed" else None,
    }


def list_runs(project_root: Path) -> list[dict]:
    """The project's runs, newest first."""
    root = runs_folder(project_root)
    folders = [p for p in root.iterdir() if (p / "config.json").is_file()] if root.is_dir() else []
    return [describe_run(p) for p in sorted(folders, key=lambda p: p.name, reverse=True)]
