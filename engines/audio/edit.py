"""Post-processing of a clip: the steps that make generated audio ready for a game or an ad.

Every audio engine takes these as parameters (`EDIT_PARAMS`) and applies them after
generation with `apply`, so they appear in the forms, the CLI and the recipe, and a re-make
repeats them exactly. The steps are plain numpy on (frames, channels) float32 arrays, with
well-kept libraries where the craft is theirs: scipy's polyphase filter for resampling,
pyloudnorm's ITU-R BS.1770-4 meter for loudness.

Order (fixed, so a recipe means one result): sample rate, channels, trim, loop, fades,
loudness last (every earlier step changes the loudness).
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from engines.api import Param, ParamError

TRIM_TOP_DB = 60.0  # as librosa.effects.trim: silence is 60 dB below the clip's peak
LOUDNESS_BLOCK_S = 0.4  # BS.1770's gating block: a shorter clip has no integrated loudness

INIT_AUDIO = Param(
    "init_audio", "file", None,
    help="Re-process this clip instead of generating: only the post-processing steps run "
         "(assetsmith reprocess uses it, with the clip as the parent).")
EDIT_PARAMS = (
    Param("trim_silence", "bool", False,
          help=f"Cut leading and trailing silence (quieter than {TRIM_TOP_DB:g} dB below the peak)."),
    Param("fade_in_s", "float", 0.0, min=0.0, max=60.0, help="Fade in over this many seconds."),
    Param("fade_out_s", "float", 0.0, min=0.0, max=60.0, help="Fade out over this many seconds."),
    Param("loudness_lufs", "float", None, min=-70.0, max=0.0,
          help="Normalise the integrated loudness to this level (e.g. -16 for games, -23 for broadcast)."),
    Param("loop_crossfade_s", "float", 0.0, min=0.0, max=60.0,
          help="Make a seamless loop: crossfade the tail into the head over this many seconds."),
    Param("sample_rate", "int", None, min=8000, max=192000, help="Resample to this rate; the model's own when unset."),
    Param("channels", "int", None, min=1, max=2, help="1 mono, 2 stereo; the model's own when unset."),
)
EDIT_NAMES = tuple(p.name for p in EDIT_PARAMS)


def as_frames(samples) -> np.ndarray:
    """Any clip as a C-contiguous float32 (frames, channels) array."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ParamError(f"audio must be (frames,) or (frames, channels), got shape {array.shape}")
    return np.ascontiguousarray(array)


def check(params: dict) -> None:
    """Refuse combinations that cannot mean one thing, before anything is generated."""
    if params.get("loop_crossfade_s") and (params.get("fade_in_s") or params.get("fade_out_s")):
        raise ParamError("a seamless loop has no fade in or out (it would be heard at every repeat): "
                         "use loop_crossfade_s or fades, not both")


def apply(samples, sample_rate: int, params: dict) -> tuple[np.ndarray, int, dict]:
    """Run the steps in `params` on a clip; returns (samples, sample_rate, facts) where facts
    are what the steps measured (for the recipe's runtime)."""
    check(params)
    audio = as_frames(samples)
    facts: dict = {}
    if params.get("sample_rate") and params["sample_rate"] != sample_rate:
        audio, sample_rate = resample(audio, sample_rate, params["sample_rate"]), params["sample_rate"]
    if params.get("channels"):
        audio = set_channels(audio, params["channels"])
    if params.get("trim_silence"):
        before = len(audio)
        audio = trim_silence(audio)
        facts["trimmed_s"] = round((before - len(audio)) / sample_rate, 6)
    if params.get("loop_crossfade_s"):
        audio = make_loop(audio, sample_rate, params["loop_crossfade_s"])
    if params.get("fade_in_s") or params.get("fade_out_s"):
        audio = fade(audio, sample_rate, params.get("fade_in_s") or 0.0, params.get("fade_out_s") or 0.0)
    if params.get("loudness_lufs") is not None:
        audio, measured = normalize_loudness(audio, sample_rate, params["loudness_lufs"])
        facts["loudness_before_lufs"] = round(measured, 3)
    if len(audio):
        # max and -min: the same peak as abs().max() without a clip-sized temporary.
        peak = max(float(audio.max()), -float(audio.min()))
        facts["peak_dbfs"] = round(float(20 * np.log10(max(peak, 1e-10))), 3)
    return np.ascontiguousarray(audio, dtype=np.float32), int(sample_rate), facts


def resample(audio: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy's resample_poly, anti-aliased), exact rational ratio."""
    from scipy.signal import resample_poly

    g = gcd(int(rate), int(new_rate))
    return resample_poly(audio, new_rate // g, rate // g, axis=0).astype(np.float32)


def set_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """Mono to stereo copies the channel; stereo to mono averages the two."""
    have = audio.shape[1]
    if have == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=1, keepdims=True)
    if have == 1:
        return np.repeat(audio, channels, axis=1)
    raise ParamError(f"cannot turn {have} channels into {channels}: only mono and stereo are supported")


def trim_silence(audio: np.ndarray, top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """Cut the frames before the first and after the last sample louder than the threshold."""
    level = np.abs(audio).max(axis=1)
    peak = float(level.max()) if len(level) else 0.0
    if peak == 0.0:
        raise ParamError("the clip is silent: trim_silence would leave nothing of it")
    loud = np.flatnonzero(level > peak * 10 ** (-top_db / 20))
    return audio[loud[0]:loud[-1] + 1]


def fade(audio: np.ndarray, rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Linear fades in amplitude (as Audacity's and most editors' default)."""
    n_in, n_out = round(fade_in_s * rate), round(fade_out_s * rate)
    if n_in + n_out > len(audio):
        raise ParamError(f"fades of {fade_in_s:g} s + {fade_out_s:g} s are longer than the clip "
                         f"({len(audio) / rate:.3g} s): shorten them")
    out = audio.copy()
    if n_in:
        out[:n_in] *= np.linspace(0.0, 1.0, n_in, endpoint=False, dtype=np.float32)[:, None]
    if n_out:
        out[len(out) - n_out:] *= np.linspace(1.0, 0.0, n_out + 1, dtype=np.float32)[1:, None]
    return out


def make_loop(audio: np.ndarray, rate: int, crossfade_s: float) -> np.ndarray:
    """A clip that repeats without a seam: its last `crossfade_s` is mixed into its head
    (equal-power, for material that is not phase-aligned) and cut from its tail. The new
    head starts with the sample that followed the new end in the original, so the jump from
    the end back to the start is one the original itself made."""
    n = round(crossfade_s * rate)
    if n < 1 or 2 * n > len(audio):
        raise ParamError(f"loop_crossfade_s {crossfade_s:g} s does not fit a {len(audio) / rate:.3g} s clip: "
                         "it must be at most half the clip and at least one sample")
    t = (np.arange(n, dtype=np.float64) / n)[:, None]
    head = audio[:n] * np.sin(t * np.pi / 2) + audio[len(audio) - n:] * np.cos(t * np.pi / 2)
    return np.concatenate([head.astype(np.float32), audio[n:len(audio) - n]])


def loudness(audio: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS (pyloudnorm's BS.1770-4 meter)."""
    import pyloudnorm

    if len(audio) < LOUDNESS_BLOCK_S * rate:
        raise ParamError(f"the clip is {len(audio) / rate:.3g} s long; loudness is measured over "
                         f"{LOUDNESS_BLOCK_S:g} s blocks, so it must be at least that long")
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64)))


def normalize_loudness(audio: np.ndarray, rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """A gain that brings the integrated loudness to `target_lufs`; returns (audio, measured)."""
    measured = loudness(audio, rate)
    if not np.isfinite(measured):
        raise ParamError("the clip is silent (or nearly): it has no loudness to normalise")
    gain = 10.0 ** ((target_lufs - measured) / 20.0)
    return (audio * np.float32(gain)).astype(np.float32), measured


def read_clip(path: str | Path) -> tuple[np.ndarray, int]:
    """A clip from a WAV, FLAC or OGG file as (float32 (frames, channels), sample rate)."""
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise ParamError(f"cannot read the audio file {Path(path).name} ({exc}); "
                         "give a WAV, FLAC or OGG file") from None
    if not len(samples):
        raise ParamError(f"the audio file {Path(path).name} holds no samples")
    return np.ascontiguousarray(samples), int(rate)
