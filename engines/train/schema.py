"""What each trainer takes: parameter schemas, without importing torch.

The parent (studio/training.py, the CLI, the Train workspace) validates a run's parameters
here before it starts a child process, with the same `Param` checks generation uses. A new
trainer (LoRA, WaveGAN) adds one `TrainerSpec` to TRAINERS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from engines.api import Param, ParamError, validate
from engines.data import FITS

# Every trainer takes these; the harness (engines/train/harness.py) uses them.
COMMON = (
    Param("steps", "int", 2000, min=1, max=10_000_000, help="Training steps (one batch each)."),
    Param("batch_size", "int", 64, min=1, max=4096, help="Images per step (the whole set when it has fewer)."),
    Param("lr", "float", None, min=0.0, max=1.0, help="Learning rate (the trainer's own default when unset)."),
    Param("seed", "int", 0, min=0, max=2**32 - 1, help="Seeds the first weights, the data order and the noise."),
    Param("resolution", "int", 64, min=32, max=128, help="Training size in pixels: 32, 64 or 128."),
    Param("channels", "int", 3, min=3, max=4, help="3 for RGB, 4 for RGBA (keeps transparency)."),
    Param("fit", "choice", "center-crop", choices=FITS, help="How images are made square: crop or pad."),
    Param("flips", "bool", True, help="Augment with horizontal flips."),
    Param("crops", "bool", False, help="Augment with small random crops and shifts."),
    Param("color_jitter", "float", 0.0, min=0.0, max=0.5, help="Augment brightness/contrast/saturation by up to this."),
    Param("val_fraction", "float", 0.1, min=0.0, max=0.5, help="Share of the images held out for evaluation."),
    Param("near_duplicate_distance", "int", 4, min=0, max=32,
          help="Drop images whose perceptual hash is within this many bits of one kept (0: keep them)."),
    Param("checkpoint_every", "int", 500, min=1, help="Save a checkpoint every N steps (and on stop)."),
    Param("sample_every", "int", 250, min=0, help="Write a fixed-seed sample grid every N steps (0: at the end)."),
    Param("eval_every", "int", 1000, min=0, help="Evaluate every N steps (0: at the end only)."),
    Param("eval_samples", "int", 256, min=2, max=10_000, help="Generated images compared with the validation set."),
    Param("keep_checkpoints", "int", 2, min=1, max=1000, help="How many of the latest checkpoints to keep."),
    Param("device", "str", "auto", help="auto, cpu, cuda, cuda:N or mps."),
    Param("processes", "int", None, min=1, max=64, advanced=True,
          help="Processes training together, data parallel (accelerate launch): one per GPU when unset and "
               "this machine has several, else 1. Each takes its share of every batch."),
    Param("threads", "int", None, min=1, max=1024, advanced=True,
          help="CPU threads; fixed for the run, since the thread count changes the bits."),
)


# COMMON params that only mean something for images; trainers of other data leave them out.
IMAGE_ONLY = frozenset({"resolution", "channels", "fit", "flips", "crops", "color_jitter",
                        "near_duplicate_distance"})


@dataclass(frozen=True)
class TrainerSpec:
    engine: str
    trainer: str  # "module:Class", imported in the child only (it imports torch)
    params: tuple[Param, ...]  # its own, and COMMON ones it redefines (same name)
    defaults: Mapping[str, Any]  # this trainer's values for COMMON params left to it (lr)
    resolutions: tuple[int, ...] | None = (32, 64, 128)  # None: any the resolution Param allows
    data: str = "images"  # what the data folder holds: "images", "text" or "audio"
    # For data other than images: "module:function", a torch-free scan(folder, params) -> report
    # dict (the keys of engines.data.Report.to_dict() plus "summary"), raising DataError when the
    # folder gives nothing to train on. The trainer's prepare() and the Train workspace both use it.
    scanner: str | None = None
    # A trainer that adapts a model (its `base` param, e.g. a LoRA) names the generation engine
    # whose models it takes and whose generations its result is used in; None: the trainer's
    # result is a model of the engine of its own name (gan, vae, causal-lm, wavegan).
    base_engine: str | None = None


# What both language-model trainers (engines/train/lm_trainer.py) take beside their base.
_TEXT_PARAMS = (
    Param("block_size", "int", 256, min=8, max=32768,
          help="Tokens per training row (at most the model's context length)."),
    Param("packing", "bool", True,
          help="Join the documents (with an end-of-text token between) and cut them into full blocks; "
               "off: one document per block, cut or padded to the block size."),
    Param("batch_size", "int", 8, min=1, max=4096, help="Blocks per optimiser step."),
    Param("gradient_accumulation", "int", 1, min=1, max=1024,
          help="Split each batch into this many passes (less memory, the same update); divides batch_size."),
    Param("lr_schedule", "choice", "constant", choices=("constant", "cosine"),
          help="Learning rate after the warm-up: constant, or a cosine decay to 0 at the last step."),
    Param("warmup_steps", "int", 0, min=0, max=1_000_000, help="Steps the learning rate rises linearly from 0."),
    Param("max_grad_norm", "float", 1.0, min=0.0, max=1000.0, help="Clip the gradient norm to this (0: no clipping)."),
    Param("val_fraction", "float", 0.1, min=0.0, max=0.5, help="Share of the documents held out for validation."),
    Param("eval_samples", "int", 256, min=1, max=1_000_000, help="Most validation blocks the loss is taken on."),
    Param("sample_prompts", "strings", None,
          help="Prompts continued with fixed seeds as the run goes; the first words of the first documents when unset."),
    Param("sample_tokens", "int", 48, min=1, max=2048, help="Tokens written for each sample prompt."),
    Param("checkpoint_every", "int", 100, min=1, help="Save a checkpoint every N steps (and on stop)."),
    Param("sample_every", "int", 100, min=0, help="Write the samples every N steps (0: at the end)."),
    Param("eval_every", "int", 100, min=0, help="Take the validation loss and perplexity every N steps (0: at the end only)."),
)


TRAINERS = {
    "gan": TrainerSpec("gan", "engines.train.gan_trainer:GanTrainer", (
        Param("latent_dim", "int", 100, min=2, max=1024, help="Size of the generator's input noise."),
        Param("g_width", "int", 64, min=4, max=1024, help="Generator width (DCGAN's ngf)."),
        Param("d_width", "int", 64, min=4, max=1024, help="Discriminator width (DCGAN's ndf)."),
        Param("d_norm", "choice", "spectral", choices=("spectral", "batch"),
              help="Discriminator normalisation: spectral norm (stable on small data) or DCGAN's batch norm."),
        Param("upsample", "choice", "transposed", choices=("transposed", "resize"),
              help="How the generator doubles its size: DCGAN's transposed convolutions, or resize then "
                   "convolve (no checkerboard pattern)."),
        Param("diffaug", "bool", False,
              help="Differentiable augmentation of real and fake images for the discriminator (small data)."),
        Param("beta1", "float", 0.5, min=0.0, max=0.999, help="Adam's beta1 (DCGAN: 0.5)."),
        Param("g_ema", "float", 0.999, min=0.0, max=0.9999,
              help="Sample and export a moving average of the generator's weights, with this decay per "
                   "step (StyleGAN's G_ema): smoother images than the last step's. 0: off."),
    ), {"lr": 2e-4}),
    "vae": TrainerSpec("vae", "engines.train.vae_trainer:VaeTrainer", (
        Param("latent_dim", "int", 64, min=2, max=1024, help="Size of the latent."),
        Param("width", "int", 32, min=4, max=1024, help="Channels of the first encoder layer."),
        Param("kl_weight", "float", 1.0, min=0.0, max=100.0, help="Weight of the KL term (beta-VAE)."),
    ), {"lr": 1e-3}),
    "wavegan": TrainerSpec("wavegan", "engines.train.wavegan_trainer:WaveGanTrainer", (
        Param("sample_rate", "int", 16000, min=4000, max=192000,
              help="The model's sample rate in Hz; every clip is resampled to it."),
        Param("length", "int", 16384, min=1024, max=65536, multiple_of=1024,
              help="Samples per clip (16384 at 16 kHz: 1.02 s); longer sounds are cut, shorter ones padded."),
        Param("latent_dim", "int", 100, min=2, max=1024, help="Size of the generator's input noise."),
        Param("g_width", "int", 64, min=1, max=1024, help="Generator width (the paper's d: 64)."),
        Param("d_width", "int", 64, min=1, max=1024, help="Discriminator width (the paper's d: 64)."),
        Param("phase_shuffle", "int", 2, min=0, max=16,
              help="Phase shuffle in the discriminator: shift its activations by up to this many samples."),
        Param("diffaug", "bool", True,
              help="Show the discriminator each clip in a random polarity (real and generated alike)."),
        Param("beta1", "float", 0.5, min=0.0, max=0.999, help="Adam's beta1 (WaveGAN: 0.5)."),
        Param("beta2", "float", 0.9, min=0.0, max=0.9999, help="Adam's beta2 (WaveGAN: 0.9)."),
        Param("normalize", "choice", "peak", choices=("peak", "loudness", "none"),
              help="Bring every clip to the same peak (-1 dBFS) or loudness before training."),
        Param("loudness_lufs", "float", -16.0, min=-70.0, max=0.0, help="The loudness target of normalize=loudness."),
        Param("min_duration_s", "float", 0.02, min=0.0, max=60.0,
              help="Skip files with less sound than this after their leading silence."),
        Param("batch_size", "int", 16, min=1, max=4096, help="Clips per step (the whole set when it has fewer)."),
        Param("eval_samples", "int", 64, min=2, max=10_000, help="Generated clips compared with the validation set."),
    ), {"lr": 2e-4}, data="audio", scanner="engines.train.audio_data:scan"),
    "lora-diffusion": TrainerSpec("lora-diffusion", "engines.train.lora_diffusion:LoraDiffusionTrainer", (
        Param("base", "str", None, help="The Stable Diffusion 1.x / 2.x model the LoRA is for (a diffusers folder)."),
        Param("resolution", "int", 512, min=64, max=2048, multiple_of=64,
              help="Training size in pixels (the base model's native size is best: 512 for SD 1.5)."),
        Param("batch_size", "int", 1, min=1, max=256, help="Images per step."),
        Param("rank", "int", 8, min=1, max=256, help="LoRA rank: more can learn more, and makes a larger file."),
        Param("alpha", "float", None, min=0.0, max=1024.0, help="LoRA alpha (scales the update); the rank when unset."),
        Param("train_text_encoder", "bool", False, help="Also train a LoRA on the text encoder."),
        Param("caption_template", "str", "{name}",
              help="The caption of an image with no .txt beside it; {name} is its file name in words."),
        Param("caption_dropout", "float", 0.0, min=0.0, max=1.0,
              help="Share of steps an image is shown with an empty caption (helps the LoRA apply without it)."),
        Param("shuffle_tags", "bool", False, help="Shuffle comma-separated caption tags each time (kohya's shuffle)."),
        Param("sample_prompts", "strings", None,
              help="Prompts rendered with fixed seeds as the run goes; the first captions when unset."),
        Param("sample_steps", "int", 20, min=1, max=200, help="Denoising steps of the sample images."),
        Param("kohya_export", "bool", True, help="Also write the LoRA in kohya's layout (AUTOMATIC1111, ComfyUI)."),
        Param("eval_samples", "int", 16, min=1, max=10_000, help="Validation images the validation loss is taken on."),
        Param("checkpoint_every", "int", 100, min=1, help="Save a checkpoint every N steps (and on stop)."),
        Param("sample_every", "int", 100, min=0, help="Render the sample prompts every N steps (0: at the end)."),
        Param("eval_every", "int", 100, min=0, help="Take the validation loss every N steps (0: at the end only)."),
    ), {"lr": 1e-4, "steps": 500, "flips": False}, resolutions=None, base_engine="diffusion"),
    "lora-text": TrainerSpec("lora-text", "engines.train.lm_trainer:LoraTextTrainer", (
        Param("base", "str", None, help="The language model the adapter is for (a transformers folder: GPT-2, Llama ...)."),
        Param("rank", "int", 8, min=1, max=256, help="LoRA rank: more can learn more, and makes a larger adapter."),
        Param("alpha", "float", None, min=0.0, max=1024.0, help="LoRA alpha (scales the update); the rank when unset."),
        Param("dropout", "float", 0.05, min=0.0, max=0.9, help="Dropout on the LoRA's input while training."),
        Param("target_modules", "strings", None,
              help="Layers the LoRA adapts (e.g. q_proj,v_proj, or all-linear); unset: peft's choice for the "
                   "architecture (GPT-2: c_attn; Llama, Qwen: q_proj, v_proj)."),
        *_TEXT_PARAMS,
    ), {"lr": 2e-4, "steps": 500}, data="text", scanner="engines.train.text_data:scan",
       base_engine="causal-lm"),
    "causal-lm": TrainerSpec("causal-lm", "engines.train.lm_trainer:CausalLMTrainer", (
        Param("base", "str", None,
              help="The language model whose every weight is trained (a transformers folder; it may be freshly "
                   "initialised, to train from scratch)."),
        *_TEXT_PARAMS,
    ), {"lr": 5e-5, "steps": 1000}, data="text", scanner="engines.train.text_data:scan"),
}


def spec(engine: str) -> TrainerSpec:
    if engine not in TRAINERS:
        raise ParamError(f"no trainer for engine {engine!r}; trainable engines: {', '.join(sorted(TRAINERS))}")
    return TRAINERS[engine]


def scan(engine: str, folder, params: Mapping[str, Any]) -> dict:
    """The data report of a folder for a trainer of text or audio (images: engines.data.prepare)."""
    import importlib

    module, _, func = spec(engine).scanner.partition(":")
    return getattr(importlib.import_module(module), func)(folder, params)


def all_params(engine: str) -> tuple[Param, ...]:
    own = {p.name: p for p in spec(engine).params}
    common = COMMON if spec(engine).data == "images" else [p for p in COMMON if p.name not in IMAGE_ONLY]
    return tuple(own.pop(p.name, p) for p in common) + tuple(own.values())


def resolve(engine: str, given: Mapping[str, Any]) -> dict:
    """Every parameter's value for a run: the given ones checked, the rest at their default."""
    checked = validate(all_params(engine), given)
    resolved = {p.name: p.default for p in all_params(engine)}
    resolved.update(spec(engine).defaults)
    resolved.update(checked)
    if "base" in resolved and not resolved["base"]:
        raise ParamError(f"a {engine} run needs the base model it adapts: give base (--base on the command line)")
    allowed = spec(engine).resolutions if spec(engine).data == "images" else None
    if allowed and resolved["resolution"] not in allowed:
        raise ParamError(f"resolution must be {', '.join(map(str, allowed[:-1]))} or {allowed[-1]}, "
                         f"got {resolved['resolution']}")
    return resolved
