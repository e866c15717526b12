"""Bark in the speech engine, on a tiny real Bark built from configs: against the bare
transformers call, seeded, sentence by sentence, voice presets read without pickles."""
import json
import shutil

import numpy as np
import pytest
import torch

from engines.api import Cancelled, EngineError, NullEvents, ParamError, Request
from engines.audio import bark
from engines.audio.speech import SpeechEngine
from studio.cli import main

HOP = 320  # the tiny EnCodec's samples per frame (24 kHz, 75 frames a second)


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
def speech(tiny_bark, restore_threads):
    # One thread: Bark's many small steps gain nothing from a second one, and on a busy 2-core
    # machine two threads made these calls several times slower (OpenMP waits).
    torch.set_num_threads(1)
    e = SpeechEngine()
    e.load(str(tiny_bark), "cpu")
    yield e
    e.unload()


@pytest.fixture(scope="module")
def bare(tiny_bark):
    from transformers import AutoProcessor, BarkModel

    return AutoProcessor.from_pretrained(tiny_bark), BarkModel.from_pretrained(tiny_bark).eval()


def make(engine, prompt, seed=1, events=None, **params):
    return engine.generate(Request(engine="speech", prompt=prompt, seed=seed, params=params), events or Events())


@pytest.mark.parametrize("voice", ["v2/en_speaker_0", "narrator"])
def test_one_sentence_equals_bare_generate(speech, bare, tiny_bark, voice):
    processor, model = bare
    events = Events()
    (out,) = make(speech, "hello there, the gate is open.", seed=4, events=events, voice=voice)
    preset = voice if voice in processor.available_voice_presets else str(tiny_bark / "speaker_embeddings" / f"{voice}.npz")
    torch.manual_seed(4)
    expected = model.generate(**processor("hello there, the gate is open.", voice_preset=preset))[0].numpy()
    np.testing.assert_array_equal(out.data[:, 0], expected)
    assert out.sample_rate == 24000 and out.data.shape[1] == 1
    # 48 semantic tokens at most -> 72 codec frames (75 a second over Bark's 49.9).
    assert len(out.data) % HOP == 0 and 0 < len(out.data) <= 72 * HOP
    assert events.steps == [(1, 3), (2, 3), (3, 3)]  # semantic, coarse, fine + decode
    assert out.recipe["params"]["voice"] == voice and out.recipe["runtime"]["model_type"] == "bark"


def test_seeded_sentences_joined_with_pauses(speech):
    events = Events()
    text = "Halt! Who goes there?"
    (a,) = make(speech, text, seed=5, events=events, voice="narrator", sentence_pause_s=0.5)
    (b,) = make(speech, text, seed=5, voice="narrator", sentence_pause_s=0.5)
    (c,) = make(speech, text, seed=6, voice="narrator", sentence_pause_s=0.5)
    np.testing.assert_array_equal(a.data, b.data)  # same seed, same line
    assert not (a.data.shape == c.data.shape and np.array_equal(a.data, c.data))
    assert events.steps == [(i, 6) for i in range(1, 7)] and len(events.previews) == 2
    first = len(events.previews[0])
    assert not a.data[first:first + 12000].any()  # the half-second pause after "Halt!"
    assert a.recipe["runtime"]["sentences"] == 2 and a.recipe["seed"] == 5


def test_post_processing_and_cancel(speech):
    (out,) = make(speech, "the gate is open.", voice="narrator", channels=2, sample_rate=16000, fade_out_s=0.05)
    assert out.sample_rate == 16000 and out.data.shape[1] == 2
    assert out.recipe["params"]["fade_out_s"] == 0.05
    events = Events(cancel_after=1)
    with pytest.raises(Cancelled):
        make(speech, "the gate is open. who goes there?", events=events)
    assert events.steps == [(1, 6)]  # stopped at the coarse model's first step


def test_bad_input(speech):
    with pytest.raises(ParamError, match="unknown voice 'en_speaker_9'.*v2/en_speaker_0, narrator"):
        make(speech, "hello", voice="en_speaker_9")
    with pytest.raises(ParamError, match="text is empty"):
        make(speech, "  \n ")
    with pytest.raises(ParamError, match="Bark has no speaking rate"):
        make(speech, "hello", speaking_rate=1.5)
    with pytest.raises(ParamError, match="at most 256"):
        make(speech, "gate " * 300)
    assert speech.voices() == ["v2/en_speaker_0", "narrator"]


def test_presets_refuse_pickles_and_other_files(tiny_bark, tmp_path):
    folder = tmp_path / "bark"
    shutil.copytree(tiny_bark, folder)
    args = (64, 32, 2, 8)  # the tiny model's semantic vocabulary, codebook size, coarse and fine books
    listing = json.loads((folder / bark.EMBEDDINGS_JSON).read_text())
    good = listing["v2/en_speaker_0"]
    np.save(folder / "speaker_embeddings/obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    listing["pickled"] = {**good, "semantic_prompt": "speaker_embeddings/obj.npy"}
    listing["torch"] = {**good, "fine_prompt": "speaker_embeddings/fine.pt"}
    listing["escape"] = {**good, "coarse_prompt": "../outside.npy"}
    listing["partial"] = {**good, "coarse_prompt": "speaker_embeddings/not-downloaded.npy"}
    (folder / "speaker_embeddings/fine.pt").write_bytes(b"a torch pickle")
    np.save(tmp_path / "outside.npy", np.zeros((2, 3), int))
    (folder / bark.EMBEDDINGS_JSON).write_text(json.dumps(listing))
    np.savez(folder / "speaker_embeddings/wide.npz", semantic_prompt=np.array([70]),
             coarse_prompt=np.zeros((2, 3), int), fine_prompt=np.zeros((8, 3), int))
    found = bark.presets(folder)
    assert list(found) == ["v2/en_speaker_0", "pickled", "torch", "escape", "narrator", "wide"]
    arrays = bark.load_preset(folder, "narrator", found["narrator"], *args)
    assert arrays["fine_prompt"].shape == (8, 60)
    for name, message in [("pickled", "Object arrays cannot be loaded"), ("torch", "only numpy arrays"),
                          ("escape", "outside the model folder"), ("wide", "codes outside 0..63")]:
        with pytest.raises(EngineError, match=message):
            bark.load_preset(folder, name, found[name], *args)


def test_cli_remakes_a_bark_line_identically(tiny_bark, tmp_path, capsys):
    argv = ["generate", "--engine", "speech", "--model", str(tiny_bark), "--prompt", "The gate is open.",
            "--seed", "11", "--project", str(tmp_path / "P"), "--param", "voice=narrator"]
    assert main(argv) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["recipe"]["params"]["voice"] == "narrator"
    assert main(["remake", str(result["generation_id"]), "--project", str(tmp_path / "P")]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
