"""Our audio engines over the bare transformers call, and post-processing throughput.

1. MusicGen, VITS and Bark: `engine.generate` (schema check, per-token progress/cancel hook
   for MusicGen, per-step hooks on Bark's sub-models, reading Bark's voice preset, the recipe,
   the edit pass that measures the peak) over the bare transformers call with the same model,
   prompt and seed (`model.generate(**inputs)` after torch.manual_seed; `model(**inputs)` for
   VITS; `model.generate(**processor(text, voice_preset=...))` for Bark, its inputs made
   once). Tiny models built locally, both warm, interleaved, medians. Goal <= 1.03.
2. Post-processing throughput: seconds of audio processed per second of wall time for each
   step of engines/audio/edit.py on 60 s of 44.1 kHz stereo noise with silent padding, against
   a soundfile write of the same audio to an in-memory 16-bit WAV (what every clip goes through
   on its way into the project anyway), measured in the same run.
Torch runs on one thread unless --threads says otherwise: these tiny models gain nothing from
a second one, and with two threads on a shared 2-core machine every run is hostage to the
other processes' load (OpenMP's barrier waits: runs 10x slower were seen, on either side).
Usage: .venv/bin/python bench/bench_audio.py [--threads N]
"""
import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoProcessor, AutoTokenizer, BarkModel, MusicgenForConditionalGeneration, VitsModel,
)

from engines.api import NullEvents, Request  # noqa: E402
from engines.audio import edit  # noqa: E402
from engines.audio.musicgen import MusicGenEngine, _Watch  # noqa: E402
from engines.audio.speech import SpeechEngine  # noqa: E402
from engines.tiny_models import build_tiny_bark, build_tiny_musicgen, build_tiny_vits  # noqa: E402

MUSIC_PROMPT = "calm chiptune loop with soft drums"
# One sentence, so our engine makes exactly the bare call (no sentence splitting, no pauses).
SPEECH_TEXT = "the old lighthouse keeper says the storm will pass before the ships come home tonight"
BARK_TEXT, BARK_VOICE = "hello there, the gate is open.", "v2/en_speaker_0"
MUSIC_ROUNDS, SPEECH_ROUNDS, BARK_ROUNDS, EDIT_ROUNDS = 15, 21, 11, 5
OUTSIDE_CALLS, HOOK_CALLS = 9, 1000
EDIT_SECONDS, EDIT_RATE = 60, 44100


def interleaved(variants: dict, rounds: int) -> dict:
    """Median seconds of each variant, run in turn `rounds` times after one warm-up each."""
    times = interleaved_times(variants, rounds)
    return {name: statistics.median(t) for name, t in times.items()}


def interleaved_times(variants: dict, rounds: int) -> dict:
    for fn in variants.values():
        fn()  # warm
    times = {name: [] for name in variants}
    for i in range(rounds):
        # A B, then B A: whichever goes first in a round (cold caches) is not always the same.
        for name, fn in (list(variants.items()) if i % 2 == 0 else list(variants.items())[::-1]):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def paired(variants: dict, rounds: int) -> dict:
    """Medians of ours and bare, and the median of the per-round ratios: a round's two runs
    are back to back, so a burst of load from another process on this shared machine skews
    one round's ratio rather than one side's median."""
    times = interleaved_times(variants, rounds)
    ratios = [o / b for o, b in zip(times["ours"], times["bare"])]
    return {"ours": statistics.median(times["ours"]), "bare": statistics.median(times["bare"]),
            "paired": statistics.median(ratios)}


def bench_musicgen(folder: Path) -> tuple[dict, int]:
    engine = MusicGenEngine()
    engine.load(str(folder), "cpu")
    model = MusicgenForConditionalGeneration.from_pretrained(folder).eval()
    inputs = AutoProcessor.from_pretrained(folder)(text=[MUSIC_PROMPT], padding=True, return_tensors="pt")
    request = Request(engine="musicgen", prompt=MUSIC_PROMPT, seed=1)

    def bare():
        torch.manual_seed(1)
        with torch.inference_mode():
            return model.generate(**inputs)

    (out,) = engine.generate(request, NullEvents())
    # Same work on both sides, or the ratio means nothing.
    assert np.array_equal(out.data, bare()[0].numpy().T), "engine and bare call differ"
    t = paired({"ours": lambda: engine.generate(request, NullEvents()), "bare": bare}, MUSIC_ROUNDS)
    # What the engine adds around the model call, timed inside the same calls (so the shared
    # machine's load cancels): generate() wrapped to time itself.
    inner = []
    real = engine.model.generate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            inner.append(time.perf_counter() - start)

    engine.model.generate = timed  # an instance attribute shadows the method
    t["outside"] = outside_time(lambda: engine.generate(request, NullEvents()), inner)
    del engine.model.generate
    tokens = out.recipe["runtime"]["tokens"]
    watch = _Watch(engine, tokens, 0, NullEvents())
    ids = torch.zeros((8, 2), dtype=torch.long)  # guidance doubles the batch of 4 codebooks
    start = time.perf_counter()
    for _ in range(HOOK_CALLS):
        watch(ids, None)
    t["hook"] = (time.perf_counter() - start) / HOOK_CALLS
    return t, tokens


def bench_vits(folder: Path) -> tuple[dict, float]:
    engine = SpeechEngine()
    engine.load(str(folder), "cpu")
    model = VitsModel.from_pretrained(folder).eval()
    inputs = AutoTokenizer.from_pretrained(folder)(SPEECH_TEXT, return_tensors="pt")
    request = Request(engine="speech", prompt=SPEECH_TEXT, seed=1)

    def bare():
        torch.manual_seed(1)
        with torch.inference_mode():
            return model(**inputs).waveform

    (out,) = engine.generate(request, NullEvents())
    assert np.array_equal(out.data[:, 0], bare()[0].numpy()), "engine and bare call differ"
    t = paired({"ours": lambda: engine.generate(request, NullEvents()), "bare": bare}, SPEECH_ROUNDS)
    inner, starts = [], []
    pre = engine.model.register_forward_pre_hook(lambda *a: starts.append(time.perf_counter()))
    post = engine.model.register_forward_hook(lambda *a: inner.append(time.perf_counter() - starts[-1]))
    t["outside"] = outside_time(lambda: engine.generate(request, NullEvents()), inner)
    pre.remove()
    post.remove()
    return t, out.duration_s


def bench_bark(folder: Path) -> tuple[dict, float]:
    engine = SpeechEngine()
    engine.load(str(folder), "cpu")
    model = BarkModel.from_pretrained(folder).eval()
    inputs = AutoProcessor.from_pretrained(folder)(BARK_TEXT, voice_preset=BARK_VOICE)
    request = Request(engine="speech", prompt=BARK_TEXT, seed=1, params={"voice": BARK_VOICE})

    def bare():
        torch.manual_seed(1)
        return model.generate(**inputs)

    (out,) = engine.generate(request, NullEvents())
    assert np.array_equal(out.data[:, 0], bare()[0].numpy()), "engine and bare call differ"
    t = paired({"ours": lambda: engine.generate(request, NullEvents()), "bare": bare}, BARK_ROUNDS)
    inner = []
    real = engine.model.generate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            inner.append(time.perf_counter() - start)

    engine.model.generate = timed
    t["outside"] = outside_time(lambda: engine.generate(request, NullEvents()), inner)
    del engine.model.generate
    return t, out.duration_s


def outside_time(call, inner: list) -> float:
    """Median seconds of `call` not spent in the model (`inner` collects the model's time)."""
    outside = []
    for _ in range(OUTSIDE_CALLS):
        inner.clear()
        start = time.perf_counter()
        call()
        outside.append(time.perf_counter() - start - sum(inner))
    return statistics.median(outside)


def bench_edits() -> dict:
    """Seconds per pass over the test clip for each edit step and the reference write."""
    rng = np.random.default_rng(0)
    pad = np.zeros((EDIT_RATE, 2), dtype=np.float32)  # 1 s of silence each side, for trim
    body = (0.3 * rng.standard_normal((EDIT_RATE * (EDIT_SECONDS - 2), 2))).astype(np.float32)
    audio = np.ascontiguousarray(np.concatenate([pad, body, pad]))

    def wav_write():
        soundfile.write(io.BytesIO(), audio, EDIT_RATE, format="WAV", subtype="PCM_16")

    steps = {
        "reference: soundfile WAV write": wav_write,
        "trim_silence": lambda: edit.apply(audio, EDIT_RATE, {"trim_silence": True}),
        "fade in+out 2 s": lambda: edit.apply(audio, EDIT_RATE, {"fade_in_s": 2.0, "fade_out_s": 2.0}),
        "loudness_lufs -16": lambda: edit.apply(audio, EDIT_RATE, {"loudness_lufs": -16.0}),
        "loop_crossfade_s 2": lambda: edit.apply(audio, EDIT_RATE, {"loop_crossfade_s": 2.0}),
        "resample 44.1 -> 48 kHz": lambda: edit.apply(audio, EDIT_RATE, {"sample_rate": 48000}),
        "channels 2 -> 1": lambda: edit.apply(audio, EDIT_RATE, {"channels": 1}),
    }
    return interleaved(steps, EDIT_ROUNDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    torch.set_num_threads(parser.parse_args().threads)
    root = Path(tempfile.gettempdir()) / "assetsmith-bench"
    threads = f"{torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}"
    t, tokens = bench_musicgen(build_tiny_musicgen(root / "tiny-musicgen"))
    print(f"musicgen overhead: ours {t['ours']:.3f} s / bare transformers generate() {t['bare']:.3f} s "
          f"= {t['ours'] / t['bare']:.3f}; median per-round ratio {t['paired']:.3f} "
          f"(median of {MUSIC_ROUNDS}, interleaved, same seed, same model, "
          f"{tokens} tokens, model's own sampling, guidance 3, tiny MusicGen, cpu, {threads})")
    print(f"  musicgen engine's own work: {t['outside'] * 1e3:.1f} ms per clip around generate() "
          f"(tokenising, schema check, edit pass, recipe; median of {OUTSIDE_CALLS}) = "
          f"{t['outside'] / t['bare']:.1%} of the bare call; per-token hook {t['hook'] * 1e6:.1f} us x {tokens} "
          f"= {t['hook'] * tokens / t['bare']:.2%}")
    t, seconds = bench_vits(build_tiny_vits(root / "tiny-vits"))
    print(f"speech (VITS) overhead: ours {t['ours'] * 1e3:.2f} ms / bare transformers model() call "
          f"{t['bare'] * 1e3:.2f} ms = {t['ours'] / t['bare']:.3f}; median per-round ratio {t['paired']:.3f} "
          f"(median of {SPEECH_ROUNDS}, interleaved, "
          f"same seed, same model, one sentence, {seconds:.2f} s of speech, tiny VITS, cpu, {threads})")
    print(f"  speech engine's own work: {t['outside'] * 1e3:.2f} ms per clip around model() "
          f"(sentence split, tokenising, schema check, preview, edit pass, recipe; median of {OUTSIDE_CALLS}) = "
          f"{t['outside'] / t['bare']:.1%} of the bare call")
    t, seconds = bench_bark(build_tiny_bark(root / "tiny-bark"))
    print(f"speech (Bark) overhead: ours {t['ours'] * 1e3:.1f} ms / bare transformers generate() "
          f"{t['bare'] * 1e3:.1f} ms = {t['ours'] / t['bare']:.3f}; median per-round ratio {t['paired']:.3f} "
          f"(median of {BARK_ROUNDS}, interleaved, same seed, same model, voice {BARK_VOICE}, one sentence, "
          f"{seconds:.2f} s of speech, tiny Bark, cpu, {threads})")
    print(f"  Bark engine's own work: {t['outside'] * 1e3:.2f} ms per clip around generate() "
          f"(sentence split, reading the preset, processor, schema check, preview, edit pass, recipe; "
          f"median of {OUTSIDE_CALLS}) = {t['outside'] / t['bare']:.1%} of the bare call")
    t = bench_edits()
    ref_name = "reference: soundfile WAV write"
    ref = EDIT_SECONDS / t[ref_name]
    print(f"post-processing throughput, {EDIT_SECONDS} s of {EDIT_RATE / 1000:g} kHz stereo "
          f"(median of {EDIT_ROUNDS}, interleaved), against {ref_name[11:]} (16-bit, in memory) "
          f"{ref:.0f} s of audio/s:")
    for name, seconds in t.items():
        if name != ref_name:
            rate = EDIT_SECONDS / seconds
            print(f"  {name}: {rate:.0f} s of audio/s = {rate / ref:.2f} x the WAV write")


if __name__ == "__main__":
    main()
