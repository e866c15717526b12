"""The VAE trainer: reconstruction (squared error, summed per image) plus the KL divergence
of the posterior from N(0, I), weighted by `kl_weight` (beta-VAE); one Adam."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from engines.image import gan, vae
from engines.train import checkpoint, evaluate


class VaeTrainer:
    def __init__(self, params: dict, device: str, generator: torch.Generator):
        self.params, self.device = params, device
        self.config = vae.VaeConfig(resolution=params["resolution"], channels=params["channels"],
                                    latent_dim=params["latent_dim"], width=params["width"], fit=params["fit"])
        torch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # torch's default init, seeded from the run
            torch.manual_seed(torch_seed)
            self.vae = vae.build_vae(self.config)
        self.vae.to(device).train()
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=params["lr"])

    def step(self, real, generator: torch.Generator) -> dict:
        mu, logvar = vae.encode(self.vae, real)
        eps = torch.randn(mu.shape, generator=generator).to(self.device)
        recon = vae.decode(self.vae, mu + eps * torch.exp(0.5 * logvar))
        batch = real.shape[0]
        rec = F.mse_loss(recon, real, reduction="sum") / batch
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        loss = rec + self.params["kl_weight"] * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "recon": rec.item(), "kl": kl.item()}

    @torch.no_grad()
    def sample(self, n: int, seed: int):
        """Decoded prior samples from the engine's latents (output i: `gan.latent(seed + i)`)."""
        z = torch.cat([gan.latent(seed + i, self.config.latent_dim).flatten(1) for i in range(n)])
        return vae.decode(self.vae, z.to(self.device))

    @torch.no_grad()
    def evaluate(self, val, seed: int) -> dict:
        mu, _ = vae.encode(self.vae, val.to(self.device))
        scores = evaluate.reconstruction(val, vae.decode(self.vae, mu))
        scores.update(evaluate.fid_kid(val, self.sample(self.params["eval_samples"], seed)))
        return scores

    def state(self) -> tuple[dict, dict]:
        tensors, info = checkpoint.optimizer_state(self.opt, "opt")
        tensors.update({f"vae.{k}": v for k, v in self.vae.state_dict().items()})
        return tensors, {"opt": info}

    def load_state(self, tensors: dict, info: dict) -> None:
        self.vae.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("vae.")})
        checkpoint.load_optimizer_state(self.opt, "opt", tensors, info["opt"])

    def export(self, folder: Path, trained: dict) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous().cpu() for k, v in self.vae.state_dict().items()}, folder / vae.WEIGHTS)
        (folder / "model.json").write_text(json.dumps(
            {"format": vae.FORMAT, "version": 1, "config": self.config.to_dict(), "trained": trained}, indent=1))
