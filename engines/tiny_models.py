"""Tiny real models built from configs with random weights, for tests and benchmarks.

They go through exactly the loading code real models use; nothing is downloaded. Weights
come from a fixed torch seed, so every build of a model is the same.
"""
from __future__ import annotations

import json
from pathlib import Path


def _byte_chars() -> list[str]:
    """The 256 printable characters that byte-level BPE (GPT-2, CLIP) maps the bytes to."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = (256 + i for i in range(256))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _write_clip_tokenizer(folder: Path) -> None:
    """A CLIP BPE tokenizer with a hand-written vocabulary: every byte, alone and word-final,
    plus a few merges, so any prompt tokenizes."""
    chars = _byte_chars()
    vocab_tokens = chars + [c + "</w>" for c in chars]
    merges = ["r e", "e d</w>", "p o", "t i", "o n</w>"]
    vocab_tokens += [m.replace(" ", "") for m in merges]
    vocab_tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_tokens))}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def build_tiny_sd(path: str | Path) -> Path:
    """A tiny Stable Diffusion 1.x pipeline in diffusers layout; native size 64x64
    (UNet sample size 32, VAE scale factor 2). Returns the folder; reuses a complete one."""
    path = Path(path)
    if (path / "model_index.json").is_file() and (path / "unet").is_dir():
        return path
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            vocab_size=1000, max_position_embeddings=77, bos_token_id=0, eos_token_id=2,
        )
    )
    tok_dir = path / "_tokenizer_src"
    _write_clip_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), model_max_length=77)
    text_encoder.resize_token_embeddings(len(tokenizer))
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
        steps_offset=1, set_alpha_to_one=False,
    )
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    for f in tok_dir.iterdir():
        f.unlink()
    tok_dir.rmdir()
    return path
