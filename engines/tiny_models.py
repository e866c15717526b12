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

    from engines.image.lora_layout import peft_to_kohya

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
    kohya = peft_to_kohya(peft, alpha=rank)
    save_file(peft, folder / "peft.safetensors")
    save_file(kohya, folder / "kohya.safetensors")
    return folder / "peft.safetensors", folder / "kohya.safetensors"


def build_tiny_gan(path: str | Path, resolution: int = 32, channels: int = 3, width: int = 8,
                   latent_dim: int = 16, upsample: str = "transposed") -> Path:
    """A GAN model folder as a finished training run leaves it (model.json +
    generator.safetensors), with DCGAN-initialised weights from a fixed seed."""
    import torch
    from safetensors.torch import save_file

    from engines.image import gan

    path = Path(path)
    config = gan.GanConfig(resolution=resolution, channels=channels, latent_dim=latent_dim, g_width=width,
                           d_width=width, upsample=upsample)
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


def _sdxl_complete(path: Path) -> bool:
    weights = ("unet", "vae", "text_encoder", "text_encoder_2")
    return _sd_complete(path) and (path / "tokenizer_2/tokenizer_config.json").is_file() and all(
        any((path / w).glob("*.safetensors")) for w in weights)


def build_tiny_sdxl(path: str | Path) -> Path:
    """A tiny SDXL pipeline in diffusers layout (~5 MB), native size 64x64 as the tiny SD.
    The two text encoders have different widths (32 and 48), as CLIP-L and OpenCLIP-bigG do,
    which is what tells them apart in a single-file checkpoint. Returns the folder; a complete
    one is reused as it is."""
    path = Path(path)
    if _sdxl_complete(path):
        return path
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    tmp.chmod(0o755)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _make_tiny_sdxl().save_pretrained(tmp, safe_serialization=True)
    return _publish(tmp, path, _sdxl_complete)


def _make_tiny_sdxl():
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    # SDXL's UNet sees both encoders' hidden states side by side (32 + 48) and, through the
    # "text_time" embedding, the pooled projection (32) plus six size/crop numbers (6 x 8).
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
        cross_attention_dim=80, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 32, norm_num_groups=32,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), sample_size=64, scaling_factor=0.13025,
    )
    common = dict(intermediate_size=37, num_hidden_layers=2, vocab_size=1000, max_position_embeddings=77,
                  bos_token_id=0, eos_token_id=2, hidden_act="gelu")
    with tempfile.TemporaryDirectory() as tok_dir:
        _write_clip_tokenizer(Path(tok_dir))
        tokenizer = CLIPTokenizer(f"{tok_dir}/vocab.json", f"{tok_dir}/merges.txt", model_max_length=77)
        tokenizer_2 = CLIPTokenizer(f"{tok_dir}/vocab.json", f"{tok_dir}/merges.txt", model_max_length=77,
                                    pad_token="!")
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=32, num_attention_heads=4, **common))
    text_encoder_2 = CLIPTextModelWithProjection(
        CLIPTextConfig(hidden_size=48, num_attention_heads=4, projection_dim=32, **common))
    for encoder in (text_encoder, text_encoder_2):
        encoder.resize_token_embeddings(len(tokenizer))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        timestep_spacing="leading", interpolation_type="linear", prediction_type="epsilon",
    )
    return StableDiffusionXLPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, scheduler=scheduler, force_zeros_for_empty_prompt=True,
    )


def build_tiny_taesd(path: str | Path) -> Path:
    """A tiny TAESD (diffusers AutoencoderTiny) for the tiny SD: latents at 1/2 of the image,
    as the tiny SD's VAE makes them. Saved in safetensors as madebyollin/taesd is."""
    import torch
    from diffusers import AutoencoderTiny

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        AutoencoderTiny(encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
                        num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1)).save_pretrained(path)
    return path


def cache_as_hub_repo(source: str | Path, repo_id: str, cache: str | Path, patterns=("*",)) -> Path:
    """Lay `source`'s files matching `patterns` out as the Hugging Face cache holds a download of
    `repo_id` (models--ORG--NAME/snapshots/REV/..., refs/main), so offline lookups find it."""
    source, revision = Path(source), "0" * 40
    repo = Path(cache) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    for pattern in patterns:
        for file in source.rglob(pattern):
            if file.is_file():
                (snapshot / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, snapshot / file.relative_to(source))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def _musicgen_complete(path: Path) -> bool:
    return all((path / f).is_file() for f in ("config.json", "generation_config.json", "model.safetensors",
                                               "processor_config.json", "tokenizer.json"))


def build_tiny_musicgen(path: str | Path, max_length: int = 100) -> Path:
    """A tiny MusicGen in transformers layout (~1 MB): a 2-layer T5 text encoder with a
    hand-written Unigram vocabulary, EnCodec at 32 kHz and 50 frames a second (upsampling
    8x5x4x4), a decoder over 4 codebooks of 64 codes. Its generation config is MusicGen's
    (sampling, top-k 250, guidance 3), with `max_length` tokens (MusicGen ships 1500 = 30 s;
    100 = 1.9 s here, so a call with no parameters stays fast). Returns the folder; a
    complete one is reused as it is."""
    path = Path(path)
    if _musicgen_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    tmp.chmod(0o755)
    _save_tiny_musicgen(tmp, max_length)
    return _publish(tmp, path, _musicgen_complete)


def _save_tiny_musicgen(path: Path, max_length: int) -> None:
    import string

    import torch
    from transformers import (
        EncodecConfig, EncodecFeatureExtractor, MusicgenConfig, MusicgenDecoderConfig,
        MusicgenForConditionalGeneration, MusicgenProcessor, T5Config, T5Tokenizer,
    )

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(c, -2.0) for c in string.ascii_letters + string.digits + string.punctuation]
    vocab += [("▁" + c, -1.5) for c in string.ascii_lowercase] + [("▁", -3.0)]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    processor = MusicgenProcessor(feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000),
                                  tokenizer=tokenizer)
    text = T5Config(vocab_size=len(vocab), d_model=32, d_ff=37, d_kv=8, num_layers=2, num_heads=4,
                    decoder_start_token_id=0)
    codec = EncodecConfig(sampling_rate=32000, audio_channels=1, upsampling_ratios=[8, 5, 4, 4], codebook_size=64,
                          hidden_size=16, num_filters=4, num_residual_layers=1, codebook_dim=16,
                          target_bandwidths=[2.2], num_lstm_layers=1)
    decoder = MusicgenDecoderConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                    ffn_dim=64, num_codebooks=4, max_position_embeddings=2048, pad_token_id=64,
                                    bos_token_id=64)
    with torch.random.fork_rng(devices=[]):  # the fixed seed must not leak into the caller's RNG
        torch.manual_seed(0)
        model = MusicgenForConditionalGeneration(
            MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict()))
        for layer in model.audio_encoder.quantizer.layers:  # EnCodec starts its codebooks at zero:
            layer.codebook.embed.normal_()  # every code would decode to the same sound
    model.generation_config.update(do_sample=True, top_k=250, guidance_scale=3.0, max_length=max_length)
    model.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)


def _vits_complete(path: Path) -> bool:
    return all((path / f).is_file() for f in ("config.json", "model.safetensors", "vocab.json",
                                               "tokenizer_config.json"))


def build_tiny_vits(path: str | Path, num_speakers: int = 1) -> Path:
    """A tiny VITS text-to-speech model as MMS-TTS ships them (16 kHz, a character vocabulary,
    no phonemizer), ~0.5 MB, in transformers layout. `num_speakers` > 1 gives it voices.
    Returns the folder; a complete one is reused as it is."""
    path = Path(path)
    if _vits_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    tmp.chmod(0o755)
    _save_tiny_vits(tmp, num_speakers)
    return _publish(tmp, path, _vits_complete)


def _save_tiny_vits(path: Path, num_speakers: int) -> None:
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    characters = ["<pad>", *" abcdefghijklmnopqrstuvwxyz'.,!?-", "<unk>"]
    (path / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(characters)}))
    tokenizer = VitsTokenizer(str(path / "vocab.json"), phonemize=False, add_blank=True, normalize=True)
    config = VitsConfig(
        vocab_size=len(characters), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=32, upsample_rates=[8, 8, 4],
        upsample_kernel_sizes=[16, 16, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_wavenet_layers=2, prior_encoder_num_flows=2, posterior_encoder_num_wavenet_layers=2,
        duration_predictor_num_flows=2, duration_predictor_filter_channels=16, depth_separable_num_layers=2,
        sampling_rate=16000, num_speakers=num_speakers, speaker_embedding_size=8 if num_speakers > 1 else 0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = VitsModel(config)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)


def build_tiny_wavegan(path: str | Path, sample_rate: int = 8000, length: int = 2048, width: int = 2,
                       latent_dim: int = 8) -> Path:
    """A WaveGAN model folder as a finished training run leaves it (model.json +
    generator.safetensors), with the trainer's initialisation from a fixed seed."""
    import torch
    from safetensors.torch import save_file

    from engines.audio import wavegan

    path = Path(path)
    config = wavegan.WaveGanConfig(sample_rate=sample_rate, length=length, latent_dim=latent_dim, g_width=width,
                                   d_width=width)
    generator = wavegan.build_generator(config)
    wavegan.init_weights(generator, torch.Generator().manual_seed(0))
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, path / wavegan.WEIGHTS)
    (path / "model.json").write_text(json.dumps({"format": wavegan.FORMAT, "version": 1,
                                                 "config": config.to_dict()}))
    return path


def _bark_complete(path: Path) -> bool:
    files = ("config.json", "generation_config.json", "model.safetensors", "vocab.txt", "speaker_embeddings_path.json")
    return all((path / f).is_file() for f in files)


def build_tiny_bark(path: str | Path) -> Path:
    """A tiny Bark in transformers layout (~2 MB), laid out as suno/bark ships: semantic,
    coarse and fine sub-models of 2 layers x 16 wide, a 24 kHz EnCodec (75 frames a second,
    8 codebooks of 32 codes), a BertTokenizer from a hand-written vocabulary, and two voice
    presets: `v2/en_speaker_0` as .npy files listed in speaker_embeddings_path.json (as the Hub
    holds them) and `speaker_embeddings/narrator.npz` (Bark's own single-file format).
    Bark's token layout is kept, scaled down (semantic codes, then the text ids at an offset,
    then the pad and infer tokens); the semantic model stops after 48 tokens (~1 s of speech,
    Bark: 768) so a call stays fast. The generation config samples as Bark does (text and
    coarse temperature 0.7, fine 0.5). Returns the folder; a complete one is reused."""
    path = Path(path)
    if _bark_complete(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    tmp.chmod(0o755)
    _save_tiny_bark(tmp)
    return _publish(tmp, path, _bark_complete)


_BARK_SEMANTIC, _BARK_CODES, _BARK_BOOKS = 64, 32, 8  # semantic vocabulary, codebook size, codebooks


def _save_tiny_bark(path: Path) -> None:
    import string

    import numpy as np
    import torch
    from transformers import (
        BarkCoarseConfig, BarkConfig, BarkFineConfig, BarkModel, BarkProcessor, BarkSemanticConfig, BertTokenizer,
        EncodecConfig, GenerationConfig,
    )

    words = ["the", "gate", "is", "open", "hello", "there", "who", "goes", "halt", "friend"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *string.ascii_letters, *string.digits,
             *string.punctuation, *words, *(f"##{c}" for c in string.ascii_lowercase)]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(str(path / "vocab.txt"), do_lower_case=False, model_max_length=256)
    semantic_out = _BARK_SEMANTIC + 8  # semantic codes, the end/pad token, room as Bark leaves
    text_offset = semantic_out
    text_pad = text_offset + len(vocab)
    semantic_infer = text_pad + 4
    coarse_pad = _BARK_SEMANTIC + 2 * _BARK_CODES  # after the two coarse codebooks' codes
    coarse_infer = coarse_pad + 2
    # Wider than transformers' 0.02 init, so the random weights heed their inputs (the voice).
    layers = dict(num_layers=2, num_heads=2, hidden_size=16, block_size=1024, initializer_range=0.5)
    semantic = BarkSemanticConfig(input_vocab_size=semantic_infer + 1, output_vocab_size=semantic_out, **layers)
    coarse = BarkCoarseConfig(input_vocab_size=coarse_infer + 6, output_vocab_size=coarse_infer + 6, **layers)
    fine = BarkFineConfig(input_vocab_size=_BARK_CODES + 8, output_vocab_size=_BARK_CODES + 8,
                          n_codes_total=_BARK_BOOKS, n_codes_given=1, **layers)
    codec = EncodecConfig(sampling_rate=24000, audio_channels=1, upsampling_ratios=[8, 5, 4, 2],
                          codebook_size=_BARK_CODES, hidden_size=16, num_filters=4, num_residual_layers=1,
                          codebook_dim=16, target_bandwidths=[1.5, 3.0, 6.0], num_lstm_layers=1)
    config = BarkConfig(semantic_config=semantic.to_dict(), coarse_acoustics_config=coarse.to_dict(),
                        fine_acoustics_config=fine.to_dict(), codec_config=codec.to_dict())
    with torch.random.fork_rng(devices=[]):  # the fixed seed must not leak into the caller's RNG
        torch.manual_seed(0)
        model = BarkModel(config)
        for layer in model.codec_model.quantizer.layers:  # EnCodec starts its codebooks at zero
            layer.codebook.embed.normal_()
    # As suno/bark's generation_config.json holds it: BarkModel.generate reads the three
    # sub-configs as plain dicts (BarkGenerationConfig itself cannot be saved).
    model.generation_config = GenerationConfig(
        semantic_config=dict(eos_token_id=_BARK_SEMANTIC, max_new_tokens=48, do_sample=True, temperature=0.7,
                             text_encoding_offset=text_offset, text_pad_token=text_pad,
                             semantic_infer_token=semantic_infer, semantic_vocab_size=_BARK_SEMANTIC,
                             max_input_semantic_length=256, semantic_rate_hz=49.9),
        coarse_acoustics_config=dict(do_sample=True, temperature=0.7, coarse_semantic_pad_token=coarse_pad,
                                     coarse_rate_hz=75, n_coarse_codebooks=2, coarse_infer_token=coarse_infer,
                                     max_coarse_input_length=256, max_coarse_history=630, sliding_window_len=60),
        fine_acoustics_config=dict(temperature=0.5, max_fine_history_length=512, max_fine_input_length=1024,
                                   n_fine_codebooks=_BARK_BOOKS),
        sample_rate=24000, codebook_size=_BARK_CODES)
    model.save_pretrained(path, safe_serialization=True)
    BarkProcessor(tokenizer=tokenizer).save_pretrained(path)
    _write_bark_presets(path, np.random.default_rng(0))


def _write_bark_presets(path: Path, rng) -> None:
    """Two voices, ~0.8 s of history each: one as the Hub lays presets out (.npy files named
    in speaker_embeddings_path.json), one as Bark's own .npz."""
    import numpy as np

    def preset():
        return {"semantic_prompt": rng.integers(0, _BARK_SEMANTIC, 40),
                "coarse_prompt": rng.integers(0, _BARK_CODES, (2, 60)),
                "fine_prompt": rng.integers(0, _BARK_CODES, (_BARK_BOOKS, 60))}

    folder = path / "speaker_embeddings"
    (folder / "v2").mkdir(parents=True, exist_ok=True)
    listing: dict = {"repo_or_path": str(path), "v2/en_speaker_0": {}}
    for key, array in preset().items():
        name = f"speaker_embeddings/v2/en_speaker_0_{key}.npy"
        np.save(path / name, array, allow_pickle=False)
        listing["v2/en_speaker_0"][key] = name
    (path / "speaker_embeddings_path.json").write_text(json.dumps(listing, indent=1))
    np.savez(folder / "narrator.npz", **preset())
