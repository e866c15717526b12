"""LoRA for Stable Diffusion 1.x / 2.x on the training harness, after diffusers'
examples/text_to_image/train_text_to_image_lora.py: the base model frozen, low-rank adapters
(peft) on the UNet's attention projections and optionally the text encoder's, trained to
predict the noise the scheduler added to the VAE latents of each image, given its caption.

Every random draw (latent sample, noise, timesteps, caption dropout and shuffle) comes from
the run's generator, so stop + resume gives the bits an uninterrupted run gives. The result
is a LoRA file in diffusers' layout (pytorch_lora_weights.safetensors) and, when asked, in
kohya's (AUTOMATIC1111, ComfyUI); both load in our diffusion engine's `loras`.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from engines import devices
from engines.api import EngineError, ParamError
from engines.image.lora_layout import peft_to_kohya
from engines.train import checkpoint

FORMAT = "lora-diffusion"
DIFFUSERS_FILE, KOHYA_FILE = "pytorch_lora_weights.safetensors", "lora-kohya.safetensors"
UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


class LoraDiffusionTrainer:
    sample_count = 4  # sample prompts rendered per grid (2 x 2): each is a whole generation

    def __init__(self, params: dict, device: str, generator: torch.Generator):
        from diffusers import DDPMScheduler, StableDiffusionPipeline
        from peft import LoraConfig

        self.params, self.device = params, device
        if params["channels"] != 3:
            raise ParamError("a diffusion LoRA trains on RGB images: set channels to 3")
        base = Path(params["base"]).expanduser()
        try:
            kind = json.loads((base / "model_index.json").read_text()).get("_class_name")
        except (OSError, ValueError):
            raise EngineError(f"base {base} is not a diffusers model folder (model_index.json)") from None
        if kind != "StableDiffusionPipeline":
            raise EngineError(f"base {base.name} is a {kind}; LoRA training takes Stable Diffusion 1.x / 2.x "
                              "models for now")
        devices.quiet_libraries()
        self.pipe = StableDiffusionPipeline.from_pretrained(base, use_safetensors=True, safety_checker=None,
                                                            requires_safety_checker=False)
        self.pipe.set_progress_bar_config(disable=True)
        self.unet, self.vae, self.text_encoder = self.pipe.unet, self.pipe.vae, self.pipe.text_encoder
        self.noise_scheduler = DDPMScheduler.from_config(self.pipe.scheduler.config)
        for module in (self.unet, self.vae, self.text_encoder):
            module.requires_grad_(False)
        alpha = params["alpha"] if params["alpha"] is not None else params["rank"]
        self.alpha = alpha
        torch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):  # peft's initialisation, seeded from the run
            torch.manual_seed(torch_seed)
            self.unet.add_adapter(LoraConfig(r=params["rank"], lora_alpha=alpha, init_lora_weights="gaussian",
                                             target_modules=UNET_TARGETS))
            if params["train_text_encoder"]:
                self.text_encoder.add_adapter(LoraConfig(r=params["rank"], lora_alpha=alpha,
                                                         init_lora_weights="gaussian", target_modules=TEXT_TARGETS))
        self.pipe.to(device)
        self.trained = {name: module for name, module in (("unet", self.unet), ("text_encoder", self.text_encoder))
                        if any(p.requires_grad for p in module.parameters())}
        self.opt = torch.optim.AdamW([p for m in self.trained.values() for p in m.parameters() if p.requires_grad],
                                     lr=params["lr"])
        # Mixed precision where the GPU computes bfloat16 natively (no loss scaling needed).
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                         if device.startswith("cuda") and devices.bf16_supported(device) else nullcontext())
        self._train_mode(True)

    def _train_mode(self, on: bool) -> None:
        for module in self.trained.values():
            module.train(on)

    def _caption(self, text: str, generator: torch.Generator) -> str:
        if self.params["caption_dropout"] and torch.rand(1, generator=generator).item() < self.params["caption_dropout"]:
            return ""
        if self.params["shuffle_tags"]:
            tags = [t.strip() for t in text.split(",") if t.strip()]
            text = ", ".join(tags[i] for i in torch.randperm(len(tags), generator=generator).tolist())
        return text

    def _loss(self, images, captions: list[str], generator: torch.Generator):
        """The noise-prediction loss of a batch, every draw from `generator`."""
        tokens = self.pipe.tokenizer(captions, padding="max_length", max_length=self.pipe.tokenizer.model_max_length,
                                     truncation=True, return_tensors="pt").input_ids.to(self.device)
        with torch.no_grad():
            latents = self.vae.encode(images.to(self.device)).latent_dist.sample(generator=generator)
            latents = latents * self.vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator).to(self.device)
        steps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                              generator=generator).to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, steps)
        target = (noise if self.noise_scheduler.config.prediction_type == "epsilon"
                  else self.noise_scheduler.get_velocity(latents, noise, steps))
        with self.autocast:
            hidden = self.text_encoder(tokens, return_dict=False)[0]
            prediction = self.unet(noisy, steps, hidden, return_dict=False)[0]
        return F.mse_loss(prediction.float(), target.float())

    def step(self, real, generator: torch.Generator, captions: list[str]) -> dict:
        loss = self._loss(real, [self._caption(c, generator) for c in captions], generator)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def evaluate(self, val, seed: int, captions: list[str]) -> dict:
        """The loss on held-out images with fixed noise and timesteps (the same at every
        evaluation, so the figures compare across the run)."""
        self._train_mode(False)
        generator = torch.Generator("cpu").manual_seed(seed)
        n, batch = min(len(val), self.params["eval_samples"]), self.params["batch_size"]
        total = sum(self._loss(val[i:i + batch], captions[i:i + batch], generator).item() * len(val[i:i + batch])
                    for i in range(0, n, batch))
        self._train_mode(True)
        return {"val_loss": total / n}

    @torch.no_grad()
    def sample(self, n: int, seed: int, captions: list[str] | None = None):
        """The sample prompts (else the first captions), image i with seed + i, in [-1, 1]."""
        prompts = self.params["sample_prompts"] or captions or [""]
        self._train_mode(False)
        images = [self.pipe(prompts[i % len(prompts)], num_inference_steps=self.params["sample_steps"],
                            height=self.params["resolution"], width=self.params["resolution"], output_type="pt",
                            generator=torch.Generator("cpu").manual_seed(seed + i)).images for i in range(n)]
        self._train_mode(True)
        return torch.cat(images) * 2 - 1

    def _lora_state(self) -> dict:
        return {f"{name}.{key}": p for name, module in self.trained.items()
                for key, p in module.named_parameters() if p.requires_grad}

    def state(self) -> tuple[dict, dict]:
        tensors, info = checkpoint.optimizer_state(self.opt, "opt")
        tensors.update({f"lora.{k}": v.detach() for k, v in self._lora_state().items()})
        return tensors, {"opt": info}

    def load_state(self, tensors: dict, info: dict) -> None:
        with torch.no_grad():
            for key, param in self._lora_state().items():
                param.copy_(tensors[f"lora.{key}"])
        checkpoint.load_optimizer_state(self.opt, "opt", tensors, info["opt"])

    def export(self, folder: Path, trained: dict) -> None:
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save_file

        layers = {name: {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(module).items()}
                  for name, module in self.trained.items()}
        StableDiffusionPipeline.save_lora_weights(
            folder, unet_lora_layers=convert_state_dict_to_diffusers(layers["unet"]),
            text_encoder_lora_layers=(convert_state_dict_to_diffusers(layers["text_encoder"])
                                      if "text_encoder" in layers else None),
            weight_name=DIFFUSERS_FILE, safe_serialization=True)
        files = {"diffusers": DIFFUSERS_FILE}
        if self.params["kohya_export"]:
            peft = {f"{name}.{k}": v for name, state in layers.items() for k, v in state.items()}
            save_file(peft_to_kohya(peft, self.alpha), folder / KOHYA_FILE)
            files["kohya"] = KOHYA_FILE
        (folder / "model.json").write_text(json.dumps(
            {"format": FORMAT, "version": 1, "base": self.params["base"], "rank": self.params["rank"],
             "alpha": self.alpha, "files": files, "trained": trained}, indent=1))
