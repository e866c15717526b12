"""LoRA key layouts: diffusers/PEFT (`unet.….lora_A.weight`) to kohya's (`lora_unet_…lora_down.weight`,
`lora_te_…`, one `.alpha` per module), the layout AUTOMATIC1111 and ComfyUI load."""
from __future__ import annotations

PREFIXES = {"unet.": "lora_unet_", "text_encoder.": "lora_te_"}


def peft_to_kohya(state: dict, alpha: float) -> dict:
    """A PEFT LoRA state dict (keys prefixed `unet.` / `text_encoder.`) in kohya's layout."""
    import torch

    out = {}
    for key, value in state.items():
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        if prefix is None or (".lora_A." not in key and ".lora_B." not in key):
            raise ValueError(f"not a PEFT LoRA key of the UNet or text encoder: {key}")
        module = key.removeprefix(prefix).rsplit(".lora_", 1)[0]
        if prefix == "text_encoder." and not module.startswith("text_model."):
            module = "text_model." + module  # recent transformers drop it; kohya names keep it
        name = PREFIXES[prefix] + module.replace(".", "_")
        out[f"{name}.lora_down.weight" if ".lora_A." in key else f"{name}.lora_up.weight"] = value.contiguous()
        out[f"{name}.alpha"] = torch.tensor(float(alpha))
    return out
