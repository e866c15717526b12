"""Stable Diffusion (1.x, 2.x, SDXL) through diffusers pipelines.

With no parameters a generation is exactly the bare pipeline call on the same folder and
seed: the defaults are diffusers' own (50 steps, guidance 7.5, the model's native size and
the scheduler saved with the model).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from engines import devices
from engines.api import Cancelled, EngineError, Events, Output, Param, Request, check_request, run_batch

# Scheduler names as AUTOMATIC1111 shows them, and how diffusers builds each one on top of
# the model's own scheduler config.
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "PLMS": ("PNDMScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
    "LCM": ("LCMScheduler", {}),
}
PIPELINES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline")


def scheduler_name(config: dict) -> str:
    """The A1111 name of a scheduler config (the class name when A1111 has none)."""
    cls = config.get("_class_name", "")
    if cls == "DPMSolverMultistepScheduler":
        return "DPM++ 2M Karras" if config.get("use_karras_sigmas") else "DPM++ 2M"
    for name, (class_name, _) in SCHEDULERS.items():
        if class_name == cls:
            return name
    return cls


class DiffusionEngine:
    name = "diffusion"
    modality = "image"
    takes_prompt = True
    inputs = ()
    default_model = None
    params = (
        Param("num_steps", "int", 50, min=1, max=500, help="Denoising steps: more is slower and often finer."),
        Param("guidance_scale", "float", 7.5, min=0.0, max=50.0,
              help="How closely to follow the prompt (CFG scale); 1 or less turns guidance off."),
        Param("width", "int", None, min=64, max=4096, multiple_of=8,
              help="Image width in pixels, a multiple of 8; the model's native size when unset."),
        Param("height", "int", None, min=64, max=4096, multiple_of=8,
              help="Image height in pixels, a multiple of 8; the model's native size when unset."),
        Param("scheduler", "choice", None, choices=tuple(SCHEDULERS),
              help="Sampler, named as AUTOMATIC1111 names it; the model's own when unset."),
    )

    def __init__(self) -> None:
        self.pipe = None
        self.device = "cpu"
        self.dtype = "float32"
        self._scheduler_config: dict = {}

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return _pipeline_class(Path(path)) in PIPELINES

    def load(self, model_path: str, device: str) -> None:
        import diffusers

        devices.quiet_libraries()
        path = Path(model_path)
        class_name = _pipeline_class(path)
        if class_name is None:
            raise EngineError(f"{path} is not a diffusers pipeline folder (it has no readable model_index.json)")
        if class_name not in PIPELINES:
            raise EngineError(f"{path.name} is a {class_name}; the diffusion engine loads "
                              f"{' and '.join(PIPELINES)} models")
        self.dtype = devices.default_dtype(device)
        extra = {"safety_checker": None, "requires_safety_checker": False} if class_name == PIPELINES[0] else {}
        try:
            pipe = getattr(diffusers, class_name).from_pretrained(
                path, use_safetensors=True, dtype=devices.torch_dtype(self.dtype), **extra
            )
        except (OSError, ValueError, RuntimeError, EnvironmentError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise EngineError(f"could not load the model in {path}: {first}") from exc
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(device)
        self.device = device
        self._scheduler_config = dict(pipe.scheduler.config)

    def unload(self) -> None:
        self.pipe = None
        devices.empty_cache(self.device)

    def memory_bytes(self) -> int:
        if self.pipe is None:
            return 0
        total = 0
        for component in self.pipe.components.values():
            for tensor in [*getattr(component, "parameters", list)(), *getattr(component, "buffers", list)()]:
                total += tensor.numel() * tensor.element_size()
        return total

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        if self.pipe is None:
            raise EngineError("the diffusion engine has no model loaded")
        params = self._resolve(request.params)
        return run_batch(request, events, lambda seed, ev: self._one(request, params, seed, ev))

    def _resolve(self, given: dict) -> dict:
        """Every parameter's actual value, so the recipe re-makes the output exactly."""
        native = self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor
        return {
            "num_steps": given.get("num_steps", 50),
            "guidance_scale": given.get("guidance_scale", 7.5),
            "width": given.get("width", native),
            "height": given.get("height", native),
            "scheduler": given.get("scheduler") or scheduler_name(self._scheduler_config),
        }

    def _scheduler(self, name: str):
        import diffusers

        if name not in SCHEDULERS:  # the model's own, which A1111 has no name for
            return getattr(diffusers, self._scheduler_config["_class_name"]).from_config(self._scheduler_config)
        class_name, overrides = SCHEDULERS[name]
        return getattr(diffusers, class_name).from_config(self._scheduler_config, **overrides)

    def _one(self, request: Request, params: dict, seed: int, events: Events) -> Output:
        import torch

        def on_step_end(pipe, step, timestep, kwargs):
            events.progress(step + 1, pipe.num_timesteps)
            if events.cancelled():
                raise Cancelled()  # before the VAE decode: nothing half-done comes out
            return kwargs

        start = time.perf_counter()
        self.pipe.scheduler = self._scheduler(params["scheduler"])  # schedulers keep state: a fresh one
        image = self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            num_inference_steps=params["num_steps"],
            guidance_scale=params["guidance_scale"],
            width=params["width"],
            height=params["height"],
            generator=torch.Generator("cpu").manual_seed(seed),  # the same first noise on every device
            callback_on_step_end=on_step_end,
        ).images[0]
        data = np.asarray(image)
        recipe = request.replace(seed=seed, count=1, params=params).to_dict()
        recipe["runtime"] = {
            "device": self.device,
            "dtype": self.dtype,
            "pipeline": type(self.pipe).__name__,
            "time_s": round(time.perf_counter() - start, 4),
        }
        return Output(kind="image", data=data, seed=seed, recipe=recipe, mime="image/png",
                      width=data.shape[1], height=data.shape[0])


def _pipeline_class(path: Path) -> str | None:
    try:
        return json.loads((path / "model_index.json").read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None
