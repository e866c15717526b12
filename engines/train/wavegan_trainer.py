"""The WaveGAN trainer: alternating updates with the non-saturating logistic loss.

The paper trained WaveGAN with WGAN-GP: five critic updates per generator update, each with a
gradient penalty (a second backward pass through the critic). Here the discriminator is held
to a Lipschitz bound by spectral normalisation instead, and both networks take one update per
step with the non-saturating loss, as the gan trainer does. On a CPU and a set of a hundred or
so clips that is the better trade: the same budget buys about five times as many generator
updates, and spectral norm's bound keeps the discriminator from running away on a small set
(Miyato et al. 2018; what makes the gan trainer work on small folders too). Phase shuffle is
the paper's; `diffaug` flips the polarity of every clip the discriminator sees at random (real
and generated alike: a sound and its negative sound the same), which shows it twice the set.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engines.audio import wavegan
from engines.image.gan import latent
from engines.train import audio_data, audio_eval, checkpoint

SAMPLE_CLIPS = 8  # fixed-seed clips in each sample file
SAMPLE_GAP_S = 0.25  # silence between them


class WaveGanTrainer:
    prepare = staticmethod(audio_data.prepare)

    def __init__(self, params: dict, device: str, generator: torch.Generator):
        self.params, self.device = params, device
        self.config = wavegan.WaveGanConfig(
            sample_rate=params["sample_rate"], length=params["length"], latent_dim=params["latent_dim"],
            g_width=params["g_width"], d_width=params["d_width"], phase_shuffle=params["phase_shuffle"])
        torch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # spectral norm starts its vectors from torch's RNG
            torch.manual_seed(torch_seed)
            self.G = wavegan.build_generator(self.config)
            self.D = wavegan.build_discriminator(self.config)
        wavegan.init_weights(self.G, generator)
        wavegan.init_weights(self.D, generator)
        self.G.to(device).train()
        self.D.to(device).train()
        betas = (params["beta1"], params["beta2"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=params["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=params["lr"], betas=betas)

    def _noise(self, n: int, generator: torch.Generator):
        return torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)

    def _d(self, clips, generator):
        """The discriminator's logits, with phase shuffle and, with diffaug, random polarity."""
        if self.params["diffaug"]:
            signs = torch.randint(0, 2, (clips.shape[0], 1, 1), generator=generator).mul(2).sub(1)
            clips = clips * signs.to(clips.device, clips.dtype)
        return self.D(clips, generator)

    def step(self, real, generator: torch.Generator) -> dict:
        real = real.unsqueeze(1).to(self.device)  # (B, length) -> (B, 1, length)
        fake = self.G(self._noise(real.shape[0], generator))
        d_real = self._d(real, generator)
        d_fake = self._d(fake.detach(), generator)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        loss_g = F.softplus(-self._d(fake, generator)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_real": torch.sigmoid(d_real).mean().item(), "d_fake": torch.sigmoid(d_fake).mean().item()}

    @torch.no_grad()
    def sample(self, n: int, seed: int):
        """n clips (n, length) from the engine's latents: clip i is what `wavegan` makes with seed + i."""
        z = torch.cat([latent(seed + i, self.config.latent_dim) for i in range(n)]).to(self.device)
        return self.G(z)[:, 0].float().cpu()

    def write_sample(self, folder: Path, step: int, seed: int) -> Path:
        """The fixed-seed clips of this step, one after another with short gaps, as a 16-bit WAV."""
        import soundfile

        rate = self.config.sample_rate
        gap = np.zeros(round(SAMPLE_GAP_S * rate), dtype=np.float32)
        pieces = []
        for clip in self.sample(SAMPLE_CLIPS, seed).numpy():
            pieces += [clip, gap]
        path = Path(folder) / f"step-{step:08d}.wav"
        tmp = path.with_name(f".tmp-{path.name}")
        soundfile.write(str(tmp), np.concatenate(pieces[:-1]), rate, subtype="PCM_16", format="WAV")
        tmp.replace(path)
        return path

    def evaluate(self, val, seed: int) -> dict:
        total = self.params["eval_samples"]
        fakes = torch.cat([self.sample(min(64, total - start), seed + start) for start in range(0, total, 64)])
        return audio_eval.logmel_distance(val.numpy(), fakes.numpy(), self.config.sample_rate)

    def state(self) -> tuple[dict, dict]:
        return checkpoint.adversarial_state(self.G, self.D, self.opt_g, self.opt_d)

    def load_state(self, tensors: dict, info: dict) -> None:
        checkpoint.load_adversarial_state(self.G, self.D, self.opt_g, self.opt_d, tensors, info)

    def export(self, folder: Path, trained: dict) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous().cpu() for k, v in self.G.state_dict().items()},
                  folder / wavegan.WEIGHTS)
        (folder / "model.json").write_text(json.dumps(
            {"format": wavegan.FORMAT, "version": 1, "config": self.config.to_dict(), "trained": trained}, indent=1))
