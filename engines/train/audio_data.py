"""From a folder of the user's sounds to equal-length training clips, and a report (torch-free).

`scan(folder, params)` walks the folder recursively (sorted, hidden entries left out) and, for
every file, keeps it or says why not: not a WAV, FLAC or OGG file (by content, whatever its
name), empty, corrupt or truncated, too large, silent, or too short once its leading silence is
cut; or an exact duplicate (the same decoded samples) of a clip kept before it. Each kept clip
is made what the model learns from, in this order:

  mono (the channels' mean) -> the model's sample rate (edit.py's polyphase resampler, the one
  generation uses) -> leading silence cut (quieter than 60 dB below the clip's peak, edit.py's
  threshold) -> cut to `length` samples (with a 10 ms fade where it is cut, so no click) or
  padded with silence -> peak- or loudness-normalised.

`prepare(folder, params, out_folder)` is the trainer's hook (engines/train/harness.py): the
clips as float32 (N, length) arrays, split into train / validation with engines.data.split.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from engines.api import ParamError
from engines.audio import edit
from engines.data import DataError, Report, split

FORMATS = ("WAV", "FLAC", "OGG")  # soundfile's names for the containers we read
MAX_FILE_MB = 256.0
CUT_FADE_S = 0.01
PEAK = 10 ** (-1 / 20)  # peak normalisation to -1 dBFS: headroom, and within tanh's range
NORMALIZE = ("peak", "loudness", "none")


def scan(folder: str | Path, params: dict) -> dict:
    """The data report of `folder` for a WaveGAN run (keys of engines.data.Report plus "summary")."""
    _, report = _collect(Path(folder), params)
    return report


def prepare(folder: str | Path, params: dict, out_folder: Path | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(train, val, report): float32 (N, length) clips in [-1, 1]."""
    clips, report = _collect(Path(folder), params)
    train_rows, val_rows = split(len(clips), params.get("val_fraction", 0.1), params.get("seed", 0))
    kept = report["kept"]
    report.update(train=len(train_rows), val=len(val_rows), train_files=[kept[i] for i in train_rows],
                  val_files=[kept[i] for i in val_rows])
    report["summary"] = summary(report)
    stack = np.stack(clips)
    return np.ascontiguousarray(stack[train_rows]), np.ascontiguousarray(stack[val_rows]), report


def summary(report: dict) -> str:
    split_text = f" ({report['train']} train, {report['val']} validation)" if report["train"] else ""
    return (f"{len(report['kept'])} clips kept{split_text}, {len(report['skipped'])} files skipped, "
            f"{len(report['duplicates'])} duplicates removed")


def _collect(folder: Path, params: dict) -> tuple[list[np.ndarray], dict]:
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    rate, length = int(params.get("sample_rate", 16000)), int(params.get("length", 16384))
    normalize = params.get("normalize", "peak")
    if normalize not in NORMALIZE:
        raise DataError(f"normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
    if normalize == "loudness" and length < edit.LOUDNESS_BLOCK_S * rate:
        raise DataError(f"loudness is measured over {edit.LOUDNESS_BLOCK_S:g} s blocks and a clip here is "
                        f"{length / rate:.3g} s: use normalize=peak, or a longer length")
    report = Report(folder=str(folder))
    clips: list[np.ndarray] = []
    seen: dict[str, str] = {}
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        audio, source_rate, reason = _read(path)
        if audio is None:
            report.skipped.append({"file": name, "reason": reason})
            continue
        digest = hashlib.sha256(f"{source_rate} {audio.shape}".encode() + audio.tobytes()).hexdigest()
        if digest in seen:
            report.duplicates.append({"file": name, "duplicate_of": seen[digest], "kind": "exact", "distance": 0})
            continue
        clip, reason = fit_clip(audio, source_rate, rate, length, normalize, params.get("loudness_lufs", -16.0),
                                params.get("min_duration_s", 0.02))
        if clip is None:
            report.skipped.append({"file": name, "reason": reason})
            continue
        if source_rate != rate or audio.shape[1] != 1:
            report.converted.append({"file": name, "from": _describe(source_rate, audio.shape[1]),
                                     "to": _describe(rate, 1)})
        seen[digest] = name
        report.kept.append(name)
        clips.append(clip)
    result = {**report.to_dict()}
    result["summary"] = summary(result)
    if not clips:
        raise DataError(f"no usable sounds in {folder}: {len(report.skipped)} files skipped, "
                        f"{len(report.duplicates)} duplicates; see the report", report)
    return clips, result


def _describe(rate: int, channels: int) -> str:
    return f"{rate} Hz {'mono' if channels == 1 else 'stereo' if channels == 2 else f'{channels} channels'}"


def _files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def _read(path: Path) -> tuple[np.ndarray | None, int, str | None]:
    """(float32 (frames, channels), rate, None) for a readable clip, or (None, 0, why not)."""
    import soundfile

    size = path.stat().st_size
    if size == 0:
        return None, 0, "empty file (0 bytes)"
    if size > MAX_FILE_MB * 1e6:
        return None, 0, f"file too large ({size / 1e6:.0f} MB; the limit is {MAX_FILE_MB:g} MB)"
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError):
        return None, 0, "not a WAV, FLAC or OGG file (soundfile cannot read it as audio)"
    if info.format not in FORMATS:
        return None, 0, f"not a WAV, FLAC or OGG file (it is {info.format_info or info.format})"
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as exc:
        return None, 0, f"corrupt or truncated audio ({exc})"
    if not len(audio):
        return None, 0, "holds no samples"
    if not np.isfinite(audio).all():
        return None, 0, "holds samples that are not numbers (NaN or infinite)"
    return np.ascontiguousarray(audio), int(rate), None


def fit_clip(audio: np.ndarray, source_rate: int, rate: int, length: int, normalize: str = "peak",
             loudness_lufs: float = -16.0, min_duration_s: float = 0.02) -> tuple[np.ndarray | None, str | None]:
    """One clip as the model learns it: float32 (length,), or (None, why not)."""
    mono = edit.set_channels(audio, 1)
    if source_rate != rate:
        mono = edit.resample(mono, source_rate, rate)
    mono = mono[:, 0]
    level = np.abs(mono)
    peak = float(level.max())
    if peak == 0.0:
        return None, "silent (every sample is 0)"
    start = int(np.argmax(level > peak * 10 ** (-edit.TRIM_TOP_DB / 20)))
    sound = mono[start:]
    if len(sound) < min_duration_s * rate:
        return None, (f"too short: {len(sound) / rate:.3f} s of sound after its leading silence "
                      f"(at least {min_duration_s:g} s)")
    out = np.zeros(length, dtype=np.float32)
    if len(sound) > length:
        out[:] = sound[:length]
        fade = min(round(CUT_FADE_S * rate), length)
        out[length - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    else:
        out[:len(sound)] = sound
    if normalize == "loudness":
        try:
            out = edit.normalize_loudness(out[:, None], rate, loudness_lufs)[0][:, 0]
        except ParamError:
            return None, "too quiet to measure its loudness"
    top = float(np.abs(out).max())
    if top == 0.0:
        return None, "silent once cut to the clip length"
    if normalize == "peak" or top > 1.0:  # loudness that would clip is brought back to full scale
        out = out * np.float32((PEAK if normalize == "peak" else 1.0) / top)
    return out.astype(np.float32), None
