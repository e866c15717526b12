"""The training harness: the loop every trainer runs in, as its own child process.

    python -m engines.train RUN_DIR [--resume]

The parent (studio/training.py) makes RUN_DIR (in a project: `runs/RUN_ID/`) and writes
`config.json` there: {"run_id", "engine", "data": folder, "name", "params": {...}} with the
parameters already checked against engines/train/schema.py. The run folder then holds:

    config.json               what to train (written by the parent, never changed)
    events.jsonl              every event below, one JSON object a line, appended
    data/dataset.safetensors  the prepared images (uint8 train / val): a resume never re-scans
    data/report.json          what was kept, skipped and why, duplicates (engines/data.py)
    checkpoints/step-N/       state.safetensors + state.json (engines/train/checkpoint.py)
    samples/step-N.png        fixed-seed sample grids (a trainer with write_sample: its own, e.g. step-N.txt)
    model/                    the finished model, in its engine's format (model.json + weights)
    stop                      made by the parent to ask the run to stop (checked every step)
    .lock                     held (OS lock) by the trainer while it runs
    stderr.log                the child's stderr (warnings, a crash's traceback), kept by the parent

Protocol. Each event is one line on stdout and in events.jsonl, a JSON object with at least
"event", "run_id", "step" and "time" (Unix seconds):

    started     total_steps, resumed (bool), params, device, threads
    data        summary, kept, skipped, duplicates, train, val, report (path)
    step        losses {name: value}, epoch, images_per_s
    sample      path (relative to the run folder)
    eval        metrics {name: value}, split ("validation" or "train" when none was held out)
    checkpoint  path
    stopped     checkpoint: asked to stop (stop file, SIGTERM or SIGINT); state saved first
    finished    model (path of model/), metrics
    failed      error (one line for the user), kind ("bad-input" or "crash")

Data that is not images. A trainer class that learns from something else (text, audio) says so
with two hooks, and the loop stays the same:

    Trainer.prepare(data_folder, params, out_folder) -> (train, val, report)   (static)
        numpy arrays of equal-shaped rows (token blocks, clips) and the report dict
        ({"summary", "kept", "skipped", "duplicates", "train", "val", ...}); run once on a
        fresh start, in the child, before the trainer is built. Anything else it needs again
        (a trained tokenizer) it writes into out_folder (= data/), which a resume keeps.
    trainer.write_sample(folder, step, seed) -> Path
        writes the fixed-seed samples of this step (text, audio) into folder (= samples/).

Such a trainer's step/evaluate get the rows as CPU tensors (torch.from_numpy), unaugmented.

Exit status: 0 finished or stopped, 1 crashed, 2 bad input (parameters, data folder). A
resume continues from the latest checkpoint with the same weights, optimiser moments, RNG
states, epoch order and position, so stop + resume gives the bits an uninterrupted run gives
(same device and thread count, which are fixed for the run at its start).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from engines.api import EngineError, ParamError
from engines.data import DataError, DataOptions

SAMPLE_GRID = 16  # images in a sample grid (4 x 4)


class Emitter:
    """Writes each event to events.jsonl and stdout; a parent that went away (closed pipe)
    never stops the run, which goes on writing its own log."""

    def __init__(self, run_dir: Path, run_id: str, stdout=sys.stdout, log: bool = True):
        self.run_id = run_id
        self._log = open(run_dir / "events.jsonl", "a", encoding="utf-8") if log else open(os.devnull, "w")
        self._stdout = stdout
        self.step = 0

    def __call__(self, event: str, **fields) -> dict:
        record = {"event": event, "run_id": self.run_id, "step": fields.pop("step", self.step),
                  "time": round(time.time(), 3), **fields}
        line = json.dumps(record, ensure_ascii=False)
        self._log.write(line + "\n")
        self._log.flush()
        if self._stdout is not None:
            try:
                self._stdout.write(line + "\n")
                self._stdout.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._stdout = None
        return record

    def close(self) -> None:
        self._log.close()


class StopFlag:
    """Set by the stop file or a signal; polled after every step."""

    def __init__(self, run_dir: Path):
        self.file = run_dir / "stop"
        self.signalled = False

    def __call__(self) -> bool:
        return self.signalled or self.file.exists()

    def install(self) -> None:
        def handler(signum, frame):
            self.signalled = True

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.train", description="Run one training run.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if hasattr(os, "nice"):
        os.nice(5)  # below the window that started it: training uses every core, the window stays quick
    try:
        config = read_config(run_dir)
    except ParamError as exc:
        print(json.dumps({"event": "failed", "run_id": None, "step": 0, "time": time.time(),
                          "error": str(exc), "kind": "bad-input"}), flush=True)
        return 2
    if _rank() != 0:  # a second process of a data-parallel run: the lead holds the lock and writes
        return _follow(run_dir, config, args.resume)
    lock = _lock(run_dir)
    if lock is None:
        print(json.dumps({"event": "failed", "run_id": config["run_id"], "step": 0, "time": time.time(),
                          "error": "this run is already training in another process", "kind": "bad-input"}),
              flush=True)
        return 2
    emit = Emitter(run_dir, config["run_id"])
    stop = StopFlag(run_dir)
    stop.install()
    try:
        run(run_dir, config, resume=args.resume, emit=emit, should_stop=stop)
        return 0
    except (ParamError, DataError, EngineError) as exc:
        emit("failed", error=str(exc), kind="bad-input")
        return 2
    except Exception as exc:  # a crash is reported, the last checkpoint stays for a resume
        emit("failed", error=f"{type(exc).__name__}: {exc}", kind="crash", traceback=traceback.format_exc())
        return 1
    finally:
        emit.close()
        lock.close()


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))  # set by accelerate launch (torchrun) for each process


def _follow(run_dir: Path, config: dict, resume: bool) -> int:
    """A process of a data-parallel run other than the lead: it trains its share and says
    nothing (a crash goes to stderr, and the launcher then ends the run)."""
    stop = StopFlag(run_dir)
    stop.install()
    run(run_dir, config, resume=resume, emit=Emitter(run_dir, config["run_id"], stdout=None, log=False),
        should_stop=stop)
    return 0


def _lock(run_dir: Path):
    """An OS lock on RUN_DIR/.lock, held while this process lives (the OS drops it when the
    process dies, however it dies): how the parent tells a running run from a dead one."""
    handle = open(run_dir / ".lock", "a")
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the event log tells the state
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def read_config(run_dir: Path) -> dict:
    try:
        config = json.loads((run_dir / "config.json").read_text())
    except OSError:
        raise ParamError(f"{run_dir} is not a training run (no config.json)") from None
    except ValueError:
        raise ParamError(f"{run_dir}/config.json is not valid JSON") from None
    for key in ("run_id", "engine", "data", "params"):
        if key not in config:
            raise ParamError(f"{run_dir}/config.json has no {key!r}")
    return config


def run(run_dir: Path, config: dict, resume: bool = False, emit: Callable | None = None,
        should_stop: Callable[[], bool] = lambda: False) -> str:
    """Train to the end or to a stop; returns "finished" or "stopped"."""
    import importlib

    import torch

    from engines import devices
    from engines.train import checkpoint, schema
    from engines.train.augment import augment

    emit = emit or Emitter(run_dir, config["run_id"], stdout=None)
    params = schema.resolve(config["engine"], config["params"])
    latest = checkpoint.latest(run_dir / "checkpoints") if resume else None
    saved = checkpoint.load(latest) if latest else None
    runtime = saved[1]["runtime"] if saved else {}
    try:
        device = runtime.get("device") or devices.resolve(params["device"])
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    threads = runtime.get("threads") or params["threads"] or torch.get_num_threads()
    devices.set_threads(threads)
    dp = None
    processes = runtime.get("processes", 1)
    if _world_size() > 1 or processes > 1:
        if saved and processes != _world_size():
            raise EngineError(f"this run trained with {processes} processes; resume it with as many")
        from engines.train.distributed import DataParallel

        dp = DataParallel(device)  # every process of the run gets here: the group forms
        device, processes = dp.device, dp.size
    lead = dp is None or dp.lead

    module, _, class_name = schema.spec(config["engine"]).trainer.partition(":")
    trainer_cls = getattr(importlib.import_module(module), class_name)
    images = not hasattr(trainer_cls, "prepare")  # else rows of its own kind (see the docstring)
    if not lead:
        dp.state.wait_for_everyone()  # the lead prepares the data once; the others read it back
    train, val, report, captions = _dataset(run_dir, config, params, fresh=saved is None and lead,
                                            prepare=None if images else trainer_cls.prepare)
    if dp is not None and lead:
        dp.state.wait_for_everyone()
    # Trainers that learn from text (LoRA) get each image's caption with it.
    text = (lambda split, rows: {"captions": [captions[split][i] for i in rows]}) if captions else (lambda *_: {})
    generator = torch.Generator("cpu").manual_seed(params["seed"])
    torch.manual_seed(params["seed"])  # anything a library draws from torch's own RNG follows the seed too
    trainer = trainer_cls(params, device, generator)
    loop = _Loop(train.shape[0], min(params["batch_size"], train.shape[0]))
    if saved:
        tensors, info = saved
        trainer.load_state(tensors, info["trainer"])
        generator.set_state(tensors["harness.rng"])
        torch.set_rng_state(tensors["harness.torch_rng"])
        loop.restore(info["harness"], tensors.get("harness.order"))
    emit.step = loop.step
    emit("started", total_steps=params["steps"], resumed=saved is not None, params=params, device=device,
         threads=threads, engine=config["engine"], processes=processes)
    if saved is None:
        emit("data", summary=report["summary"], kept=len(report["kept"]), skipped=len(report["skipped"]),
             duplicates=len(report["duplicates"]), train=report["train"], val=report["val"], report="data/report.json")

    def save_checkpoint() -> Path | None:
        tensors, info = trainer.state()
        if dp is not None:
            dp.check_in_step()  # every process holds the same weights, or the run stops here
            if not lead:
                return None
        tensors.update({"harness.rng": generator.get_state(), "harness.torch_rng": torch.get_rng_state()})
        if loop.order is not None:
            tensors["harness.order"] = loop.order
        path = checkpoint.save(run_dir / "checkpoints", loop.step, tensors,
                               {"trainer": info, "harness": loop.state(),
                                "runtime": {"device": device, "threads": threads, "processes": processes}},
                               keep=params["keep_checkpoints"])
        emit("checkpoint", path=path.relative_to(run_dir).as_posix())
        return path

    eval_set, split = (val, "validation") if len(val) >= 2 else (train[:256], "train")
    eval_real = _to_tensor(eval_set) if images else torch.from_numpy(eval_set)
    eval_text = text("val" if split == "validation" else "train", range(len(eval_set)))
    sample_text = text("train", range(min(len(train), getattr(trainer, "sample_count", SAMPLE_GRID))))
    metrics: dict = {}
    saved_at = loop.step if saved else None
    evaluated_at = sampled_at = None
    window = (time.perf_counter(), loop.step)
    try:
        while loop.step < params["steps"]:
            stop = should_stop()
            if dp is not None:
                stop = dp.any(stop)  # every process stops after the same step
            if stop:
                path = save_checkpoint() if saved_at != loop.step else latest_or(run_dir)
                if lead:
                    emit("stopped", checkpoint=path.relative_to(run_dir).as_posix() if path else None)
                return "stopped"
            rows = loop.next_batch(generator).numpy()
            draws = generator
            if dp is not None:
                rows, draws = dp.shard(rows), dp.step_generator(generator)
            if images:
                batch = _to_tensor(train[rows])
                batch = augment(batch, draws, params["flips"], params["crops"], params["color_jitter"]).to(device)
            else:
                batch = torch.from_numpy(train[rows])
            losses = trainer.step(batch, draws, **text("train", rows))
            if dp is not None:
                losses = dp.mean(losses)
            if lead:
                emit.step = loop.step
                start, first = window
                elapsed = time.perf_counter() - start
                emit("step", losses=losses, epoch=loop.epoch,
                     images_per_s=round((loop.step - first) * loop.batch / elapsed, 2) if elapsed > 0 else None)
                window = (time.perf_counter(), loop.step)
                if params["sample_every"] and loop.step % params["sample_every"] == 0:
                    _sample_grid(run_dir, trainer, params, loop.step, emit, sample_text)
                    sampled_at = loop.step
                if params["eval_every"] and loop.step % params["eval_every"] == 0:
                    metrics = trainer.evaluate(eval_real, params["seed"], **eval_text)
                    emit("eval", metrics=metrics, split=split)
                    evaluated_at = loop.step
            if loop.step % params["checkpoint_every"] == 0:
                save_checkpoint()
                saved_at = loop.step
        if saved_at != loop.step:
            save_checkpoint()
    finally:
        if dp is not None:
            dp.close(wait_for_peers=sys.exc_info()[0] is None)
    if not lead:
        return "finished"
    if sampled_at != loop.step:
        _sample_grid(run_dir, trainer, params, loop.step, emit, sample_text)
    if evaluated_at != loop.step:
        metrics = trainer.evaluate(eval_real, params["seed"], **eval_text)
        emit("eval", metrics=metrics, split=split)
    _export(run_dir, trainer, config, params, report, metrics, loop.step)
    emit("finished", model="model", metrics=metrics)
    return "finished"


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def latest_or(run_dir: Path) -> Path | None:
    from engines.train import checkpoint

    return checkpoint.latest(run_dir / "checkpoints")


class _Loop:
    """Where the run is: step, epoch, and the position in the epoch's shuffled order."""

    def __init__(self, size: int, batch: int):
        self.size, self.batch = size, batch
        self.step = self.epoch = self.position = 0
        self.order = None

    def next_batch(self, generator):
        import torch

        if self.order is None or self.position + self.batch > self.size:  # drop the incomplete tail
            self.order = torch.randperm(self.size, generator=generator)
            self.position = 0
            self.epoch += 1
        indices = self.order[self.position:self.position + self.batch]
        self.position += self.batch
        self.step += 1
        return indices

    def state(self) -> dict:
        return {"step": self.step, "epoch": self.epoch, "position": self.position, "size": self.size,
                "batch": self.batch}

    def restore(self, state: dict, order) -> None:
        if (state["size"], state["batch"]) != (self.size, self.batch):
            raise EngineError("the checkpoint does not match the run's prepared data; start a new run")
        self.step, self.epoch, self.position, self.order = state["step"], state["epoch"], state["position"], order


def _dataset(run_dir: Path, config: dict, params: dict, fresh: bool, prepare: Callable | None = None):
    """The run's rows (images, or what the trainer's own `prepare` makes): prepared from the
    folder on a fresh start, read back on a resume."""
    from safetensors.numpy import load_file, save_file

    from engines.data import read_captions

    folder = run_dir / "data"
    if not fresh and (folder / "dataset.safetensors").is_file():
        arrays = load_file(folder / "dataset.safetensors")
        captions = folder / "captions.json"
        return (arrays["train"], arrays["val"], json.loads((folder / "report.json").read_text()),
                json.loads(captions.read_text()) if captions.is_file() else None)
    folder.mkdir(parents=True, exist_ok=True)
    if prepare is not None:
        train, val, report = prepare(Path(config["data"]), params, folder)
        save_file({"train": train, "val": val}, folder / "dataset.safetensors")
        (folder / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
        return train, val, report, None
    from engines.data import prepare as prepare_images

    options = DataOptions(resolution=params["resolution"], channels=params["channels"], fit=params["fit"],
                          near_duplicate_distance=params["near_duplicate_distance"],
                          val_fraction=params["val_fraction"], split_seed=params["seed"])
    data = prepare_images(config["data"], options)
    save_file({"train": data.train, "val": data.val}, folder / "dataset.safetensors")
    report = {**data.report.to_dict(), "summary": data.report.summary()}
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    captions = None
    if "caption_template" in params:  # read now and kept: a resume sees the same captions
        captions = {split: read_captions(config["data"], report[f"{split}_files"], params["caption_template"])
                    for split in ("train", "val")}
        (folder / "captions.json").write_text(json.dumps(captions, indent=1, ensure_ascii=False))
    return data.train, data.val, report, captions


def _to_tensor(images):
    from engines.data import to_tensor

    return to_tensor(images)


def _sample_grid(run_dir: Path, trainer, params: dict, step: int, emit, text: dict) -> None:
    import numpy as np
    from PIL import Image

    from engines.image.gan import to_uint8

    if hasattr(trainer, "write_sample"):  # text, audio: the trainer writes its own kind of sample
        folder = run_dir / "samples"
        folder.mkdir(exist_ok=True)
        path = trainer.write_sample(folder, step, params["seed"])
        emit("sample", path=Path(path).relative_to(run_dir).as_posix())
        return

    count = getattr(trainer, "sample_count", SAMPLE_GRID)
    images = to_uint8(trainer.sample(count, params["seed"], **text))
    side = int(count ** 0.5)
    rows = [np.concatenate(list(images[r * side:(r + 1) * side]), axis=1) for r in range(side)]
    folder = run_dir / "samples"
    folder.mkdir(exist_ok=True)
    path = folder / f"step-{step:08d}.png"
    tmp = folder / f".tmp-{path.name}"
    Image.fromarray(np.concatenate(rows, axis=0)).save(tmp, format="PNG")
    tmp.replace(path)
    emit("sample", path=path.relative_to(run_dir).as_posix())


def _export(run_dir: Path, trainer, config: dict, params: dict, report: dict, metrics: dict, step: int) -> None:
    """The finished model into model/, whole or not at all (written aside, then renamed)."""
    import shutil

    final, tmp = run_dir / "model", run_dir / ".tmp-model"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    trainer.export(tmp, {"run_id": config["run_id"], "steps": step, "params": params, "data": report["summary"],
                         "metrics": metrics})
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
