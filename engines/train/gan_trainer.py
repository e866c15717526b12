"""The GAN trainer: DCGAN's alternating updates with the non-saturating logistic loss.

Each step: the discriminator learns real from fake (one backward pass on both), then the
generator learns to fool it, on the same fakes. With `diffaug` both see the same kind of
random differentiable augmentation (DiffAugment), which keeps a discriminator from
memorising a small set.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from engines.image import gan
from engines.train import checkpoint, evaluate
from engines.train.augment import augment


class GanTrainer:
    def __init__(self, params: dict, device: str, generator: torch.Generator):
        self.params, self.device = params, device
        self.config = gan.GanConfig(resolution=params["resolution"], channels=params["channels"],
                                    latent_dim=params["latent_dim"], g_width=params["g_width"],
                                    d_width=params["d_width"], d_norm=params["d_norm"],
                                    upsample=params["upsample"])
        torch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # spectral norm starts its vectors from torch's RNG
            torch.manual_seed(torch_seed)
            self.G = gan.build_generator(self.config)
            self.D = gan.build_discriminator(self.config)
        gan.init_weights(self.G, generator)
        gan.init_weights(self.D, generator)
        self.G.to(device).train()
        self.D.to(device).train()
        betas = (params["beta1"], 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=params["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=params["lr"], betas=betas)

    def _noise(self, n: int, generator: torch.Generator):
        return torch.randn(n, self.config.latent_dim, 1, 1, generator=generator).to(self.device)

    def _d_view(self, images, generator):
        return augment(images, generator, crops=True, jitter=0.2) if self.params["diffaug"] else images

    def step(self, real, generator: torch.Generator) -> dict:
        fake = self.G(self._noise(real.shape[0], generator))
        d_real = self.D(self._d_view(real, generator))
        d_fake = self.D(self._d_view(fake.detach(), generator))
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        loss_g = F.softplus(-self.D(self._d_view(fake, generator))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def sample(self, n: int, seed: int):
        """n images from fixed latents (the engine's own: output i is `gan.latent(seed + i)`),
        with the generator as the engine runs it (eval mode)."""
        z = torch.cat([gan.latent(seed + i, self.config.latent_dim) for i in range(n)]).to(self.device)
        self.G.eval()
        try:
            return self.G(z)
        finally:
            self.G.train()

    def evaluate(self, val, seed: int) -> dict:
        fakes = torch.cat([self.sample(n, seed + start) for start, n in _chunks(self.params["eval_samples"], 64)])
        return evaluate.fid_kid(val, fakes)

    def state(self) -> tuple[dict, dict]:
        return checkpoint.adversarial_state(self.G, self.D, self.opt_g, self.opt_d)

    def load_state(self, tensors: dict, info: dict) -> None:
        checkpoint.load_adversarial_state(self.G, self.D, self.opt_g, self.opt_d, tensors, info)

    def export(self, folder: Path, trained: dict) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous().cpu() for k, v in self.G.state_dict().items()}, folder / gan.WEIGHTS)
        (folder / "model.json").write_text(json.dumps(
            {"format": gan.FORMAT, "version": 1, "config": self.config.to_dict(), "trained": trained}, indent=1))


def _chunks(total: int, size: int):
    """(first index, count) of the batches that make up `total` images."""
    return [(start, min(size, total - start)) for start in range(0, total, size)]
