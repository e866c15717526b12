"""Device memory decisions for diffusion, as pure functions of numbers (bytes, pixels), so they
are tested without a GPU: the dtype, whether the VAE decodes in tiles, how much of the model
is offloaded to the CPU, and what to try next after running out of memory."""
from __future__ import annotations

from dataclasses import dataclass

OFFLOAD = ("none", "model", "sequential")  # least to most memory saved (and time spent)
VAE_TILING = ("off", "on")
HEADROOM = 0.9  # of free memory: the allocator's fragmentation and the CUDA context need the rest
# Rough peak activation bytes per output pixel, measured on SD 1.5 / SDXL in half precision
# with SDPA attention: the UNet works at 1/8 of the size (with CFG, two at once), the VAE
# decoder at full size on 128-512 channels.
UNET_BYTES_PER_PIXEL = 160
VAE_DECODE_BYTES_PER_PIXEL = 3000
VAE_TILE_PIXELS = 512 * 512  # diffusers' default tile for SD; the decode then costs one tile


@dataclass(frozen=True)
class Plan:
    offload: str = "none"
    vae_tiling: bool = False


def pick_dtype(device: str, bf16_supported: bool = False) -> str:
    """float32 on the CPU (exact, and half precision is slow there); on a GPU, bfloat16 where
    the hardware has it (its range keeps the VAE from overflowing to black images, as SDXL's does
    in float16), else float16."""
    if device == "cpu":
        return "float32"
    if device.startswith("cuda") and bf16_supported:
        return "bfloat16"
    return "float16"


def needed_bytes(plan: Plan, weights: int, largest_component: int, width: int, height: int) -> int:
    """Peak device memory of one generation under `plan`: the weights that stay on the device,
    the UNet's activations and the VAE decode (one tile of it when tiled)."""
    resident = {"none": weights, "model": largest_component, "sequential": 0}[plan.offload]
    decoded_pixels = min(width * height, VAE_TILE_PIXELS) if plan.vae_tiling else width * height
    return resident + width * height * UNET_BYTES_PER_PIXEL + decoded_pixels * VAE_DECODE_BYTES_PER_PIXEL


def plan_memory(free: int, weights: int, largest_component: int, width: int, height: int,
                offload: str | None = None, vae_tiling: str | None = None) -> Plan:
    """What fits in `free` bytes of device memory. VAE tiling is for large images (a decode
    that alone would take over a quarter of the memory); the offload is the least one that
    fits. The user's choices (`offload`, `vae_tiling`, None for automatic) always win."""
    tiling = vae_tiling == "on" if vae_tiling else width * height * VAE_DECODE_BYTES_PER_PIXEL > free / 4
    if offload:
        return Plan(offload, tiling)
    for mode in OFFLOAD:
        if needed_bytes(Plan(mode, tiling), weights, largest_component, width, height) <= free * HEADROOM:
            return Plan(mode, tiling)
    return Plan(OFFLOAD[-1], True)  # nothing fits by the estimate: the most frugal, and let it try


def next_smaller(plan: Plan, width: int, height: int) -> str:
    """The next setting to try after running out of memory under `plan`, in words."""
    if plan.offload != OFFLOAD[-1]:
        following = OFFLOAD[OFFLOAD.index(plan.offload) + 1]
        return f"set offload to {following!r} (slower, keeps less of the model on the GPU)"
    if not plan.vae_tiling:
        return "set vae_tiling to 'on' (decodes the image in tiles)"
    smaller = [max(64, int(side * 0.75) // 64 * 64) for side in (width, height)]
    if smaller == [width, height]:
        return "close other programs using the GPU, or generate on the CPU"
    return f"generate a smaller image, e.g. {smaller[0]}x{smaller[1]}"


def component_bytes(pipe) -> dict[str, int]:
    """Bytes of each of a pipeline's torch components (weights and buffers)."""
    sizes = {}
    for name, component in pipe.components.items():
        tensors = [*getattr(component, "parameters", list)(), *getattr(component, "buffers", list)()]
        if tensors:
            sizes[name] = sum(t.numel() * t.element_size() for t in tensors)
    return sizes


def place(pipe, device: str, offload: str) -> None:
    """Put a pipeline on `device` under an offload mode: all of it there ("none"), each model
    moved there while it runs ("model"), or each layer ("sequential"). Any earlier offload
    hooks are removed first, so a pipeline can change mode between generations."""
    if hasattr(pipe, "remove_all_hooks"):
        pipe.remove_all_hooks()
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)


def oom_message(plan: Plan, width: int, height: int) -> str:
    return (f"the GPU ran out of memory making a {width}x{height} image (offload {plan.offload!r}, "
            f"VAE tiling {'on' if plan.vae_tiling else 'off'}); {next_smaller(plan, width, height)}")
