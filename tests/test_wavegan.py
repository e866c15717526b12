"""The wavegan engine on a tiny real generator (against the module called directly), its audio
data scan, its trainer on the harness (samples, model, exact resume) and the shipped starter."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from safetensors.torch import load_file

from engines.api import EngineError, NullEvents, ParamError, Request
from engines.audio import wavegan
from engines.audio.wavegan import WaveGanEngine
from engines.data import DataError
from engines.image.gan import latent
from engines.train import audio_data, audio_eval, checkpoint, harness, schema
from studio import training
from studio.cli import main
from studio.project import Project

sys.path.insert(0, str(Path(__file__).parent))

TINY = {"sample_rate": 8000, "length": 2048, "g_width": 2, "d_width": 2, "latent_dim": 8, "batch_size": 4,
        "threads": 1, "eval_samples": 8}

pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.fixture(scope="module")
def engine(tiny_wavegan):
    e = WaveGanEngine()
    e.load(str(tiny_wavegan), "cpu")
    return e


def make(engine, seed=5, count=1, **params):
    return engine.generate(Request(engine="wavegan", seed=seed, count=count, params=params), NullEvents())


def hit(rate, seconds, freq, decay, seed, noise=0.0, channels=1):
    """A synthetic one-shot: a decaying sine plus a little noise, after a short silence."""
    t = np.arange(round(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    wave = np.sin(2 * np.pi * freq * t) * np.exp(-t / decay) + noise * rng.standard_normal(len(t)) * np.exp(-t / 0.05)
    wave = np.concatenate([np.zeros(round(0.02 * rate)), 0.5 * wave]).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "hits"
    (folder / "kit").mkdir(parents=True)
    for i in range(8):
        soundfile.write(folder / f"hit{i}.wav", hit(8000, 0.2 + 0.05 * i, 80 + 40 * i, 0.05 + 0.01 * i, i,
                                                    noise=0.3 * (i % 2)), 8000)
    soundfile.write(folder / "kit" / "wide.flac", hit(44100, 0.4, 300, 0.1, 9, noise=0.2, channels=2), 44100)
    soundfile.write(folder / "kit" / "burst.ogg", hit(16000, 0.3, 1000, 0.03, 10, noise=1.0), 16000)
    shutil.copy(folder / "hit3.wav", folder / "kit" / "hit3-copy.wav")
    soundfile.write(folder / "tick.wav", hit(8000, 0.01, 1000, 0.01, 11)[round(0.02 * 8000):], 8000)
    soundfile.write(folder / "silence.wav", np.zeros(4000, dtype=np.float32), 8000)
    (folder / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt nonsense")
    (folder / "empty.flac").write_bytes(b"")
    (folder / "notes.txt").write_text("not a sound")
    return folder


def test_clips_equal_the_generator_module_called_directly(engine, tiny_wavegan):
    outputs = make(engine, seed=11, count=3)
    config = wavegan.read_config(tiny_wavegan)
    generator = wavegan.build_generator(config)
    generator.load_state_dict(load_file(tiny_wavegan / wavegan.WEIGHTS))
    for i, out in enumerate(outputs):
        with torch.no_grad():
            direct = generator(latent(11 + i, config.latent_dim))[0, 0].numpy()
        assert out.kind == "audio" and out.sample_rate == 8000 and out.data.shape == (2048, 1)
        assert out.duration_s == pytest.approx(2048 / 8000) and out.data.dtype == np.float32
        assert np.array_equal(out.data[:, 0], direct)
        assert out.seed == 11 + i and out.recipe["count"] == 1
    assert not np.array_equal(outputs[0].data, outputs[1].data)
    assert outputs[0].recipe["params"] == {"truncation": 1.0, "sample_rate": 8000, "channels": 1}
    assert np.array_equal(make(engine, seed=12)[0].data, outputs[1].data)  # output i alone, from its seed


def test_variation_truncation_and_post_processing(engine):
    plain = make(engine, seed=1)[0].data
    assert np.array_equal(plain, make(engine, seed=1, variation_seed=9, variation_strength=0.0)[0].data)
    near = make(engine, seed=1, variation_seed=9, variation_strength=0.1)[0].data
    far = make(engine, seed=9)[0].data
    assert 0 < np.abs(near - plain).mean() < np.abs(far - plain).mean()
    assert np.array_equal(make(engine, seed=1, truncation=0.0)[0].data, make(engine, seed=2, truncation=0.0)[0].data)
    (out,) = make(engine, seed=1, sample_rate=16000, channels=2, fade_out_s=0.05)
    assert out.sample_rate == 16000 and out.data.shape == (4096, 2)
    assert out.recipe["params"]["fade_out_s"] == 0.05 and "peak_dbfs" in out.recipe["runtime"]


def test_bad_inputs_say_what_is_wrong(engine, tiny_wavegan, tmp_path):
    with pytest.raises(ParamError, match="count must be"):
        make(engine, count=0)
    with pytest.raises(ParamError, match="variation_strength must be at most 1"):
        make(engine, variation_seed=3, variation_strength=2)
    with pytest.raises(ParamError, match="go together"):
        make(engine, variation_seed=3)
    with pytest.raises(ParamError, match="no prompt"):
        engine.generate(Request(engine="wavegan", prompt="a kick", seed=1), NullEvents())
    with pytest.raises(ParamError, match="cannot apply when re-processing"):
        make(engine, init_audio=str(tmp_path / "x.wav"), truncation=0.5)
    with pytest.raises(ParamError, match="length must be a multiple of 1024"):
        wavegan.WaveGanConfig(length=5000)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="no model.json"):
        WaveGanEngine().load(str(tmp_path / "empty"), "cpu")
    other = shutil.copytree(tiny_wavegan, tmp_path / "other")
    info = json.loads((other / "model.json").read_text())
    (other / "model.json").write_text(json.dumps({**info, "format": "assetsmith-gan"}))
    with pytest.raises(EngineError, match="not a assetsmith-wavegan"):
        WaveGanEngine().load(str(other), "cpu")
    (other / "model.json").write_text(json.dumps({**info, "config": {**info["config"], "g_width": 4}}))
    with pytest.raises(EngineError, match="does not fit"):
        WaveGanEngine().load(str(other), "cpu")
    assert WaveGanEngine.accepts(tiny_wavegan) and not WaveGanEngine.accepts(tmp_path / "empty")


def test_the_scan_reports_every_file_and_refuses_a_folder_with_nothing(sounds, tmp_path):
    report = schema.scan("wavegan", sounds, schema.resolve("wavegan", TINY))
    assert len(report["kept"]) == 10 and "kit/wide.flac" in report["kept"]
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"broken.wav", "empty.flac", "notes.txt", "tick.wav", "silence.wav"}
    assert reasons["empty.flac"].startswith("empty file") and "too short" in reasons["tick.wav"]
    assert "silent" in reasons["silence.wav"] and "not a WAV, FLAC or OGG" in reasons["notes.txt"]
    assert report["duplicates"] == [{"file": "kit/hit3-copy.wav", "duplicate_of": "hit3.wav", "kind": "exact",
                                     "distance": 0}]
    assert {"file": "kit/wide.flac", "from": "44100 Hz stereo", "to": "8000 Hz mono"} in report["converted"]
    assert report["summary"].startswith("10 clips kept")
    train, val, report = audio_data.prepare(sounds, schema.resolve("wavegan", {**TINY, "val_fraction": 0.2}))
    assert train.shape == (8, 2048) and val.shape == (2, 2048) and train.dtype == np.float32
    assert np.abs(train).max(axis=1) == pytest.approx(np.full(8, 10 ** (-1 / 20)), abs=1e-6)  # peak -1 dBFS
    assert np.all(np.abs(train[:, 0]) > 1e-4)  # the leading silence is cut: the sound starts at once
    loud, _, _ = audio_data.prepare(sounds, schema.resolve("wavegan", {**TINY, "length": 4096, "normalize": "loudness",
                                                                         "loudness_lufs": -20.0, "val_fraction": 0}))
    from engines.audio import edit

    assert [round(edit.loudness(c[:, None], 8000)) for c in loud[:3]] == [-20, -20, -20]
    with pytest.raises(DataError, match="use normalize=peak"):
        audio_data.scan(sounds, {**TINY, "normalize": "loudness"})  # 2048 samples at 8 kHz: under 0.4 s
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.wav").write_bytes(b"garbage")
    with pytest.raises(DataError, match="no usable sounds"):
        audio_data.scan(tmp_path / "junk", TINY)


def test_the_distance_is_zero_for_the_same_clips_and_grows_with_difference():
    rng = np.random.default_rng(0)
    t = np.arange(4096) / 8000
    tones = np.stack([np.sin(2 * np.pi * (200 + 10 * i) * t) * np.exp(-t / 0.1) for i in range(6)])
    noise = rng.standard_normal((6, 4096)) * 0.3
    same = audio_eval.logmel_distance(tones, tones, 8000)["frechet_logmel"]
    other = audio_eval.logmel_distance(tones, tones[::-1] * 0.9, 8000)["frechet_logmel"]
    far = audio_eval.logmel_distance(tones, noise, 8000)
    assert abs(same) < 1e-6 and 0 < other < far["frechet_logmel"]
    assert "not published FAD" in far["note"] and far["features"] == audio_eval.FEATURES


def run_in_process(folder, resume=False, stop_after=None):
    config = harness.read_config(folder)
    emit = harness.Emitter(folder, config["run_id"], stdout=None)
    try:
        return harness.run(folder, config, resume=resume, emit=emit,
                           should_stop=lambda: stop_after is not None and emit.step >= stop_after)
    finally:
        emit.close()


def events(folder):
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_a_short_run_writes_samples_and_a_model_the_engine_loads(tmp_path, sounds):
    folder = training.create_run(tmp_path, "wavegan", sounds, {**TINY, "steps": 4, "sample_every": 2,
                                                                "checkpoint_every": 4, "val_fraction": 0.2})
    assert run_in_process(folder) == "finished"
    log = events(folder)
    data = next(e for e in log if e["event"] == "data")
    assert (data["kept"], data["skipped"], data["duplicates"], data["train"], data["val"]) == (10, 5, 1, 8, 2)
    assert [e["path"] for e in log if e["event"] == "sample"] == ["samples/step-00000002.wav",
                                                                 "samples/step-00000004.wav"]
    clips, rate = soundfile.read(folder / "samples" / "step-00000004.wav")
    assert rate == 8000 and len(clips) == 8 * 2048 + 7 * 2000
    (metrics,) = [e["metrics"] for e in log if e["event"] == "eval"]
    assert np.isfinite(metrics["frechet_logmel"]) and metrics["real"] == 2 and metrics["fake"] == 8
    engine = WaveGanEngine()
    engine.load(str(folder / "model"), "cpu")
    (out,) = make(engine, seed=0)
    assert out.sample_rate == 8000 and out.data.shape == (2048, 1)
    # The sample file's first clip is the engine's clip of the run's seed (0), to 16-bit precision.
    assert np.abs(clips[:2048] - out.data[:, 0]).max() <= 1 / 32768 + 1e-7


def test_stop_then_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, sounds):
    common = {**TINY, "steps": 6, "checkpoint_every": 100, "sample_every": 0, "eval_every": 0}
    whole = training.create_run(tmp_path / "a", "wavegan", sounds, common)
    assert run_in_process(whole) == "finished"
    parts = training.create_run(tmp_path / "b", "wavegan", sounds, common)
    assert run_in_process(parts, stop_after=3) == "stopped"
    assert run_in_process(parts, resume=True) == "finished"
    a, b = (checkpoint.load(checkpoint.latest(f / "checkpoints"))[0] for f in (whole, parts))
    assert a.keys() == b.keys()
    for key in a:  # weights, optimiser moments, RNG states, data order
        assert torch.equal(a[key], b[key]), key
    assert (whole / "model" / wavegan.WEIGHTS).read_bytes() == (parts / "model" / wavegan.WEIGHTS).read_bytes()


def generate_and_remake(project, capsys, *argv):
    assert main(["generate", "--engine", "wavegan", "--project", str(project), *argv]) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert main(["remake", str(result["generation_id"]), "--project", str(project)]) == 0, capsys.readouterr().err
    remade = json.loads(capsys.readouterr().out)
    assert remade["identical"] is True
    for a, b in zip(result["outputs"], remade["outputs"], strict=True):  # the files' samples, bit for bit
        assert np.array_equal(soundfile.read(a, dtype="int32")[0], soundfile.read(b, dtype="int32")[0])
    return result


def test_cli_records_flac_with_the_recipe_and_remakes_identically(tmp_path, tiny_wavegan, capsys):
    from studio import metadata

    result = generate_and_remake(tmp_path / "P", capsys, "--model", str(tiny_wavegan), "--seed", "3",
                                 "--count", "2", "--param", "fade_out_s=0.05")
    first, second = result["outputs"]
    data, rate = soundfile.read(first)
    assert first.endswith(".flac") and rate == 8000 and len(data) == 2048
    assert metadata.read_recipe(second)["seed"] == 4


def test_the_starter_generates_with_no_model_and_remakes_identically(tmp_path, capsys):
    import os

    assert not any(Path(os.environ["HF_HOME"]).rglob("*.safetensors"))  # nothing from a cache
    result = generate_and_remake(tmp_path / "P", capsys, "--seed", "5", "--count", "2")
    assert result["recipe"]["model"] == "starter:wavegan/drums"
    config = wavegan.WaveGanConfig.from_dict(
        json.loads((Path(wavegan.__file__).parents[2] / "resources/models/wavegan/drums/model.json").read_text())
        ["config"])
    for path in result["outputs"]:
        data, rate = soundfile.read(path)
        assert rate == config.sample_rate and len(data) == config.length
    with Project.open(tmp_path / "P") as p:
        original, remade = sorted(p.query(modality="audio"), key=lambda g: g.id)
        assert original.id == result["generation_id"] and len(original.outputs) == len(remade.outputs) == 2
