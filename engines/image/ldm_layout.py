"""Diffusers components -> the original (LDM / CompVis, "A1111") single-file key layout.

The exact inverse of diffusers' single-file conversion (`diffusers.loaders.single_file_utils`):
a pipeline written with `save_single_file` loads back through `from_single_file` with the same
weights. Checkpoints as people download them use this layout; tests and benchmarks write
them from tiny pipelines, and a user can export a fine-tuned pipeline to one file.
"""
from __future__ import annotations

import re
from pathlib import Path

UNET = "model.diffusion_model."
VAE = "first_stage_model."
SD_CLIP = "cond_stage_model.transformer."
SDXL_CLIP = "conditioner.embedders.0.transformer."
SDXL_OPEN_CLIP = "conditioner.embedders.1.model."

_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
}
_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
                "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
_VAE_TOP = {"conv_norm_out": "norm_out"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
_OPEN_CLIP_LAYER = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
                    "self_attn.out_proj": "attn.out_proj"}


def _rename_head(rest: str, table: dict[str, str]) -> str:
    """`rest` with its leading module name (one of `table`'s keys) replaced."""
    for old, new in table.items():
        if rest.startswith(old + "."):
            return new + rest[len(old):]
    return rest


def unet_to_ldm(state: dict, config: dict) -> dict:
    """A diffusers UNet2DConditionModel state dict in LDM layout (without the prefix).

    LDM numbers the UNet's blocks flat: input block 0 is conv_in, then per down block
    `layers_per_block` (resnet, attention) pairs and a downsampler; output blocks hold
    `layers_per_block + 1` layers each, the upsampler riding on the last one."""
    per = config["layers_per_block"] + 1
    attends = [t.startswith("CrossAttn") for t in config["up_block_types"]]
    out = {}
    for key, value in state.items():
        if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.+)", key):
            block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
            if kind == "downsamplers":
                new = f"input_blocks.{1 + block * per + per - 1}.0.op.{rest.removeprefix('conv.')}"
            elif kind == "resnets":
                new = f"input_blocks.{1 + block * per + layer}.0.{_rename_head(rest, _UNET_RESNET)}"
            else:
                new = f"input_blocks.{1 + block * per + layer}.1.{rest}"
        elif m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key):
            kind, layer, rest = m[1], int(m[2]), m[3]
            new = (f"middle_block.{2 * layer}.{_rename_head(rest, _UNET_RESNET)}" if kind == "resnets"
                   else f"middle_block.1.{rest}")
        elif m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.+)", key):
            block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
            if kind == "upsamplers":
                new = f"output_blocks.{block * per + per - 1}.{2 if attends[block] else 1}.{rest}"
            elif kind == "resnets":
                new = f"output_blocks.{block * per + layer}.0.{_rename_head(rest, _UNET_RESNET)}"
            else:
                new = f"output_blocks.{block * per + layer}.1.{rest}"
        else:
            new = _rename_head(key, _UNET_TOP)
        out[new] = value
    return out


def vae_to_ldm(state: dict, config: dict) -> dict:
    """A diffusers AutoencoderKL state dict in LDM layout (without the prefix). LDM numbers
    the decoder's up blocks from the bottom, and stores the mid attention as 1x1 convolutions."""
    last = len(config["up_block_types"]) - 1
    out = {}
    for key, value in state.items():
        new = key
        if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.(resnets\.(\d+)|downsamplers\.0)\.(.+)", key):
            middle = f"block.{m[3]}" if m[3] is not None else "downsample"
            new = f"encoder.down.{m[1]}.{middle}.{m[4]}"
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.(resnets\.(\d+)|upsamplers\.0)\.(.+)", key):
            middle = f"block.{m[3]}" if m[3] is not None else "upsample"
            new = f"decoder.up.{last - int(m[1])}.{middle}.{m[4]}"
        elif m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
            new = f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
        elif m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", key):
            new = f"{m[1]}.mid.attn_1.{_rename_head(m[2], _VAE_ATTENTION)}"
            if value.ndim == 2:
                value = value[:, :, None, None]
        elif m := re.fullmatch(r"(encoder|decoder)\.(.+)", key):
            new = f"{m[1]}.{_rename_head(m[2], _VAE_TOP)}"
        out[new.replace("conv_shortcut", "nin_shortcut")] = value
    return out


def clip_to_ldm(state: dict) -> dict:
    """A transformers CLIPTextModel state dict as LDM stores it (HF layout under `text_model.`;
    recent transformers flatten the model and drop that prefix)."""
    return {k if k.startswith("text_model.") or k == "text_projection.weight" else "text_model." + k: v
            for k, v in state.items()}


def open_clip_to_ldm(state: dict) -> dict:
    """A transformers CLIPTextModelWithProjection state dict in OpenCLIP's layout (SDXL's second
    text encoder): q, k, v fused into one in-projection, the projection stored transposed."""
    import torch

    state = {k.removeprefix("text_model."): v for k, v in state.items()}
    out = {
        "positional_embedding": state.pop("embeddings.position_embedding.weight"),
        "token_embedding.weight": state.pop("embeddings.token_embedding.weight"),
        "ln_final.weight": state.pop("final_layer_norm.weight"),
        "ln_final.bias": state.pop("final_layer_norm.bias"),
        "text_projection": state.pop("text_projection.weight").T.contiguous(),
    }
    layers = sorted({int(k.split(".")[2]) for k in state if k.startswith("encoder.layers.")})
    for i in layers:
        src, dst = f"encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[dst + f"attn.in_proj_{kind}"] = torch.cat(
                [state.pop(src + f"self_attn.{p}_proj.{kind}") for p in "qkv"])
        for key in [k for k in state if k.startswith(src)]:
            out[dst + _rename_head(key[len(src):], _OPEN_CLIP_LAYER)] = state.pop(key)
    if state:
        raise ValueError(f"open_clip_to_ldm: keys left unconverted: {sorted(state)[:5]}")
    return out


def pipeline_to_ldm(pipe) -> dict:
    """The state dict of a whole SD 1.x or SDXL pipeline in single-file layout."""
    unet = unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config)
    vae = vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config)
    out = {UNET + k: v for k, v in unet.items()} | {VAE + k: v for k, v in vae.items()}
    text = clip_to_ldm(pipe.text_encoder.state_dict())
    if getattr(pipe, "text_encoder_2", None) is None:
        return out | {SD_CLIP + k: v for k, v in text.items()}
    open_clip = open_clip_to_ldm(pipe.text_encoder_2.state_dict())
    return out | {SDXL_CLIP + k: v for k, v in text.items()} | {SDXL_OPEN_CLIP + k: v for k, v in open_clip.items()}


def save_single_file(pipe, path: str | Path) -> Path:
    """Write a pipeline's weights as one original-layout .safetensors checkpoint."""
    from safetensors.torch import save_file

    path = Path(path)
    save_file({k: v.detach().contiguous() for k, v in pipeline_to_ldm(pipe).items()}, path)
    return path
