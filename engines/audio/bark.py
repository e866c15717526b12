"""Bark (Suno's text-to-speech, transformers' BarkModel) for the speech engine: its voice
presets and one sentence through the bare `model.generate(**processor(text, voice_preset=…))`.

Voice presets live in the model folder, as the Hub holds them: `speaker_embeddings_path.json`
names each preset's three arrays (.npy files), and Bark's own single-file presets
(`speaker_embeddings/**/NAME.npz`, as suno-ai/bark ships and voice-cloning tools write them)
are listed beside them. Every array is read here with numpy's `allow_pickle=False` and checked
before the processor sees it; a preset naming any other kind of file, or a file outside the
model folder, is refused.

Bark draws every sample from torch's generator: the semantic and coarse models sample their
tokens, the fine model samples its codebooks (unless its temperature is 1). The speech engine
seeds that generator once per text, so the same recipe speaks the same line. Progress comes
per sub-model (semantic, coarse, fine) and cancel is checked at every step of each, through
pre-hooks on each sub-model's first transformer block: nothing is added to the generate() call.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engines.api import Cancelled, EngineError, Events, ParamError

ARCHITECTURES = ("BarkModel",)
EMBEDDINGS_JSON = "speaker_embeddings_path.json"
PRESETS_FOLDER = "speaker_embeddings"
PROMPT_KEYS = ("semantic_prompt", "coarse_prompt", "fine_prompt")
STAGES = 3  # progress steps per sentence: semantic, coarse, then fine + the codec decode


def presets(folder: Path) -> dict[str, object]:
    """Voice name -> where its arrays are: a {key: relative .npy path} dict from the JSON
    listing, or the relative path of a single .npz. Nothing is read but the listing; a listed
    voice whose files are not all there (a partial download) is left out, as transformers'
    processor leaves it out."""
    found: dict[str, object] = {}
    listing = folder / EMBEDDINGS_JSON
    if listing.is_file():
        try:
            entries = json.loads(listing.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EngineError(f"{listing} cannot be read as JSON: {exc}") from exc
        if not isinstance(entries, dict):
            raise EngineError(f"{listing} is not a mapping of voice names to their files")
        for name, files in entries.items():
            if name != "repo_or_path" and isinstance(files, dict) and all(
                    isinstance(f, str) and (folder / f).is_file() for f in files.values()):
                found[name] = files
    for npz in sorted((folder / PRESETS_FOLDER).rglob("*.npz")):
        found.setdefault(npz.relative_to(folder / PRESETS_FOLDER).with_suffix("").as_posix(),
                         npz.relative_to(folder).as_posix())
    return found


def load_preset(folder: Path, name: str, where: object, semantic_vocab: int, codebook: int,
                coarse_books: int, fine_books: int) -> dict[str, np.ndarray]:
    """The three arrays of voice `name`, read without pickles and checked against the model."""
    try:
        if isinstance(where, str):
            with np.load(_inside(folder, where, name, (".npz",)), allow_pickle=False) as npz:
                missing = [k for k in PROMPT_KEYS if k not in npz.files]
                if missing:
                    raise EngineError(f"voice {name!r} ({where}) has no {', '.join(missing)}")
                arrays = {k: npz[k] for k in PROMPT_KEYS}
        else:
            missing = [k for k in PROMPT_KEYS if not isinstance(where.get(k), str)]
            if missing:
                raise EngineError(f"voice {name!r} in {EMBEDDINGS_JSON} names no file for {', '.join(missing)}")
            arrays = {k: np.load(_inside(folder, where[k], name, (".npy",)), allow_pickle=False)
                      for k in PROMPT_KEYS}
    except (OSError, ValueError) as exc:  # numpy refuses pickled (object) arrays with a ValueError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EngineError(f"voice {name!r} cannot be read as plain numpy arrays: {first}") from exc
    shapes = {"semantic_prompt": (1, None, semantic_vocab), "coarse_prompt": (2, coarse_books, codebook),
              "fine_prompt": (2, fine_books, codebook)}
    for key, array in arrays.items():
        dims, rows, limit = shapes[key]
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.integer):
            raise EngineError(f"voice {name!r}: {key} must be an array of whole numbers (codes)")
        if array.ndim != dims or (rows is not None and array.shape[0] != rows) or array.size == 0:
            want = f"({rows}, frames)" if rows else "(tokens,)"
            raise EngineError(f"voice {name!r}: {key} has shape {array.shape}; this model needs {want}")
        if array.min() < 0 or array.max() >= limit:
            raise EngineError(f"voice {name!r}: {key} holds codes outside 0..{limit - 1}: "
                              "the preset was made for another Bark model")
    return arrays


def _inside(folder: Path, relative: str, name: str, suffixes: tuple[str, ...]) -> Path:
    """`relative` within the model folder, of an allowed kind, and present. Lexical, as
    transformers checks it: a Hub cache snapshot's files are links into its blobs folder."""
    path = Path(os.path.abspath(folder / relative))
    if os.path.commonpath([os.path.abspath(folder), path]) != os.path.abspath(folder):
        raise EngineError(f"voice {name!r} points outside the model folder ({relative}): refused")
    if path.suffix.lower() not in suffixes:
        raise EngineError(f"voice {name!r} is stored as {path.name}; only numpy arrays "
                          f"({' or '.join(suffixes)}, no pickles) are read")
    if not path.is_file():
        raise EngineError(f"voice {name!r}: {relative} is missing from the model folder")
    return path


class BarkVoice:
    """A loaded Bark model, its processor and its voice presets."""

    def __init__(self, path: Path, device: str, dtype):
        from transformers import BarkModel, BarkProcessor

        self.path = path
        self.processor = BarkProcessor.from_pretrained(path)
        self.model = BarkModel.from_pretrained(path, use_safetensors=True, dtype=dtype).to(device).eval()
        self.device = device
        self.presets = presets(path)

    @property
    def sample_rate(self) -> int:
        return int(self.model.generation_config.sample_rate)

    def voices(self) -> list[str]:
        return list(self.presets)

    def check_voice(self, voice: str) -> None:
        if voice not in self.presets:
            have = (f"its voices are: {', '.join(self.presets)}" if self.presets else
                    f"it has no voice presets ({EMBEDDINGS_JSON} or {PRESETS_FOLDER}/*.npz): leave voice unset")
            raise ParamError(f"unknown voice {voice!r} for this Bark model; {have}")

    def encode(self, sentence: str, voice: str | None) -> dict:
        """processor(sentence, voice_preset=…) with the preset's arrays read safely here."""
        config = self.model.generation_config
        preset = None
        if voice is not None:
            coarse = config.coarse_acoustics_config
            preset = load_preset(self.path, voice, self.presets[voice],
                                 config.semantic_config["semantic_vocab_size"], int(config.codebook_size),
                                 coarse["n_coarse_codebooks"], config.fine_acoustics_config["n_fine_codebooks"])
        inputs = self.processor(sentence, voice_preset=preset)
        longest = config.semantic_config["max_input_semantic_length"]
        tokens = int(inputs["attention_mask"].sum())
        if tokens > longest:
            raise ParamError(f"the sentence {sentence[:40]!r}… is {tokens} tokens long; Bark reads at most "
                             f"{longest}: split it into shorter sentences")
        return {k: v.to(self.device) for k, v in inputs.items()}

    def speak(self, inputs: dict, events: Events, done: int, total: int) -> np.ndarray:
        """One sentence: the bare generate() call, watched. Reports progress done+1 and done+2
        as the coarse and fine models start; the caller reports done+3 when it returns."""
        import torch

        model = self.model
        watched = (model.semantic.layers[0], model.coarse_acoustics.layers[0], model.fine_acoustics.layers[0],
                   model.codec_model.decoder)
        started = set()

        def hook(stage: int):
            def check(module, args):
                if events.cancelled():
                    raise Cancelled()  # the sentence in progress is dropped
                if stage not in started:
                    started.add(stage)
                    if 0 < stage < STAGES:
                        events.progress(done + stage, total)
            return check

        handles = [m.register_forward_pre_hook(hook(i)) for i, m in enumerate(watched)]
        try:
            with torch.inference_mode():
                audio = model.generate(**inputs)
        finally:
            for handle in handles:
                handle.remove()
        return audio[0].float().cpu().numpy()
