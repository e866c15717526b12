"""The GAN trainer: DCGAN's alternating updates with the non-saturating logistic loss.

Each step: the discriminator learns real from fake (one backward pass on both), then the
generator learns to fool it, on the same fakes. With `diffaug` both see the same kind of
random differentiable augmentation (DiffAugment), which keeps a discriminator from
memorising a small set. With `g_ema` (on by default) the trainer also keeps an exponential
moving average of the generator's weights, as StyleGAN and BigGAN do, and samples, evaluates
and exports that: the last step's generator carries the noise of the last few updates (a
mottled texture), the average is smoother.
"""
from __future__ import annotations

import copy
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
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if params["g_ema"] else None
        self.ema_updates = 0

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
        self._update_ema()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        """G_ema <- decay * G_ema + (1 - decay) * G; the decay ramps up over the first steps
        ((1 + n) / (10 + n), as TensorFlow's moving averages do), so a short run's average is
        not its random start. Buffers (batch norm's running statistics) are copied."""
        if self.G_ema is None:
            return
        self.ema_updates += 1
        decay = min(self.params["g_ema"], (1 + self.ema_updates) / (10 + self.ema_updates))
        for average, current in zip(self.G_ema.parameters(), self.G.parameters()):
            average.lerp_(current, 1 - decay)
        for average, current in zip(self.G_ema.buffers(), self.G.buffers()):
            average.copy_(current)

    @property
    def shown(self):
        """The generator that samples, evaluations and the exported model use."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def sample(self, n: int, seed: int):
        """n images from fixed latents (the engine's own: output i is `gan.latent(seed + i)`),
        with the generator as the engine runs it (eval mode)."""
        z = torch.cat([gan.latent(seed + i, self.config.latent_dim) for i in range(n)]).to(self.device)
        generator = self.shown
        was_training = generator.training
        generator.eval()
        try:
            return generator(z)
        finally:
            generator.train(was_training)

    def evaluate(self, val, seed: int) -> dict:
        fakes = torch.cat([self.sample(n, seed + start) for start, n in _chunks(self.params["eval_samples"], 64)])
        return evaluate.fid_kid(val, fakes)

    def state(self) -> tuple[dict, dict]:
        tensors, info = checkpoint.adversarial_state(self.G, self.D, self.opt_g, self.opt_d)
        if self.G_ema is not None:
            tensors.update({f"G_ema.{k}": v for k, v in self.G_ema.state_dict().items()})
            info["ema_updates"] = self.ema_updates
        return tensors, info

    def load_state(self, tensors: dict, info: dict) -> None:
        checkpoint.load_adversarial_state(self.G, self.D, self.opt_g, self.opt_d, tensors, info)
        if self.G_ema is not None:
            self.G_ema.load_state_dict({k[len("G_ema."):]: v for k, v in tensors.items() if k.startswith("G_ema.")})
            self.ema_updates = info["ema_updates"]

    def export(self, folder: Path, trained: dict) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous().cpu() for k, v in self.shown.state_dict().items()},
                  folder / gan.WEIGHTS)
        (folder / "model.json").write_text(json.dumps(
            {"format": gan.FORMAT, "version": 1, "config": self.config.to_dict(), "trained": trained}, indent=1))


def _chunks(total: int, size: int):
    """(first index, count) of the batches that make up `total` images."""
    return [(start, min(size, total - start)) for start in range(0, total, size)]
