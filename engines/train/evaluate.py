"""Evaluation on the validation split, with torchmetrics.

FID and KID here are computed on the features of FEATURE_NET, a small convolutional network
with fixed random weights (seeded; shipped as this code). Random-feature embeddings rank
generators sensibly (Naeem et al. 2020) and need no download, but the numbers are NOT
comparable with published FID, which uses Inception-v3 features: compare runs of this app
with each other only. Every result says so in its "feature_net" and "note" fields.

The VAE's reconstructions are scored with SSIM, PSNR and mean squared error.
"""
from __future__ import annotations

FEATURE_NET = "assetsmith-randconv-v1"
NOTE = "FID/KID on assetsmith-randconv-v1 features: compare runs of this app only, not published Inception FID"
FEATURE_SIZE = 64  # images are resized to this before the feature net


def _feature_net():
    import torch
    from torch import nn

    class RandomConvFeatures(nn.Module):
        num_features = 128

        def __init__(self):
            super().__init__()
            widths = (3, 32, 64, 128, 128)
            layers = []
            for c_in, c_out in zip(widths, widths[1:]):
                layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.LeakyReLU(0.2)]
            self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
            generator = torch.Generator("cpu").manual_seed(20261122)
            for m in self.body:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, a=0.2, generator=generator)
                    nn.init.zeros_(m.bias)

        def forward(self, images):  # (B, 3, H, W) in [0, 1]
            images = nn.functional.interpolate(images, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear",
                                               align_corners=False, antialias=True)
            return self.body(images * 2 - 1)

    return RandomConvFeatures().eval()


def _rgb01(images):
    """[-1, 1] RGB or RGBA -> RGB in [0, 1]; transparent pixels shown on mid grey."""
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) / 2
    if x.shape[1] == 4:
        alpha = x[:, 3:]
        x = x[:, :3] * alpha + 0.5 * (1 - alpha)
    return x


def fid_kid(real, fake) -> dict:
    """FID and KID between two batches of images in [-1, 1]."""
    import warnings

    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _rgb01(real), _rgb01(fake)
    if len(real) < 2 or len(fake) < 2:
        return {"fid": None, "kid": None, "note": "too few validation images for FID/KID (need 2 or more)"}
    net = _feature_net()
    subset = min(100, len(real), len(fake))
    # KID draws its subsets from the global RNG: fork it so evaluating never shifts training.
    with torch.random.fork_rng(devices=[]), torch.inference_mode(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")  # we evaluate few
        torch.manual_seed(0)
        fid = FrechetInceptionDistance(feature=net, normalize=True)
        kid = KernelInceptionDistance(feature=net, normalize=True, subsets=10, subset_size=subset)
        for metric in (fid, kid):
            metric.update(real, real=True)
            metric.update(fake, real=False)
        kid_mean, kid_std = kid.compute()
        return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std),
                "real": len(real), "fake": len(fake), "feature_net": FEATURE_NET, "note": NOTE}


def reconstruction(real, recon) -> dict:
    """SSIM, PSNR and MSE of reconstructions against the originals (all channels, [0, 1])."""
    import torch
    from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

    a = (real.detach().float().cpu().clamp(-1, 1) + 1) / 2
    b = (recon.detach().float().cpu().clamp(-1, 1) + 1) / 2
    with torch.inference_mode():
        ssim = StructuralSimilarityIndexMeasure(data_range=1.0)(b, a)
        psnr = PeakSignalNoiseRatio(data_range=1.0)(b, a)
    return {"ssim": float(ssim), "psnr": float(psnr), "mse": float(((a - b) ** 2).mean())}
