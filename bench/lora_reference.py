"""The reference for bench/bench_lora_train.py: a plain diffusion LoRA training loop written after
diffusers' examples/text_to_image/train_text_to_image_lora.py: the pipeline's parts frozen, a
peft LoRA (gaussian init) on the UNet's to_q/k/v/out, AdamW; per step: VAE-encode the batch,
sample the latent, scale it, add DDPM noise at random timesteps, encode the captions, predict
the noise, MSE, backward, step. No data loading beyond a fixed tensor batch, no logging.
"""
import time

import torch
import torch.nn.functional as F


def train(model: str, steps: int, batch: int, size: int, rank: int, lr: float = 1e-4) -> list[float]:
    """Runs `steps` steps; returns the time each ended (perf_counter)."""
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig

    pipe = StableDiffusionPipeline.from_pretrained(model, safety_checker=None, requires_safety_checker=False)
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
    optimizer = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=lr)
    unet.train()
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
    ids = tokenizer(["a sprite"] * batch, padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    ends = []
    for _ in range(steps):
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,))
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        hidden = text_encoder(ids, return_dict=False)[0]
        prediction = unet(noisy, timesteps, hidden, return_dict=False)[0]
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        ends.append(time.perf_counter())
    return ends
