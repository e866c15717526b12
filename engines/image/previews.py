"""Previews of the image in progress: TAESD (a tiny decoder trained to stand in for the VAE)
when its weights are in the Hugging Face cache, else the linear latent->RGB map. Both look at
the latents only, so previews never change the result.

TAESD gives a full-size picture for about 1 % of the VAE's cost; nothing is downloaded for it
(`hf download madebyollin/taesd` once, or taesdxl for SDXL, makes previews sharper).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the window loads this module at start
    import numpy as np

from engines.image import latents

TAESD = {"sd": "madebyollin/taesd", "sdxl": "madebyollin/taesdxl"}
WEIGHTS = "diffusion_pytorch_model.safetensors"


def find_taesd(family: str) -> Path | None:
    """The cached TAESD folder for a family, if its safetensors weights are there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(TAESD[family], local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None
    return folder if (folder / WEIGHTS).is_file() and (folder / "config.json").is_file() else None


class Previewer:
    """Turns a step's latents into an HxWx3 uint8 image."""

    def __init__(self, family: str, device: str, dtype):
        self.family = family
        self.decoder = None
        folder = find_taesd(family)
        if folder is not None:
            from diffusers import AutoencoderTiny

            try:
                self.decoder = AutoencoderTiny.from_pretrained(folder, use_safetensors=True, torch_dtype=dtype)
                self.decoder.to(device).eval()
            except (OSError, ValueError, RuntimeError):
                self.decoder = None  # a damaged download: previews fall back, the generation goes on

    @property
    def kind(self) -> str:
        return "taesd" if self.decoder is not None else "latent-rgb"

    def __call__(self, step_latents) -> np.ndarray:
        if self.decoder is None:
            return latents.preview(step_latents, self.family)
        import torch

        with torch.no_grad():
            # The pipeline's latents are already scaled; TAESD's scaling factor is 1.
            image = self.decoder.decode(step_latents[:1].to(self.decoder.dtype)).sample[0]
        image = ((image.float().clamp(-1, 1) + 1) * 127.5).round().byte()
        return image.permute(1, 2, 0).cpu().numpy()
