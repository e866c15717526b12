"""Latent-space helpers for diffusion: cheap previews and variation noise."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: the window loads this module at start
    import numpy as np

# Linear maps from SD latents to RGB, fitted by the community (as ComfyUI and A1111 use them):
# a preview costs one small matrix product instead of a VAE decode.
LATENT_RGB = {
    "sd": [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
    "sdxl": [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]],
}


@cache
def _factors(family: str):
    import numpy as np

    return np.asarray(LATENT_RGB[family], dtype=np.float32)


def preview(latents, family: str = "sd") -> np.ndarray:
    """An HxWx3 uint8 image at latent resolution (1/8 of the output), from the first latent."""
    import numpy as np

    rgb = latents[0].detach().float().cpu().numpy().transpose(1, 2, 0) @ _factors(family)
    return np.rint((np.clip(rgb, -1, 1) + 1) * 127.5).astype(np.uint8)


def slerp(t: float, a, b):
    """Spherical interpolation between two noise tensors: the mix keeps the norm a Gaussian
    sample has, so t in between still looks like noise to the model (A1111's variation seed)."""
    import torch

    a_flat, b_flat = a.flatten().double(), b.flatten().double()
    cos = torch.dot(a_flat / a_flat.norm(), b_flat / b_flat.norm()).clamp(-1, 1)
    if cos > 0.9995:  # nearly parallel: a straight line is as good and stable
        return (1 - t) * a + t * b
    omega = torch.acos(cos)
    mixed = (torch.sin((1 - t) * omega) * a.double() + torch.sin(t * omega) * b.double()) / torch.sin(omega)
    return mixed.to(a.dtype)


def variation_noise(shape, generator, variation_seed: int, strength: float, dtype):
    """The initial latents for seed + variation: drawn from `generator` exactly as the pipeline
    would draw them (so strength 0 is the plain seed, bit for bit), mixed towards the noise of
    `variation_seed`."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    base = randn_tensor(shape, generator=generator, device=torch.device("cpu"), dtype=dtype)
    if strength == 0:
        return base
    other = randn_tensor(shape, generator=torch.Generator("cpu").manual_seed(variation_seed),
                         device=torch.device("cpu"), dtype=dtype)
    return slerp(strength, base, other)
