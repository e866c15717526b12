"""Batch augmentation with torch ops, every random draw from the run's CPU generator.

The same function augments the training data (flips, small crops, colour jitter) and, for
the GAN's differentiable augmentation (Zhao et al., DiffAugment), the real and the fake
images the discriminator sees: it is made of differentiable ops. Drawing from the run's
generator (never the global RNG) is what lets a resumed run see the same batches.
"""
from __future__ import annotations


def augment(x, generator, flips: bool = False, crops: bool = False, jitter: float = 0.0):
    """x: (B, C, H, W) in [-1, 1]; the alpha channel of RGBA is moved, never recoloured."""
    import torch
    import torch.nn.functional as F

    batch = x.shape[0]

    def uniform(low, high, *shape):
        return (torch.rand(batch, *shape, generator=generator) * (high - low) + low).to(x.device, x.dtype)

    if flips:
        flip = (torch.rand(batch, generator=generator) < 0.5).to(x.device)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if crops:
        # Zoom in by up to 1/8 and shift by what the zoom leaves: a random crop of 7/8 to all
        # of the image, resampled back to full size.
        scale = uniform(7 / 8, 1.0)
        shift = uniform(-1.0, 1.0, 2) * (1 - scale)[:, None]
        theta = torch.zeros(batch, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = theta[:, 1, 1] = scale
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if jitter:
        rgb, alpha = x[:, :3], x[:, 3:]
        rgb = rgb + uniform(-jitter, jitter, 1, 1, 1) * 2  # brightness, in [-1, 1] units
        grey = rgb.mean(dim=1, keepdim=True)
        rgb = grey + (rgb - grey) * uniform(1 - jitter, 1 + jitter, 1, 1, 1)  # saturation
        mean = rgb.mean(dim=(1, 2, 3), keepdim=True)
        rgb = mean + (rgb - mean) * uniform(1 - jitter, 1 + jitter, 1, 1, 1)  # contrast
        x = torch.cat([rgb.clamp(-1, 1), alpha], dim=1)
    return x
