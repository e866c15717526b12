"""The audio engines on tiny real MusicGen and VITS models, against the bare transformers
calls, and through the CLI into a project (FLAC, recorded, re-made identically)."""
import json

import numpy as np
import pytest
import soundfile
import torch

from engines.api import Cancelled, EngineError, NullEvents, ParamError, Request
from engines.audio.musicgen import MusicGenEngine
from engines.audio.speech import SpeechEngine, split_sentences
from studio.cli import main
from studio.project import Project


class Events(NullEvents):
    def __init__(self, cancel_after=None):
        self.previews, self.steps, self.cancel_after = [], [], cancel_after

    def preview(self, partial):
        self.previews.append(partial)

    def progress(self, step, total):
        self.steps.append((step, total))

    def cancelled(self):
        return self.cancel_after is not None and len(self.steps) >= self.cancel_after


@pytest.fixture(scope="module")
def music(tiny_musicgen):
    e = MusicGenEngine()
    e.load(str(tiny_musicgen), "cpu")
    yield e
    e.unload()


@pytest.fixture(scope="module")
def speech(tiny_vits):
    e = SpeechEngine()
    e.load(str(tiny_vits), "cpu")
    yield e
    e.unload()


def make(engine, prompt, seed=1, count=1, events=None, **params):
    return engine.generate(Request(engine=engine.name, prompt=prompt, seed=seed, count=count, params=params),
                           events or Events())


def test_musicgen_no_params_equals_bare_generate(music, tiny_musicgen):
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    (out,) = make(music, "calm chiptune loop", seed=4)
    model = MusicgenForConditionalGeneration.from_pretrained(tiny_musicgen)
    inputs = AutoProcessor.from_pretrained(tiny_musicgen)(text=["calm chiptune loop"], padding=True,
                                                          return_tensors="pt")
    torch.manual_seed(4)
    with torch.inference_mode():
        bare = model.generate(**inputs)[0].numpy().T
    np.testing.assert_array_equal(out.data, bare)
    assert out.sample_rate == 32000 and out.mime == "audio/flac"
    params = out.recipe["params"]
    assert params["guidance_scale"] == 3.0 and params["top_k"] == 250  # the model's own, recorded
    assert params["duration_s"] == pytest.approx(len(bare) / 32000, abs=1e-3)


def test_musicgen_duration_seed_and_progress(music):
    events = Events()
    (a,) = make(music, "boss fight drums", seed=9, events=events, duration_s=0.5, temperature=0.8)
    (b,) = make(music, "boss fight drums", seed=9, duration_s=0.5, temperature=0.8)
    (c,) = make(music, "boss fight drums", seed=10, duration_s=0.5, temperature=0.8)
    assert a.data.shape == (16000, 1) and a.duration_s == 0.5
    np.testing.assert_array_equal(a.data, b.data)  # same seed, same clip
    assert not np.array_equal(a.data, c.data)
    tokens = a.recipe["runtime"]["tokens"]
    assert events.steps[-1] == (tokens, tokens) and tokens == 25 + 3  # 50 a second + the codebook delay
    assert a.recipe["seed"] == 9 and a.recipe["params"]["temperature"] == 0.8


def test_musicgen_previews_and_cancel(music):
    events = Events()
    make(music, "wind", events=events, duration_s=0.4, preview_every=8)
    assert len(events.previews) >= 2
    assert events.previews[-1].shape[1] == 1 and len(events.previews[-1]) > len(events.previews[0])
    events = Events(cancel_after=3)
    with pytest.raises(Cancelled):
        make(music, "wind", events=events, duration_s=0.4)
    assert len(events.steps) == 3  # stopped at the next token


def test_musicgen_bad_input(music, tiny_vits, tmp_path):
    with pytest.raises(ParamError, match="at most"):
        make(music, "long", duration_s=600.0)
    with pytest.raises(ParamError, match="prompt is empty"):
        make(music, "  ")
    with pytest.raises(ParamError):
        make(music, "x", top_k=-1)
    with pytest.raises(EngineError, match="not a MusicGen model"):
        MusicGenEngine().load(str(tiny_vits), "cpu")
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["MusicgenMelodyForConditionalGeneration"]}))
    with pytest.raises(EngineError, match="MusicGen-melody model.*torchaudio"):
        MusicGenEngine().load(str(tmp_path), "cpu")


def test_speech_one_sentence_equals_bare_vits(speech, tiny_vits):
    from transformers import AutoTokenizer, VitsModel

    (out,) = make(speech, "hello there, traveller!", seed=2)
    model = VitsModel.from_pretrained(tiny_vits)
    inputs = AutoTokenizer.from_pretrained(tiny_vits)("hello there, traveller!", return_tensors="pt")
    torch.manual_seed(2)
    with torch.inference_mode():
        bare = model(**inputs).waveform[0].numpy()
    np.testing.assert_array_equal(out.data[:, 0], bare)
    assert out.sample_rate == 16000


def test_speech_sentences_progress_and_pauses(speech):
    assert split_sentences("Halt! Who goes there?\nA friend.") == ["Halt!", "Who goes there?", "A friend."]
    events = Events()
    (a,) = make(speech, "Halt! Who goes there?", seed=5, events=events, sentence_pause_s=0.5)
    (b,) = make(speech, "Halt! Who goes there?", seed=5, sentence_pause_s=0.5)
    np.testing.assert_array_equal(a.data, b.data)
    assert events.steps == [(1, 2), (2, 2)] and len(events.previews) == 2
    first = len(events.previews[0])
    assert not a.data[first:first + 8000].any()  # the half-second pause after the first sentence
    with pytest.raises(Cancelled):
        make(speech, "One. Two. Three.", events=Events(cancel_after=1))


def test_speech_voices(tiny_vits_voices, speech):
    voices = SpeechEngine()
    voices.load(str(tiny_vits_voices), "cpu")
    assert voices.voices() == ["0", "1", "2"] and speech.voices() == []
    (zero,) = make(voices, "hello", voice="0")
    (two,) = make(voices, "hello", voice="2")
    assert not np.array_equal(zero.data, two.data) and two.recipe["params"]["voice"] == "2"
    with pytest.raises(ParamError, match="voices are 0 to 2"):
        make(voices, "hello", voice="7")
    with pytest.raises(ParamError, match="single voice"):
        make(speech, "hello", voice="1")
    with pytest.raises(ParamError, match="nothing in"):
        make(speech, "¿¿¿")


def test_reprocess_a_clip_runs_only_the_edits(speech, tmp_path):
    (out,) = make(speech, "the gate is open.", seed=3)
    soundfile.write(tmp_path / "line.wav", out.data, out.sample_rate)
    (again,) = make(speech, "", init_audio=str(tmp_path / "line.wav"), channels=2, sample_rate=22050)
    assert again.sample_rate == 22050 and again.data.shape[1] == 2
    assert again.recipe["runtime"]["reprocessed"] is True
    with pytest.raises(ParamError, match="cannot apply when re-processing"):
        make(speech, "", init_audio=str(tmp_path / "line.wav"), speaking_rate=2.0)


@pytest.mark.parametrize("engine, model, prompt, params", [
    ("musicgen", "tiny_musicgen", "8-bit victory jingle", ["duration_s=0.3", "fade_out_s=0.1"]),
    ("speech", "tiny_vits", "You shall not pass.", ["loudness_lufs=-18"]),
])
def test_cli_records_flac_and_remakes_identically(request, tmp_path, capsys, engine, model, prompt, params):
    folder = request.getfixturevalue(model)
    project = tmp_path / "P"
    argv = ["generate", "--engine", engine, "--model", str(folder), "--prompt", prompt, "--seed", "11",
            "--project", str(project)]
    for p in params:
        argv += ["--param", p]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    (path,) = result["outputs"]
    data, rate = soundfile.read(path)
    assert path.endswith(".flac") and rate == result["recipe"]["params"]["sample_rate"]
    with Project.open(project) as p:
        (generation,) = p.query(modality="audio")
        (record,) = generation.outputs
        assert record.duration_s == pytest.approx(len(data) / rate, abs=1e-3)
    assert main(["remake", str(result["generation_id"]), "--project", str(project)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["identical"] is True
    # Re-processing the clip with other settings: a new generation, the clip's child.
    assert main(["generate", "--engine", engine, "--model", str(folder), "--prompt", "", "--project", str(project),
                 "--param", f"init_audio={path}", "--param", "fade_in_s=0.05"]) == 0, capsys.readouterr().err
    child = json.loads(capsys.readouterr().out)
    assert child["parent_id"] == result["generation_id"]
    assert child["recipe"]["params"]["init_audio"].startswith("inputs/")
