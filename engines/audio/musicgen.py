"""Music and sound effects from text with transformers' MusicGen (AudioCraft's model).

With no parameters a generation is exactly the bare `model.generate(**inputs)` call: the
model's own generation config (MusicGen ships sampling with top-k 250, guidance 3 and 1500
tokens, i.e. 30 s). `duration_s` asks for 50 tokens a second (the codec's frame rate) and
the clip is cut to exactly that length. Progress counts tokens; `preview_every` decodes the
audio made so far; cancel stops at the next token. The post-processing steps of
engines/audio/edit.py run after the model.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from engines import devices, hf_folder
from engines.api import Cancelled, EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch
from engines.audio import clip, edit

ARCHITECTURES = ("MusicgenForConditionalGeneration",)
# Parameters of the model itself; re-processing a clip (init_audio) takes none of them.
MODEL_PARAMS = ("duration_s", "guidance_scale", "temperature", "top_k", "preview_every")


class MusicGenEngine:
    name = "musicgen"
    modality = "audio"
    takes_prompt = True
    inputs = ("init_audio",)
    default_model = None
    params = (
        Param("duration_s", "float", None, min=0.1, max=600.0,
              help="Length of the clip in seconds; the model's own (MusicGen: 30 s) when unset."),
        Param("guidance_scale", "float", None, min=0.0, max=20.0,
              help="How closely to follow the prompt (classifier-free guidance); the model's own (3) when unset."),
        Param("temperature", "float", None, min=0.0, max=5.0,
              help="Randomness of the sampling: 0 always takes the likeliest token; the model's own when unset."),
        Param("top_k", "int", None, min=0, max=2048,
              help="Sample only from the k likeliest tokens (0: no limit); the model's own (250) when unset."),
        Param("preview_every", "int", 0, min=0, max=10000, advanced=True,
              help="Send the audio made so far every N tokens (50 tokens a second; 0: no previews)."),
        edit.INIT_AUDIO,
        *edit.EDIT_PARAMS,
    )

    def __init__(self) -> None:
        self.model = None
        self.processor = None
        self.device = "cpu"
        self.dtype = "float32"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return any(a in ARCHITECTURES for a in hf_folder.architectures(path))

    @classmethod
    def warm_up(cls) -> None:
        """Import what load() imports."""
        devices.quiet_libraries()
        from transformers import AutoProcessor, MusicgenForConditionalGeneration  # noqa: F401

    def load(self, model_path: str, device: str) -> None:
        from transformers import AutoProcessor, MusicgenForConditionalGeneration

        devices.quiet_libraries()
        path = Path(model_path)
        if "MusicgenMelodyForConditionalGeneration" in hf_folder.architectures(path):
            # transformers' melody feature extractor and processor require torchaudio: PyPI's
            # newest (2.11.1) pins torch 2.11, and beside our torch 2.13 its _torchaudio.so fails
            # to load (it needs CUDA's libc10_cuda.so). The text-only path is not worth a model
            # whose point is the melody.
            raise EngineError(f"{path} is a MusicGen-melody model, which this engine cannot run yet: its melody "
                              "features need torchaudio, and no torchaudio build matches the installed PyTorch")
        if not self.accepts(path):
            raise EngineError(f"{path} is not a MusicGen model folder (its config.json names no "
                              f"{' or '.join(ARCHITECTURES)})")
        self.dtype = devices.default_dtype(device)
        try:
            # trust_remote_code stays off: a model folder never runs its own code here.
            self.processor = AutoProcessor.from_pretrained(path)
            model = MusicgenForConditionalGeneration.from_pretrained(
                path, use_safetensors=True, dtype=devices.torch_dtype(self.dtype))
        except hf_folder.LOAD_ERRORS as exc:
            raise hf_folder.load_failed("MusicGen model", path, exc) from exc
        self.model = model.to(device).eval()
        self.device = device

    def unload(self) -> None:
        self.model = self.processor = None
        devices.empty_cache(self.device)

    def memory_bytes(self) -> int:
        return hf_folder.weights_bytes(self.model)

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> float:
        """Tokens per second of audio (MusicGen's EnCodec: 50)."""
        return float(self.model.config.audio_encoder.frame_rate)

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        edit.check(request.params)
        if request.params.get("init_audio"):
            return clip.reprocess(request, MODEL_PARAMS, events)
        if self.model is None:
            raise EngineError("the MusicGen engine has no model loaded")
        if not request.prompt.strip():
            raise ParamError("the prompt is empty: describe the music or sound to make")
        kwargs, resolved = self._settings(request.params)
        inputs = self.processor(text=[request.prompt], padding=True, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return run_batch(request, events, lambda seed, ev: self._one(request, inputs, kwargs, resolved, seed, ev))

    def _settings(self, given: dict) -> tuple[dict, dict]:
        """The generate() arguments (only what was asked, so no parameters = the bare call),
        and every model parameter's value for the recipe."""
        config = self.model.generation_config
        kwargs: dict = {}
        delay = self._max_delay()
        if "duration_s" in given:
            kwargs["max_new_tokens"] = math.ceil(given["duration_s"] * self.frame_rate) + delay
            tokens = kwargs["max_new_tokens"]
        else:
            tokens = config.max_new_tokens or max(1, (config.max_length or 20) - 1)  # after the start token
        positions = self.model.config.decoder.max_position_embeddings
        if tokens + 1 > positions:
            longest = (positions - 1 - delay) / self.frame_rate
            raise ParamError(f"this model makes at most {longest:.1f} s in one clip "
                             f"(duration_s {given.get('duration_s', tokens / self.frame_rate):g} asked)")
        frames = tokens - delay
        if frames < 1:
            raise ParamError("duration_s is too short for this model: it makes at least one codec frame "
                             f"({1 / self.frame_rate:g} s)")
        resolved = {"duration_s": given.get("duration_s", round(frames / self.frame_rate, 6)),
                    "guidance_scale": given.get("guidance_scale", config.guidance_scale or 1.0)}
        if "guidance_scale" in given:
            kwargs["guidance_scale"] = given["guidance_scale"]
        if "temperature" in given:
            kwargs["do_sample"] = given["temperature"] > 0
            if kwargs["do_sample"]:
                kwargs["temperature"] = given["temperature"]
            sample = kwargs["do_sample"]
        else:
            sample = bool(config.do_sample)
        resolved["temperature"] = given.get("temperature", (config.temperature or 1.0) if sample else 0.0)
        if "top_k" in given:
            kwargs["top_k"] = given["top_k"]
        if sample:
            resolved["top_k"] = given.get("top_k", config.top_k if config.top_k is not None else 0)
        if given.get("preview_every"):
            resolved["preview_every"] = given["preview_every"]
        resolved["_tokens"] = tokens
        return kwargs, resolved

    def _max_delay(self) -> int:
        """MusicGen's delay pattern shifts codebook c by c // channels tokens, so the last
        codebooks lag this many tokens behind the first."""
        decoder = self.model.config.decoder
        return decoder.num_codebooks // decoder.audio_channels - 1

    def _one(self, request: Request, inputs: dict, kwargs: dict, resolved: dict, seed: int,
             events: Events) -> Output:
        import torch

        resolved = dict(resolved)
        tokens = resolved.pop("_tokens")
        watch = _Watch(self, tokens, resolved.get("preview_every", 0), events)
        started = time.perf_counter()
        torch.manual_seed(seed)  # sampling draws from torch's generator: seeded per output
        with torch.inference_mode():
            audio = self.model.generate(**inputs, **kwargs, stopping_criteria=[watch])
        samples = audio[0].float().cpu().numpy().T  # (channels, samples) -> (frames, channels)
        if "duration_s" in request.params:
            samples = samples[:round(request.params["duration_s"] * self.sample_rate)]
        else:  # the model's own length: record what came out, so a re-make asks for exactly that
            resolved["duration_s"] = round(len(samples) / self.sample_rate, 6)
        runtime = {"device": self.device, "dtype": self.dtype, "tokens": tokens}
        return clip.finish(request, resolved, samples, self.sample_rate, seed, runtime, started)

    def decode_so_far(self, input_ids):
        """The audio of the tokens generated so far, as (frames, channels) float32: the codes
        are taken out of the delay pattern and decoded by the codec, as generate() does at
        the end."""
        import torch

        decoder = self.model.config.decoder
        k, channels = decoder.num_codebooks, decoder.audio_channels
        ids = input_ids.reshape(-1, k, input_ids.shape[-1])[:1]  # the first (only) prompt
        frames = ids.shape[-1] - 1 - self._max_delay()
        if frames < 1:
            return None
        codes = torch.stack([ids[:, c, 1 + c // channels:1 + c // channels + frames] for c in range(k)], dim=1)
        codes = codes[None]  # (chunks, batch, codebooks, frames)
        with torch.inference_mode():
            parts = [self.model.audio_encoder.decode(codes[:, :, ch::channels], audio_scales=[None]).audio_values
                     for ch in range(channels)]
        return torch.cat(parts, dim=1)[0].float().cpu().numpy().T


class _Watch:
    """A stopping criterion that never stops: called by generate() after every token, it
    reports progress, sends previews and raises Cancelled after a cancel."""

    def __init__(self, engine: MusicGenEngine, total: int, every: int, events: Events):
        self.engine, self.total, self.every, self.events = engine, total, every, events
        self.step = 0
        self._no_stop = None

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if self.events.cancelled():
            raise Cancelled()  # the clip in progress is dropped
        self.step += 1
        self.events.progress(self.step, self.total)
        if self.every and self.step % self.every == 0:
            partial = self.engine.decode_so_far(input_ids)
            if partial is not None:
                self.events.preview(partial)
        if self._no_stop is None or self._no_stop.shape[0] != input_ids.shape[0]:
            self._no_stop = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return self._no_stop
