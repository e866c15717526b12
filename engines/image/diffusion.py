"""Stable Diffusion (1.x, 2.x, SDXL) through diffusers pipelines, from a diffusers folder or a
single-file `.safetensors` checkpoint as people download them.

With no parameters a generation is exactly the bare pipeline call on the same folder and
seed: the defaults are diffusers' own (50 steps, guidance 7.5, the model's native size and
the scheduler saved with the model).
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

from engines import devices
from engines.api import (
    SEED_MAX, Cancelled, EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch,
)
from engines.image import checkpoints, latents, memory, previews, tiling

# Scheduler names as AUTOMATIC1111 shows them, and how diffusers builds each one on top of
# the model's own scheduler config (the mapping of diffusers' scheduler docs). The overrides
# pin what tells variants of one class apart, so a name always means one sampler.
_DPM2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
_DPM2M_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {**_DPM2M, "use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {**_DPM2M, "use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {**_DPM2M_SDE, "use_karras_sigmas": False}),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", {**_DPM2M_SDE, "use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "PLMS": ("PNDMScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
    "LCM": ("LCMScheduler", {}),
}
PIPELINES = ("StableDiffusionPipeline", "StableDiffusionXLPipeline")
PICKLE_SUFFIXES = checkpoints.PICKLE_SUFFIXES
NOT_LOADED = ("safety_checker",)  # as in A1111 and ComfyUI: may be absent or pickled


def scheduler_name(config: dict) -> str | None:
    """The A1111 name of a scheduler config, or None when none of ours fits it exactly.

    A name is given only when building that name from this config changes nothing, so a
    recipe naming it re-makes the same sampler."""
    cls = config.get("_class_name", "")
    for name, (class_name, overrides) in SCHEDULERS.items():
        if class_name == cls and all(config.get(k, v) == v for k, v in overrides.items()):
            return name
    return None


class DiffusionEngine:
    name = "diffusion"
    modality = "image"
    takes_prompt = True
    inputs = ("init_image", "mask_image")
    default_model = None
    params = (
        Param("num_steps", "int", 50, min=1, max=500, help="Denoising steps: more is slower and often finer."),
        Param("guidance_scale", "float", None, min=0.0, max=50.0,
              help="How closely to follow the prompt (CFG scale); 1 or less turns guidance off. "
                   "The pipeline's own when unset (7.5 for SD, 5 for SDXL)."),
        Param("width", "int", None, min=64, max=4096, multiple_of=8,
              help="Image width in pixels, a multiple of 8; the model's native size when unset."),
        Param("height", "int", None, min=64, max=4096, multiple_of=8,
              help="Image height in pixels, a multiple of 8; the model's native size when unset."),
        Param("scheduler", "choice", None, choices=tuple(SCHEDULERS),
              help="Sampler, named as AUTOMATIC1111 names it; the model's own when unset."),
        Param("init_image", "file", None,
              help="Start from this image (img2img); with a mask, repaint part of it (inpainting)."),
        Param("strength", "float", None, min=0.0, max=1.0,
              help="How much of the init image to repaint: 0 keeps it, 1 ignores it "
                   "(diffusers' default: 0.8 for img2img, 1.0 for inpainting)."),
        Param("mask_image", "file", None,
              help="White where the init image is repainted, black where it is kept; same size."),
        Param("variation_seed", "int", None, min=0, max=SEED_MAX,
              help="Vary the image: mix the seed's noise with this seed's (A1111's variation seed)."),
        Param("variation_strength", "float", None, min=0.0, max=1.0,
              help="How far towards the variation seed: 0 is the seed itself, 1 the variation seed."),
        Param("loras", "loras", None,
              help="LoRA files with weights, [[file, weight], ...]: diffusers/PEFT or kohya layout, "
                   ".safetensors only."),
        Param("tiling", "choice", "none", choices=tiling.MODES,
              help="Seamless texture: the image wraps around along x, y or both."),
        Param("preview_every", "int", 0, min=0, max=1000, advanced=True,
              help="Send a cheap preview of the image in progress every N steps (0: none)."),
        Param("base_model", "str", None, advanced=True,
              help="For a single-file checkpoint: the base model whose configs fit it "
                   f"({', '.join(checkpoints.BASES)}) or a diffusers folder of its family; the file's "
                   "weights cannot tell a Turbo model from its base. Its family's usual base when unset."),
        Param("offload", "choice", "auto", choices=("auto", *memory.OFFLOAD), advanced=True,
              help="GPU memory: keep the whole model on the GPU (none), move each part there while "
                   "it runs (model), or each layer (sequential, least memory, slowest); auto picks "
                   "from the free memory."),
        Param("vae_tiling", "choice", "auto", choices=("auto", *memory.VAE_TILING), advanced=True,
              help="Decode the image in tiles (less memory for large images); auto tiles on a GPU "
                   "when the decode would not fit comfortably."),
    )
    MODE_DEFAULT_STRENGTH = {"img2img": 0.8, "inpaint": 1.0}

    def __init__(self) -> None:
        self.pipe = None
        self._mode_pipes: dict = {}
        self.device = "cpu"
        self.dtype = "float32"
        self._scheduler_config: dict = {}
        self.checkpoint: Path | None = None  # a single-file model: built on first use, per base_model
        self.family: str | None = None
        self._base: str | None = None
        self._offload = "none"
        self._previewer: previews.Previewer | None = None

    @classmethod
    def accepts(cls, path: Path) -> bool:
        path = Path(path)
        if path.is_file():
            try:
                checkpoints.detect_family(path)
            except EngineError:
                return False
            return True
        return _pipeline_class(path) in PIPELINES

    @classmethod
    def warm_up(cls) -> None:
        """Import what load() imports: diffusers' pipelines, transformers' CLIP with them, the
        guiders a pipeline's loader looks through and the schedulers a scheduler lists as
        compatible (22 modules that the first load imported after the pipelines alone)."""
        import importlib

        import diffusers

        devices.quiet_libraries()
        for name in PIPELINES:
            getattr(diffusers, name)
        importlib.import_module("diffusers.guiders")
        from diffusers.schedulers import KarrasDiffusionSchedulers  # a scheduler's compatibles are these

        for scheduler in KarrasDiffusionSchedulers:
            getattr(diffusers, scheduler.name, None)

    def load(self, model_path: str, device: str) -> None:
        devices.quiet_libraries()
        path = Path(model_path)
        self.device = device
        self.dtype = memory.pick_dtype(device, devices.bf16_supported(device))
        if path.is_file() or path.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES):
            # The header tells the family now; the pipeline needs the base model's configs,
            # which the request may choose (base_model), so it is built on the first generation.
            self.family = checkpoints.detect_family(path)
            self.checkpoint = path
            return
        import diffusers

        class_name = _check_folder(path)
        extra = {"safety_checker": None, "requires_safety_checker": False} if class_name == PIPELINES[0] else {}
        self._set_pipe(lambda dtype: getattr(diffusers, class_name).from_pretrained(
            path, use_safetensors=True, dtype=dtype, **extra), f"the model in {path}")

    def _set_pipe(self, build, what: str) -> None:
        """Build a pipeline (with the engine's dtype), turning library errors into one clear
        line, and put it on the device."""
        from safetensors import SafetensorError

        try:
            pipe = build(devices.torch_dtype(self.dtype))
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, SafetensorError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if isinstance(exc, SafetensorError):  # its message names no file
                first = f"a .safetensors file in it is damaged or truncated ({first})"
            raise EngineError(f"could not load {what}: {first[:300]}") from exc
        pipe.set_progress_bar_config(disable=True)
        self.pipe, self._mode_pipes, self._previewer = pipe, {}, None
        self._scheduler_config = dict(pipe.scheduler.config)
        self._offload = "none"
        if self.device.startswith("cuda"):
            sizes = memory.component_bytes(pipe)
            native = pipe.unet.config.sample_size * pipe.vae_scale_factor
            self._offload = memory.plan_memory(devices.free_memory(self.device), sum(sizes.values()),
                                               max(sizes.values()), native, native).offload
        memory.place(pipe, self.device, self._offload)

    def _checkpoint_pipe(self, base_model: str | None) -> str:
        """The pipeline of the loaded single-file checkpoint with `base_model`'s configs
        (rebuilt only when the base changes); returns the base as the recipe records it."""
        recorded, folder = checkpoints.base_configs(self.family, base_model)
        if self._base != recorded or self.pipe is None:
            self.pipe = None
            devices.empty_cache(self.device)
            self._set_pipe(lambda dtype: checkpoints.load_pipeline(self.checkpoint, self.family, folder, dtype),
                           f"{self.checkpoint.name} with the configs of {recorded}")
            self._base = recorded
        return recorded

    def unload(self) -> None:
        self.pipe = None
        self._mode_pipes = {}
        self._previewer = None
        self._base = None
        devices.empty_cache(self.device)

    def memory_bytes(self) -> int:
        return sum(memory.component_bytes(self.pipe).values()) if self.pipe is not None else 0

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        base = None
        if self.checkpoint is not None:
            base = self._checkpoint_pipe(request.params.get("base_model"))
        elif "base_model" in request.params:
            raise ParamError("base_model applies to single-file checkpoints; this model is a diffusers folder")
        if self.pipe is None:
            raise EngineError("the diffusion engine has no model loaded")
        params = self._resolve(request.params)
        if base is not None:
            params["base_model"] = base
        return run_batch(request, events, lambda seed, ev: self._one(request, params, seed, ev))

    def _resolve(self, given: dict) -> dict:
        """Every parameter's actual value, so the recipe re-makes the output exactly."""
        native = self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor
        resolved = {
            "num_steps": given.get("num_steps", 50),
            "guidance_scale": given.get("guidance_scale", _call_default(self.pipe, "guidance_scale")),
            "width": given.get("width", native),
            "height": given.get("height", native),
        }
        # The model's own scheduler is recorded by its A1111 name; one that has none is left
        # out (= "the model's own" again on a re-make) and named by class in the runtime.
        scheduler = given.get("scheduler") or scheduler_name(self._scheduler_config)
        if scheduler:
            resolved["scheduler"] = scheduler
        if ("variation_seed" in given) != ("variation_strength" in given):
            raise ParamError("variation_seed and variation_strength go together: give both")
        if "variation_seed" in given:
            resolved["variation_seed"] = given["variation_seed"]
            resolved["variation_strength"] = given["variation_strength"]
        if given.get("loras"):
            for file, _ in given["loras"]:
                if not Path(file).is_file():
                    raise ParamError(f"LoRA file {file} does not exist")
                if Path(file).suffix.lower() != ".safetensors":
                    raise ParamError(f"LoRA file {Path(file).name} is not .safetensors; pickle files can run "
                                     "code when loaded: convert it to .safetensors first")
            resolved["loras"] = given["loras"]
        if given.get("tiling", "none") != "none":
            resolved["tiling"] = given["tiling"]
        if given.get("preview_every"):
            resolved["preview_every"] = given["preview_every"]
        # Memory settings go into the recipe only when chosen: "auto" is decided per device
        # (recorded in the runtime), and tiling the VAE can change the pixels.
        for name in ("offload", "vae_tiling"):
            if given.get(name, "auto") != "auto":
                resolved[name] = given[name]
        if resolved.get("offload", "none") != "none" and not self.device.startswith("cuda"):
            raise ParamError(f"offload applies on a CUDA GPU; on {self.device} the model is in memory already")
        mode = _mode(given)
        if mode == "txt2img":
            if "strength" in given:
                raise ParamError("strength applies to img2img and inpainting: give an init_image too")
            return resolved
        if "variation_seed" in given:
            raise ParamError("variation seeds apply to txt2img for now (img2img draws its noise inside diffusers)")
        # The output has the init image's size; a different width/height would be a silent resize.
        init = _open_image(given["init_image"], "init_image", "RGB")
        for side, value in (("width", init.width), ("height", init.height)):
            if value % 8:
                raise ParamError(f"init_image is {init.width}x{init.height}; its sides must be multiples of 8")
            if side in given and given[side] != value:
                raise ParamError(f"{side} {given[side]} differs from the init_image's {value}: the output keeps "
                                 "the init image's size (resize the image first)")
            resolved[side] = value
        resolved["init_image"] = given["init_image"]
        resolved["strength"] = given.get("strength", self.MODE_DEFAULT_STRENGTH[mode])
        if mode == "inpaint":
            mask = _open_image(given["mask_image"], "mask_image", "L")
            if mask.size != init.size:
                raise ParamError(f"mask_image is {mask.width}x{mask.height} but init_image is "
                                 f"{init.width}x{init.height}: they must be the same size")
            resolved["mask_image"] = given["mask_image"]
        return resolved

    def _pipeline(self, mode: str):
        """The pipeline for a mode, sharing the loaded components (no second copy in memory)."""
        if mode == "txt2img":
            return self.pipe
        if mode not in self._mode_pipes:
            import diffusers

            auto = diffusers.AutoPipelineForImage2Image if mode == "img2img" else diffusers.AutoPipelineForInpainting
            pipe = auto.from_pipe(self.pipe)
            pipe.set_progress_bar_config(disable=True)
            self._mode_pipes[mode] = pipe
        return self._mode_pipes[mode]

    def _memory_plan(self, params: dict) -> memory.Plan:
        """This generation's offload and VAE tiling: the request's choice, else on a GPU what
        fits the free memory; applied to the shared pipeline before it runs."""
        chosen_tiling = params.get("vae_tiling")
        if self.device.startswith("cuda"):
            sizes = memory.component_bytes(self.pipe)
            free = devices.free_memory(self.device) + (sum(sizes.values()) if self._offload == "none" else 0)
            plan = memory.plan_memory(free, sum(sizes.values()), max(sizes.values()), params["width"],
                                      params["height"], params.get("offload"), chosen_tiling)
        else:
            plan = memory.Plan("none", chosen_tiling == "on")
        if plan.offload != self._offload:
            memory.place(self.pipe, self.device, plan.offload)
            self._offload = plan.offload
        if plan.vae_tiling:
            self.pipe.vae.enable_tiling()
        else:
            self.pipe.vae.disable_tiling()
        return plan

    def _scheduler(self, name: str | None):
        import diffusers

        class_name, overrides = SCHEDULERS[name] if name else (self._scheduler_config["_class_name"], {})
        return getattr(diffusers, class_name).from_config(self._scheduler_config, **overrides)

    def _one(self, request: Request, params: dict, seed: int, events: Events) -> Output:
        import torch

        every = params.get("preview_every", 0)
        if every and self._previewer is None:
            family = "sdxl" if "XL" in type(self.pipe).__name__ else "sd"
            self._previewer = previews.Previewer(family, self.device, self.pipe.unet.dtype)

        def on_step_end(pipe, step, timestep, kwargs):
            events.progress(step + 1, pipe.num_timesteps)
            if events.cancelled():
                raise Cancelled()  # before the VAE decode: nothing half-done comes out
            if every and (step + 1) % every == 0:
                events.preview(self._previewer(kwargs["latents"]))
            return kwargs

        start = time.perf_counter()
        plan = self._memory_plan(params)
        mode = _mode(params)
        pipe = self._pipeline(mode)
        pipe.scheduler = self._scheduler(params.get("scheduler"))  # schedulers keep state: a fresh one
        generator = torch.Generator("cpu").manual_seed(seed)  # the same first noise on every device
        extra = {"width": params["width"], "height": params["height"]}
        if "variation_seed" in params:
            shape = (1, pipe.unet.config.in_channels, params["height"] // pipe.vae_scale_factor,
                     params["width"] // pipe.vae_scale_factor)
            extra["latents"] = latents.variation_noise(shape, generator, params["variation_seed"],
                                                       params["variation_strength"], pipe.unet.dtype)
        if mode != "txt2img":
            extra = {"image": _open_image(params["init_image"], "init_image", "RGB"), "strength": params["strength"]}
        if mode == "inpaint":
            extra.update(mask_image=_open_image(params["mask_image"], "mask_image", "L"),
                         width=params["width"], height=params["height"])
        try:
            with tiling.tiled((pipe.unet, pipe.vae), params.get("tiling", "none")), \
                    _loras(pipe, params.get("loras")):
                image = pipe(
                    prompt=request.prompt,
                    negative_prompt=request.negative_prompt or None,
                    num_inference_steps=params["num_steps"],
                    guidance_scale=params["guidance_scale"],
                    generator=generator,
                    callback_on_step_end=on_step_end,
                    **extra,
                ).images[0]
        except torch.OutOfMemoryError:
            devices.empty_cache(self.device)
            raise EngineError(memory.oom_message(plan, params["width"], params["height"])) from None
        import numpy as np

        data = np.asarray(image)
        recipe = request.replace(seed=seed, count=1, params=params).to_dict()
        recipe["runtime"] = {
            "device": self.device,
            "dtype": self.dtype,
            "pipeline": type(pipe).__name__,
            "scheduler": type(pipe.scheduler).__name__,
            "offload": plan.offload,
            "vae_tiling": plan.vae_tiling,
            "time_s": round(time.perf_counter() - start, 4),
        }
        if self.checkpoint is not None:
            recipe["runtime"]["checkpoint_family"] = checkpoints.FAMILY_NAMES[self.family]
        return Output(kind="image", data=data, seed=seed, recipe=recipe, mime="image/png",
                      width=data.shape[1], height=data.shape[0])


@contextmanager
def _loras(pipe, loras: list | None):
    """LoRAs applied for one generation: loaded into the shared UNet / text encoder, then
    unloaded, so the next generation starts from the plain model."""
    if not loras:
        yield
        return
    names = [f"lora_{i}" for i in range(len(loras))]
    try:
        for name, (file, _) in zip(names, loras):
            try:
                pipe.load_lora_weights(file, adapter_name=name)
            except (ValueError, KeyError, OSError, RuntimeError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise EngineError(f"LoRA {Path(file).name} does not fit this model: {first[:200]}") from exc
        pipe.set_adapters(names, adapter_weights=[weight for _, weight in loras])
        yield
    finally:
        pipe.unload_lora_weights()


def _call_default(pipe, name: str):
    """A pipeline's own default for a call argument (SD and SDXL differ in guidance)."""
    import inspect

    return inspect.signature(type(pipe).__call__).parameters[name].default


def _mode(params: dict) -> str:
    if params.get("mask_image") and not params.get("init_image"):
        raise ParamError("mask_image needs an init_image to repaint")
    if params.get("init_image"):
        return "inpaint" if params.get("mask_image") else "img2img"
    return "txt2img"


def _open_image(path: str, name: str, mode: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except FileNotFoundError:
        raise ParamError(f"{name} {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ParamError(f"{name} {Path(path).name} is not a readable image ({exc})") from None


def _check_folder(path: Path) -> str:
    """The pipeline class of a loadable folder, or an EngineError that says what is wrong
    (before diffusers, whose messages name its internals)."""
    if not path.exists():
        raise EngineError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise EngineError(f"{path.name} is a file; the diffusion engine loads diffusers model folders "
                          "(model_index.json, unet/, vae/ ...)")
    try:
        index = json.loads((path / "model_index.json").read_text())
    except OSError:
        raise EngineError(f"{path} is not a diffusers pipeline folder (it has no model_index.json)") from None
    except ValueError:
        raise EngineError(f"{path} is not a diffusers pipeline folder (its model_index.json is not valid JSON)") from None
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    if class_name not in PIPELINES:
        raise EngineError(f"{path.name} is a {class_name or 'pipeline of unknown kind'}; the diffusion engine loads "
                          f"{' and '.join(PIPELINES)} models")
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or None in spec or component in NOT_LOADED:
            continue  # metadata, a component saved as absent ([null, null]), or one we never load
        folder = path / component
        if not folder.is_dir():
            raise EngineError(f"{path.name} is incomplete: its {component}/ folder is missing")
        pickled = sorted(f.name for f in folder.iterdir() if f.suffix in PICKLE_SUFFIXES)
        if pickled and not any(folder.glob("*.safetensors")):
            raise EngineError(f"{path.name}/{component} has only pickle weights ({pickled[0]}), which can run code "
                              "when loaded: convert the model to .safetensors first")
    return class_name


def _pipeline_class(path: Path) -> str | None:
    try:
        return json.loads((path / "model_index.json").read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return None
