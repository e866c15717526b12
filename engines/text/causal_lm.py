"""Local language models through transformers: item names, descriptions, dialogue, ad copy.

With no parameters a generation is exactly the bare `model.generate(**inputs)` call: the
model's own generation config, no repetition penalty and no stop strings of ours. Tokens
stream out as previews; cancel stops at the next token.

`loras` applies LoRA adapters (peft folders, as the lora-text trainer writes them) for one
generation: injected into the cached model, then removed, so the next generation without them
is the plain model's again.
"""
from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from engines import devices, hf_folder
from engines.api import Cancelled, EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch
from engines.text.lists import list_items

SAMPLING = ("top_k", "top_p", "min_p")


class CausalLMEngine:
    name = "causal-lm"
    modality = "text"
    takes_prompt = True
    inputs = ()
    default_model = "starter:causal-lm/game-names"  # shipped in resources/ (tools/starters/text_names.py)
    params = (
        Param("max_new_tokens", "int", None, min=1, max=8192,
              help="Most tokens to write; the model's own limit when unset."),
        Param("temperature", "float", None, min=0.0, max=5.0,
              help="Randomness: 0 always takes the likeliest token (greedy); higher is wilder."),
        Param("top_k", "int", None, min=0, max=1000, help="Sample only from the k likeliest tokens (0: no limit)."),
        Param("top_p", "float", None, min=0.01, max=1.0,
              help="Sample from the smallest set of tokens whose chances add up to p."),
        Param("min_p", "float", None, min=0.0, max=1.0,
              help="Drop tokens less likely than min_p times the likeliest one."),
        Param("repetition_penalty", "float", None, min=0.5, max=3.0,
              help="Above 1 discourages repeating tokens; none by default."),
        Param("stop", "strings", None, help="Stop when any of these strings appears (it is not kept)."),
        Param("system_prompt", "str", None, help="Instructions for a chat model (its chat template is used)."),
        Param("mode", "choice", "text", choices=("text", "list"),
              help="list: split the answer into items (numbered, bulleted or JSON), one output each."),
        Param("loras", "loras", None,
              help="LoRA adapters with weights, [[folder, weight], ...]: peft adapter folders "
                   "(adapter_config.json + adapter_model.safetensors), as `assetsmith train --engine lora-text` "
                   "makes them; 1.0 applies one as trained."),
    )

    def __init__(self) -> None:
        self.model = None
        self.tokenizer = None
        self.device = "cpu"
        self.dtype = "float32"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in hf_folder.architectures(path))

    @classmethod
    def warm_up(cls) -> None:
        """Import what load() imports (each architecture's own module still comes with its model)."""
        devices.quiet_libraries()
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationMixin  # noqa: F401

    def load(self, model_path: str, device: str) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        devices.quiet_libraries()
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise EngineError(f"{path} is not a transformers model folder (it has no config.json)")
        self.dtype = devices.default_dtype(device)
        try:
            # trust_remote_code stays off: a model folder never runs its own code here.
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True,
                                                         dtype=devices.torch_dtype(self.dtype))
        except hf_folder.LOAD_ERRORS as exc:
            raise hf_folder.load_failed("language model", path, exc) from exc
        self.model = model.to(device).eval()
        self.device = device

    def unload(self) -> None:
        self.model = self.tokenizer = None
        devices.empty_cache(self.device)

    def memory_bytes(self) -> int:
        return hf_folder.weights_bytes(self.model)

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        if self.model is None:
            raise EngineError("the text engine has no model loaded")
        if not request.prompt.strip():
            raise ParamError("the prompt is empty: the text engine continues or answers a prompt")
        inputs = self._encode(request.prompt, request.params.get("system_prompt"))
        kwargs, resolved = self._settings(request.params, inputs["input_ids"].shape[1])
        adapters = [(adapter_folder(file), weight) for file, weight in request.params.get("loras") or []]
        with _adapters(self.model, adapters) as model:
            return run_batch(request, events,
                             lambda seed, ev: self._one(model, request, inputs, kwargs, resolved, seed, ev))

    def _encode(self, prompt: str, system: str | None):
        template = getattr(self.tokenizer, "chat_template", None)
        if template:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}]
            inputs = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                        return_dict=True)
        elif system:
            raise ParamError("this model has no chat template, so it takes no system prompt: "
                             "write the instructions into the prompt itself")
        else:
            inputs = self.tokenizer(prompt, return_tensors="pt")
        return {k: v.to(self.device) for k, v in inputs.items()}

    def _settings(self, given: dict, prompt_tokens: int) -> tuple[dict, dict]:
        """The generate() arguments, and every parameter's value for the recipe."""
        config = self.model.generation_config
        resolved = {k: v for k, v in given.items()}
        if "max_new_tokens" not in given:
            # The model's own limit, as generate() works it out: its max_new_tokens, else its
            # max_length less the prompt, else transformers' default of 20 new tokens.
            from_length = config.max_length and max(1, config.max_length - prompt_tokens)
            resolved["max_new_tokens"] = config.max_new_tokens or from_length or 20
        if "temperature" in given:
            sample = given["temperature"] > 0
        else:
            sample = bool(config.do_sample) or any(k in given for k in SAMPLING)
            resolved["temperature"] = (config.temperature or 1.0) if sample else 0.0
        kwargs = {k: resolved[k] for k in ("max_new_tokens", *SAMPLING, "repetition_penalty") if k in resolved}
        kwargs["do_sample"] = sample
        if sample:
            kwargs["temperature"] = resolved["temperature"]
        resolved.setdefault("mode", "text")
        return kwargs, resolved

    def _one(self, model, request: Request, inputs: dict, kwargs: dict, resolved: dict, seed: int,
             events: Events) -> list[Output]:
        import torch

        watch = _Watch(self.tokenizer, inputs["input_ids"].shape[1], kwargs["max_new_tokens"],
                       resolved.get("stop") or [], events)
        start = time.perf_counter()
        torch.manual_seed(seed)  # sampling draws from torch's generator: seeded per output
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.inference_mode():
            out = model.generate(**inputs, **kwargs, pad_token_id=pad, stopping_criteria=[watch])
        new = out[0, inputs["input_ids"].shape[1]:]
        raw = self.tokenizer.decode(new, skip_special_tokens=True)
        text = _cut_at_stop(raw, resolved.get("stop") or [])
        events.preview(text)  # the whole text, last
        elapsed = time.perf_counter() - start
        recipe = request.replace(seed=seed, count=1, params=resolved).to_dict()
        recipe["runtime"] = {"device": self.device, "dtype": self.dtype, "tokens": int(new.numel()),
                             "time_s": round(elapsed, 4), "chat_template": bool(self.tokenizer.chat_template)}
        if resolved["mode"] != "list":
            return [Output(kind="text", data=text, seed=seed, recipe=recipe, mime="text/plain")]
        # Out of tokens: neither the end-of-text token nor a stop string ended the text.
        eos = self.tokenizer.eos_token_id
        cut_off = new.numel() >= kwargs["max_new_tokens"] and (eos is None or int(new[-1]) != eos) and text == raw
        items = list_items(request.prompt, text, cut_off) or [text.strip()]
        return [Output(kind="text", data=item, seed=seed, recipe={**recipe, "item": i}, mime="text/plain")
                for i, item in enumerate(items)]


def adapter_folder(file: str) -> Path:
    """The peft adapter folder a `loras` entry names (the folder, or its adapter file)."""
    path = Path(file).expanduser()
    if path.is_file() and path.suffix.lower() == ".safetensors":
        path = path.parent
    if not path.exists():
        raise ParamError(f"LoRA adapter {file} does not exist")
    if not (path / "adapter_config.json").is_file():
        raise ParamError(f"LoRA {path.name} is not a peft adapter folder (no adapter_config.json); the text "
                         "engine takes the adapters `assetsmith train --engine lora-text` makes")
    if not (path / "adapter_model.safetensors").is_file():
        raise ParamError(f"LoRA adapter {path.name} has no adapter_model.safetensors; pickle weights (.bin) can "
                         "run code when loaded: convert it to .safetensors first")
    return path


def _check_fits(model, folder: Path) -> None:
    """A clear error when an adapter was trained for another model (architecture or size),
    from what its model.json (ours) or adapter_config.json says, before peft tries."""
    try:
        info = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError):
        info = {}
    trained_for = info.get("base_model") if isinstance(info, dict) else None
    if isinstance(trained_for, dict):
        ours = hf_folder.base_fingerprint(model.config)
        wrong = {k: (v, ours.get(k)) for k, v in trained_for.items() if v is not None and ours.get(k) != v}
        if wrong:
            said = ", ".join(f"{k} {a} (this model: {b})" for k, (a, b) in wrong.items())
            raise EngineError(f"LoRA adapter {folder.name} was trained for another model ({said}); "
                              f"load its base, {Path(str(info.get('base', '?'))).name}, to use it")
    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("task_type") not in (None, "CAUSAL_LM"):
        raise EngineError(f"LoRA adapter {folder.name} is for a {config['task_type']} model, not a causal language model")


@contextmanager
def _adapters(model, adapters: list[tuple[Path, float]]):
    """The model with the adapters applied at their weights for one generation; afterwards
    the peft layers are taken out again, leaving the cached model as it was loaded."""
    if not adapters:
        yield model
        return
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    for folder, _ in adapters:
        _check_fits(model, folder)
    names = [f"lora_{i}" for i in range(len(adapters))]
    peft_model = None
    try:
        for name, (folder, _) in zip(names, adapters):
            try:
                with warnings.catch_warnings():  # transformers' deprecation notes about peft's calls
                    warnings.simplefilter("ignore", FutureWarning)
                    if peft_model is None:
                        peft_model = PeftModel.from_pretrained(model, folder, adapter_name=name)
                    else:
                        peft_model.load_adapter(folder, adapter_name=name)
            except (ValueError, KeyError, OSError, RuntimeError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise EngineError(f"LoRA adapter {folder.name} does not fit this model: {first[:200]}") from exc
        peft_model.base_model.set_adapter(names)  # all of them at once, each at its own weight
        for module in peft_model.modules():
            if isinstance(module, LoraLayer):
                for name, (_, weight) in zip(names, adapters):
                    module.set_scale(name, weight)
        peft_model.eval()
        yield peft_model
    finally:
        if peft_model is not None:
            peft_model.unload()  # the original layers back in place, adapters dropped
        else:  # peft failed half-way (a shape mismatch after injecting its layers)
            _strip_adapters(model)
        if hasattr(model, "peft_config"):
            del model.peft_config


def _strip_adapters(model) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, module.get_base_layer())


def _cut_at_stop(text: str, stops: list[str]) -> str:
    cut = min((text.find(s) for s in stops if s and s in text), default=-1)
    return text if cut < 0 else text[:cut]


class _Watch:
    """A stopping criterion that also streams: called by generate() after every new token, it
    reports progress and text previews, stops at a stop string, and raises Cancelled after a
    cancel. (Not a transformers streamer: that path costs ~0.1 ms a token by itself.) Decoding
    is the per-token cost, so it runs only when a stop string needs checking or a preview is
    due (at most every PREVIEW_S; the window repaints no faster)."""

    PREVIEW_S = 0.05

    def __init__(self, tokenizer, prompt_tokens: int, max_new: int, stops: list[str], events: Events):
        self.tokenizer, self.prompt_tokens, self.max_new = tokenizer, prompt_tokens, max_new
        self.stops, self.events = [s for s in stops if s], events
        self.ids: list[int] = []
        self.text = ""
        self._last_preview = 0.0
        self._no_stop = None

    def decode(self) -> str:
        self.text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        return self.text

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        if self.events.cancelled():
            raise Cancelled()  # the candidate in progress is dropped
        self.ids.append(int(input_ids[0, -1]))
        self.events.progress(len(self.ids), self.max_new)
        if self.stops:
            self.decode()
        now = time.perf_counter()
        if now - self._last_preview >= self.PREVIEW_S:
            self._last_preview = now
            self.events.preview(_cut_at_stop(self.text if self.stops else self.decode(), self.stops))
        if self.stops and any(s in self.text for s in self.stops):
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if self._no_stop is None or self._no_stop.shape[0] != input_ids.shape[0]:
            self._no_stop = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return self._no_stop
