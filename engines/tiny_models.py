"""Tiny real models built from configs with random weights, for tests and benchmarks.

They go through exactly the loading code real models use; nothing is downloaded. Weights
come from a fixed torch seed, so every build of a model is the same.
"""
from __future__ import annotations

import json
import shutil
import tempfile
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


def _publish(tmp: Path, path: Path, complete) -> Path:
    """Move a finished build into place in one rename, so `path` never holds half a model
    (a crash mid-build, or two processes building the same benchmark model at once)."""
    if complete(path):  # another process published it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return path
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)  # an incomplete leftover of a crashed build
    try:
        tmp.rename(path)
    except OSError:  # another process published it first
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _sd_complete(path: Path) -> bool:
    files = ("model_index.json", "tokenizer/tokenizer_config.json", "scheduler/scheduler_config.json")
    weights = ("unet", "vae", "text_encoder")
    return all((path / f).is_file() for f in files) and all(any((path / w).glob("*.safetensors")) for w in weights)


def build_tiny_sd(path: str | Path) -> Path:
    """A tiny Stable Diffusion 1.x pipeline in diffusers layout (~6 MB). Native size 64x64:
    UNet sample size 32 x VAE scale factor 2 (two VAE blocks, so latents are 1/2 of the
    image, not SD's 1/8). PNDM scheduler as SD 1.5 ships it, so its A1111 name is "PLMS".
    Returns the folder; a complete one is reused as it is."""
    path = Path(path)
    if _sd_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would make a shared benchmark model private
    _save_tiny_sd(tmp)
    return _publish(tmp, path, _sd_complete)


def _save_tiny_sd(path: Path) -> None:
    import torch

    with torch.random.fork_rng(devices=[]):  # the fixed seed must not leak into the caller's RNG
        torch.manual_seed(0)
        _make_tiny_sd().save_pretrained(path, safe_serialization=True)


def _make_tiny_sd():
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

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
    with tempfile.TemporaryDirectory() as tok_dir:
        _write_clip_tokenizer(Path(tok_dir))
        tokenizer = CLIPTokenizer(f"{tok_dir}/vocab.json", f"{tok_dir}/merges.txt", model_max_length=77)
    text_encoder.resize_token_embeddings(len(tokenizer))
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
        steps_offset=1, set_alpha_to_one=False,
    )
    return StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _training_text() -> list[str]:
    """Any local text will do for a tokenizer: the standard library's own sources."""
    import sysconfig

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:15]
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


def build_tiny_gpt2(path: str | Path, chat: bool = False, n_layer: int = 2, n_embd: int = 64,
                    n_head: int = 2, vocab_size: int = 1000) -> Path:
    """A tiny GPT-2 with a byte-level BPE trained offline with `tokenizers`, saved in
    transformers layout. `chat=True` gives its tokenizer a chat template. The defaults make a
    ~1 MB model; GPT-2 small's sizes (12, 768, 12, 50257) make a 124M-parameter one."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_training_text(), vocab_size=vocab_size, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    # The embedding is sized as asked even when the small corpus yields fewer tokens, so a
    # GPT-2-small-sized model has GPT-2 small's parameter count.
    config = GPT2Config(vocab_size=max(len(tokenizer), vocab_size), n_positions=256 if n_layer <= 2 else 1024, n_embd=n_embd,
                        n_layer=n_layer, n_head=n_head, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_loras(sd_path: str | Path, folder: str | Path) -> tuple[Path, Path]:
    """Two LoRA files with the same random weights for a tiny SD's UNet: one in the
    diffusers/PEFT key layout, one renamed the way kohya's trainers name keys
    (`lora_unet_….lora_down.weight`, `.lora_up.weight`, `.alpha`). Returns (peft, kohya)."""
    import torch
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unet = UNet2DConditionModel.from_pretrained(Path(sd_path) / "unet")
    rank = 4
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    generator = torch.Generator().manual_seed(0)
    for name, param in unet.named_parameters():
        if "lora_B" in name:  # zero at init (no effect): give it some
            param.data = torch.randn(param.shape, generator=generator) * 0.5
    peft = {"unet." + k: v.contiguous() for k, v in get_peft_model_state_dict(unet).items()}
    kohya = {}
    for key, value in peft.items():
        module = key.removeprefix("unet.").rsplit(".lora_", 1)[0]
        name = "lora_unet_" + module.replace(".", "_")
        kohya[f"{name}.lora_down.weight" if ".lora_A." in key else f"{name}.lora_up.weight"] = value
        kohya[f"{name}.alpha"] = torch.tensor(float(rank))
    save_file(peft, folder / "peft.safetensors")
    save_file(kohya, folder / "kohya.safetensors")
    return folder / "peft.safetensors", folder / "kohya.safetensors"


def build_tiny_gan(path: str | Path, resolution: int = 32, channels: int = 3, width: int = 8,
                   latent_dim: int = 16) -> Path:
    """A GAN model folder as a finished training run leaves it (model.json +
    generator.safetensors), with DCGAN-initialised weights from a fixed seed."""
    import torch
    from safetensors.torch import save_file

    from engines.image import gan

    path = Path(path)
    config = gan.GanConfig(resolution=resolution, channels=channels, latent_dim=latent_dim, g_width=width,
                           d_width=width)
    generator = gan.build_generator(config)
    gan.init_weights(generator, torch.Generator().manual_seed(0))
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, path / gan.WEIGHTS)
    (path / "model.json").write_text(json.dumps({"format": gan.FORMAT, "version": 1, "config": config.to_dict()}))
    return path


def build_tiny_vae(path: str | Path, resolution: int = 32, channels: int = 3, width: int = 8,
                   latent_dim: int = 8) -> Path:
    """A VAE model folder (model.json + vae.safetensors) with torch's default init, seeded."""
    import torch
    from safetensors.torch import save_file

    from engines.image import vae

    path = Path(path)
    config = vae.VaeConfig(resolution=resolution, channels=channels, latent_dim=latent_dim, width=width)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = vae.build_vae(config)
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path / vae.WEIGHTS)
    (path / "model.json").write_text(json.dumps({"format": vae.FORMAT, "version": 1, "config": config.to_dict()}))
    return path
