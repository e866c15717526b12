"""A data folder as the Train workspace shows it before a run (Qt-free; called off the GUI
thread): the trainer's own report of what is kept, skipped and why, and a few samples.

Images go through engines.data.prepare with the run's size, fit and duplicate settings, and
each sample carries its caption as the LoRA trainer reads it (engines.data.read_captions);
text and audio folders through the trainer's scanner (engines/train/schema.py `scan`); a
text sample is the first lines of a document, an audio sample its length and waveform peaks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from engines.api import validate
from engines.data import DataError, DataOptions, prepare, read_captions
from engines.train import schema

SAMPLES = 6  # shown under the report
TEXT_CHARS = 400  # of a text sample: its first lines
PEAK_COLUMNS = 72  # of an audio sample's waveform (the report's thumbnail width)
AUDIO_SECONDS = 10  # of an audio sample read for its waveform


def settings(engine: str, params: Mapping[str, Any]) -> dict:
    """The run's values as the scan needs them: schema.resolve without requiring a base (the
    folder can be looked at before the base model is chosen)."""
    values = {p.name: p.default for p in schema.all_params(engine)}
    values.update(schema.spec(engine).defaults)
    values.update(validate(schema.all_params(engine), params))
    return values


def scan(engine: str, folder: str | Path, params: Mapping[str, Any]) -> dict:
    """{"data": kind, "report": report dict (with "summary"), "samples": [{"file", "path", "caption"}]}.
    DataError (with `.report` as a dict, when there is one) for a folder with nothing to train on."""
    path = Path(folder).expanduser()
    kind = schema.spec(engine).data
    if not path.is_dir():
        raise DataError(f"{folder} does not exist or is not a folder; choose the folder of your {kind}")
    values = settings(engine, params)
    if kind != "images":
        report = schema.scan(engine, path, values)
        return {"data": kind, "report": report, "samples": _file_samples(path, _names(report.get("kept")), kind)}
    options = DataOptions(resolution=values["resolution"], channels=values["channels"], fit=values["fit"],
                          near_duplicate_distance=values["near_duplicate_distance"],
                          val_fraction=values["val_fraction"], split_seed=values["seed"])
    try:
        found = prepare(path, options).report
    except DataError as exc:
        raise DataError(str(exc), _as_dict(exc.report)) from None
    report = _as_dict(found)
    files = report["kept"][:SAMPLES]
    template = values.get("caption_template")
    captions = read_captions(path, files, template) if template is not None else [None] * len(files)
    samples = [{"file": f, "path": str(path / f), "caption": c} for f, c in zip(files, captions)]
    return {"data": kind, "report": report, "samples": samples}


def _as_dict(report) -> dict | None:
    if report is None or isinstance(report, dict):
        return report
    return {**report.to_dict(), "summary": report.summary()}


def _names(kept) -> list[str]:
    return [k if isinstance(k, str) else str(k.get("file", "")) for k in kept] if isinstance(kept, list) else []


def _file_samples(folder: Path, files: list[str], kind: str) -> list[dict]:
    samples = []
    for name in files[:SAMPLES]:
        caption = None
        sample = {"file": name, "path": str(folder / name)}
        if kind == "text":
            try:
                with open(folder / name, encoding="utf-8", errors="replace") as f:
                    caption = f.read(TEXT_CHARS).strip()
            except OSError as exc:
                caption = f"cannot read: {exc}"
        elif kind == "audio":
            caption, sample["peaks"] = _audio_sample(folder / name)
        samples.append({**sample, "caption": caption})
    return samples


def _audio_sample(path: Path):
    """A clip's caption (name, length, rate, channels) and the (min, max) peaks of its first
    seconds; no peaks when it cannot be read (the scan has said why)."""
    import soundfile

    from studio.player import peaks

    try:
        with soundfile.SoundFile(path) as f:
            seconds, rate, channels = f.frames / f.samplerate, f.samplerate, f.channels
            data = f.read(min(f.frames, rate * AUDIO_SECONDS), dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile's LibsndfileError is a RuntimeError
        return f"{path.name}: cannot read: {exc}", None
    layout = {1: "mono", 2: "stereo"}.get(channels, f"{channels} channels")
    return f"{path.name} · {seconds:.2f} s · {rate} Hz {layout}", peaks(data, PEAK_COLUMNS)
