"""Single-file Stable Diffusion checkpoints, as people download them (one `.safetensors` in the
original LDM layout): which family a file is, and which base model's configs it needs.

Only the file's header is read to tell the family (no weights are loaded), so a model list can
call `detect_family` on many files. The configs and tokenizers diffusers needs to build a
pipeline around the weights come from the matching base model in the Hugging Face cache;
nothing is downloaded here.
"""
from __future__ import annotations

import json
from pathlib import Path

from engines.api import EngineError

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl", ".pickle")

PIPELINE = {"sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline"}
FAMILY_NAMES = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "SDXL"}

# The base models whose configs fit each family's checkpoints. The weights alone cannot tell a
# few-step distilled model (Turbo) from its base, nor SD 2.1 768 (v-prediction) from 2.1 base
# (512, epsilon): they differ only in configs, so the user picks (`base_model`).
BASES: dict[str, tuple[str, str]] = {
    "SD 1.5": ("sd1", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    "SD 2.1": ("sd2", "stabilityai/stable-diffusion-2-1"),
    "SD 2.1 base": ("sd2", "stabilityai/stable-diffusion-2-1-base"),
    "SD-Turbo": ("sd2", "stabilityai/sd-turbo"),
    "SDXL": ("sdxl", "stabilityai/stable-diffusion-xl-base-1.0"),
    "SDXL-Turbo": ("sdxl", "stabilityai/sdxl-turbo"),
}
DEFAULT_BASE = {"sd1": "SD 1.5", "sd2": "SD 2.1", "sdxl": "SDXL"}
CONFIG_FILES = ("*.json", "*.txt")  # configs, vocabularies and merges: a few hundred kB

_UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"


def pickle_message(path: Path) -> str:
    return (f"{path.name} is a pickle file, which can run code when loaded; Assetsmith loads .safetensors only. "
            f"Download the .safetensors version, or convert this one: `assetsmith models convert {path}` "
            "(it reads tensors only, in a process of its own)")


def read_shapes(path: Path) -> dict[str, list[int]]:
    """Every tensor's name and shape, from the file's header only."""
    from safetensors import SafetensorError, safe_open

    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise EngineError(pickle_message(path))
    if path.suffix.lower() != ".safetensors":
        raise EngineError(f"{path.name} is not a .safetensors checkpoint")
    try:
        with safe_open(str(path), "pt") as f:
            return {key: list(f.get_slice(key).get_shape()) for key in f.keys()}
    except FileNotFoundError:
        raise EngineError(f"checkpoint {path} does not exist") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise EngineError(f"{path.name} is not a readable .safetensors file (damaged or truncated?): {exc}") from None


def family_of(shapes: dict[str, list[int]], name: str = "the file") -> str:
    """"sd1", "sd2" or "sdxl" from a checkpoint's tensor names (the text encoders tell: SD 1.x
    has OpenAI's CLIP, 2.x OpenCLIP, SDXL both under `conditioner.embedders`), or an
    EngineError saying what the file is instead."""
    keys = shapes.keys()

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if has("lora_unet_") or has("lora_te") or any(".lora_A." in k or ".lora_down." in k for k in keys):
        raise EngineError(f"{name} is a LoRA, not a whole model: choose a base model, and add the file under loras")
    if not has("model.diffusion_model."):
        raise EngineError(f"{name} is not a Stable Diffusion checkpoint (it has no model.diffusion_model.* UNet "
                          "weights); the diffusion engine loads SD 1.x, 2.x and SDXL checkpoints")
    if shapes.get(_UNET_IN, [0, 4])[1] != 4:
        raise EngineError(f"{name} is an inpainting or instruct model ({shapes[_UNET_IN][1]} UNet input channels); "
                          "load a regular checkpoint and inpaint with init_image + mask_image")
    if has("conditioner.embedders.1."):
        return "sdxl"
    if has("conditioner.embedders.0.model."):
        raise EngineError(f"{name} is an SDXL refiner; load an SDXL base checkpoint")
    if has("cond_stage_model.model."):
        return "sd2"
    if has("cond_stage_model.transformer."):
        return "sd1"
    raise EngineError(f"{name} holds a UNet but no text encoder, so its family cannot be told; "
                      "load a full checkpoint (UNet, VAE and text encoder in one file)")


def detect_family(path: str | Path) -> str:
    """The family of a single-file checkpoint ("sd1", "sd2", "sdxl"), reading its header only."""
    path = Path(path)
    return family_of(read_shapes(path), path.name)


def base_configs(family: str, base: str | None) -> tuple[str, Path]:
    """The base model a checkpoint of `family` takes its configs from, as (what the recipe
    records, the folder): the user's `base_model` (one of BASES, or a diffusers folder of the
    same family), else the family's usual base, from the Hugging Face cache."""
    if base is None:
        base = DEFAULT_BASE[family]
    if base in BASES:
        if BASES[base][0] != family:
            fits = ", ".join(name for name, (f, _) in BASES.items() if f == family)
            raise EngineError(f"base_model {base!r} does not fit a {FAMILY_NAMES[family]} checkpoint; "
                              f"choose one of {fits}")
        return base, config_folder(base)
    folder = Path(base).expanduser()
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        raise EngineError(f"base_model {base!r} is neither one of {', '.join(BASES)} nor a diffusers model "
                          "folder (with model_index.json)") from None
    if (index.get("_class_name") == PIPELINE["sdxl"]) != (family == "sdxl"):
        raise EngineError(f"base_model {folder.name} is a {index.get('_class_name')}, which does not fit a "
                          f"{FAMILY_NAMES[family]} checkpoint")
    return str(folder.resolve()), folder


def config_folder(base: str) -> Path:
    """The base model's folder in the Hugging Face cache, with the configs and tokenizers
    from_single_file needs, or an EngineError naming what to download."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id = BASES[base][1]
    get = (f"download its configs (a few hundred kB) once: "
           f"`hf download {repo_id} --include {' '.join(repr(p) for p in CONFIG_FILES)}`, "
           "or set base_model to a diffusers folder of the same family")
    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        raise EngineError(f"a {base} checkpoint needs the configs of {repo_id}, which are not in the "
                          f"Hugging Face cache; {get}") from None
    needed = ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "vae/config.json",
              "tokenizer/tokenizer_config.json"] + (["tokenizer_2/tokenizer_config.json"] if BASES[base][0] == "sdxl" else [])
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        raise EngineError(f"the cached {repo_id} lacks {missing[0]}; {get}")
    return folder


def load_pipeline(path: Path, family: str, config: Path, dtype):
    """A diffusers pipeline from a single-file checkpoint and a local config folder: never a
    download (local_files_only, and `config` is a folder), never remote code."""
    import diffusers

    extra = {"safety_checker": None, "requires_safety_checker": False} if family != "sdxl" else {}
    return getattr(diffusers, PIPELINE[family]).from_single_file(
        str(path), config=str(config), local_files_only=True, torch_dtype=dtype, **extra)
