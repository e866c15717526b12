"""Voice lines: text to speech with transformers' VITS models (Meta's MMS-TTS, VCTK voices)
and Bark (Suno's, with its voice presets: engines/audio/bark.py).

A text of one sentence with no parameters is exactly the bare `model(**tokenizer(text))`
call after `torch.manual_seed(seed)` (VITS draws its noise from torch's generator). A longer
text is spoken sentence by sentence, from the one seeded generator, and joined with short
pauses: VITS keeps its rhythm on short inputs and wanders on long ones. Progress and cancel
go by sentence. The post-processing steps of engines/audio/edit.py run after the model.

A Bark folder is spoken the same way, sentence by sentence from one seeded generator; Bark
reads at most 256 tokens and its voice drifts on long inputs, which is why Suno's own
long-form recipe also goes sentence by sentence with short silences. One sentence is exactly
the bare `model.generate(**processor(text, voice_preset=voice))` after `torch.manual_seed`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from engines import devices, hf_folder
from engines.api import Cancelled, EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch
from engines.audio import bark, clip, edit

ARCHITECTURES = ("VitsModel", *bark.ARCHITECTURES)
MODEL_PARAMS = ("voice", "speaking_rate", "sentence_pause_s")
# A sentence ends at . ! ? or … followed by white space (the text's own line breaks too).
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def speaker_numbers(speakers) -> list[str]:
    """The `voice` values of a VITS model with this many speakers (none for a single voice)."""
    return [str(i) for i in range(speakers)] if isinstance(speakers, int) and speakers > 1 else []


class SpeechEngine:
    name = "speech"
    modality = "audio"
    takes_prompt = True  # the prompt is the line to speak
    inputs = ("init_audio",)
    default_model = None
    params = (
        Param("voice", "str", None,
              help="VITS: which speaker of a multi-speaker model, by number (0, 1, ...); the model's only voice "
                   "when unset. Bark: a voice preset of the model folder (e.g. v2/en_speaker_6); unset, Bark "
                   "makes up a voice from the seed."),
        Param("speaking_rate", "float", None, min=0.25, max=4.0,
              help="VITS only: faster above 1, slower below; the model's own (usually 1) when unset."),
        Param("sentence_pause_s", "float", 0.3, min=0.0, max=5.0,
              help="Silence between the sentences of a longer text."),
        edit.INIT_AUDIO,
        *edit.EDIT_PARAMS,
    )

    def __init__(self) -> None:
        self.model = None
        self.tokenizer = None
        self.bark: bark.BarkVoice | None = None
        self.device = "cpu"
        self.dtype = "float32"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return any(a in ARCHITECTURES for a in hf_folder.architectures(path))

    @classmethod
    def suggestions(cls, path: Path) -> dict[str, list[str]]:
        """The voices of a model folder, read without loading it: Bark's presets, or a
        multi-speaker VITS model's speaker numbers."""
        if any(a in bark.ARCHITECTURES for a in hf_folder.architectures(path)):
            return {"voice": list(bark.presets(Path(path)))}
        return {"voice": speaker_numbers(hf_folder.config(path).get("num_speakers"))}

    @classmethod
    def warm_up(cls) -> None:
        """Import what load() imports, for VITS and Bark."""
        devices.quiet_libraries()
        from transformers import AutoTokenizer, BarkModel, BarkProcessor, VitsModel  # noqa: F401

    def load(self, model_path: str, device: str) -> None:
        from transformers import AutoTokenizer, VitsModel

        devices.quiet_libraries()
        path = Path(model_path)
        if not self.accepts(path):
            raise EngineError(f"{path} is not a text-to-speech model folder this engine knows "
                              f"(its config.json names no {' or '.join(ARCHITECTURES)})")
        if any(a in bark.ARCHITECTURES for a in hf_folder.architectures(path)):
            self.dtype = devices.default_dtype(device)  # Bark runs in half precision on GPUs (its docs)
            try:
                self.bark = bark.BarkVoice(path, device, devices.torch_dtype(self.dtype))
            except hf_folder.LOAD_ERRORS as exc:
                raise hf_folder.load_failed("Bark model", path, exc) from exc
            self.model, self.device = self.bark.model, device
            return
        # VITS's flows and its stochastic duration predictor are unstable in half precision.
        self.bark, self.dtype = None, "float32"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model = VitsModel.from_pretrained(path, use_safetensors=True, dtype=devices.torch_dtype(self.dtype))
        except hf_folder.LOAD_ERRORS as exc:
            raise hf_folder.load_failed("speech model", path, exc) from exc
        self.model = model.to(device).eval()
        self.device = device

    def unload(self) -> None:
        self.model = self.tokenizer = self.bark = None
        devices.empty_cache(self.device)

    def memory_bytes(self) -> int:
        return hf_folder.weights_bytes(self.model)

    def voices(self) -> list[str]:
        """The names `voice` takes: speaker numbers (VITS; none for a single-speaker model), or
        the voice presets in a Bark folder."""
        if self.bark is not None:
            return self.bark.voices()
        return speaker_numbers(self.model.config.num_speakers if self.model is not None else 1)

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        edit.check(request.params)
        if request.params.get("init_audio"):
            return clip.reprocess(request, MODEL_PARAMS, events)
        if self.model is None:
            raise EngineError("the speech engine has no model loaded")
        sentences = split_sentences(request.prompt)
        if not sentences:
            raise ParamError("the text is empty: write the line to speak as the prompt")
        resolved = self._settings(request.params)
        if self.bark is not None:
            encoded = [self.bark.encode(s, resolved.get("voice")) for s in sentences]
        else:
            encoded = [self._encode(s) for s in sentences]
        return run_batch(request, events, lambda seed, ev: self._one(request, encoded, resolved, seed, ev))

    def _encode(self, sentence: str) -> dict:
        inputs = self.tokenizer(sentence, return_tensors="pt")
        if inputs["input_ids"].shape[-1] == 0:
            raise ParamError(f"nothing in {sentence!r} can be spoken by this model: its alphabet has none of these "
                             "characters (write numbers and symbols out in words, in the model's language)")
        return {k: v.to(self.device) for k, v in inputs.items()}

    def _settings(self, given: dict) -> dict:
        if self.bark is not None:
            if "speaking_rate" in given:
                raise ParamError("speaking_rate is a VITS setting: Bark has no speaking rate; leave it out")
            resolved = {"sentence_pause_s": given.get("sentence_pause_s", 0.3)}
            if "voice" in given:
                self.bark.check_voice(given["voice"])
                resolved["voice"] = given["voice"]
            return resolved
        resolved = {"sentence_pause_s": given.get("sentence_pause_s", 0.3),
                    "speaking_rate": given.get("speaking_rate", float(self.model.config.speaking_rate))}
        voices = self.voices()
        if "voice" in given:
            if given["voice"] not in voices:
                have = f"its voices are 0 to {len(voices) - 1}" if voices else "it has a single voice: leave voice unset"
                raise ParamError(f"unknown voice {given['voice']!r} for this model; {have}")
            resolved["voice"] = given["voice"]
        return resolved

    def _one(self, request: Request, encoded: list[dict], resolved: dict, seed: int, events: Events) -> Output:
        import torch

        started = time.perf_counter()
        extra = {}
        if self.bark is None and "voice" in request.params:
            extra["speaker_id"] = int(request.params["voice"])
        if "speaking_rate" in request.params:
            extra["speaking_rate"] = request.params["speaking_rate"]
        rate = self.bark.sample_rate if self.bark is not None else int(self.model.config.sampling_rate)
        stages = bark.STAGES if self.bark is not None else 1
        pause = np.zeros(round(resolved["sentence_pause_s"] * rate), dtype=np.float32)
        pieces: list[np.ndarray] = []
        torch.manual_seed(seed)  # one generator for the whole text: the same line, the same voice
        for i, inputs in enumerate(encoded):
            if events.cancelled():
                raise Cancelled()
            if self.bark is not None:
                waveform = self.bark.speak(inputs, events, i * stages, len(encoded) * stages)
            else:
                with torch.inference_mode():
                    waveform = self.model(**inputs, **extra).waveform[0].float().cpu().numpy()
            pieces += [pause, waveform] if pieces else [waveform]
            events.progress((i + 1) * stages, len(encoded) * stages)
            # The line so far; one sentence is the waveform itself, not a copy (bench_audio:
            # copying a long clip from a fast model is a measurable part of its time).
            spoken = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
            events.preview(spoken[:, None])
        runtime = {"device": self.device, "dtype": self.dtype, "sentences": len(encoded),
                   "model_type": "bark" if self.bark is not None else "vits"}
        return clip.finish(request, resolved, spoken, rate, seed, runtime, started)
