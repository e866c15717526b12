"""Checkpoints that load without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a folder `checkpoints/step-NNNNNNNN/` with `state.safetensors` (weights,
optimiser moments, RNG states, the epoch's data order) and `state.json` (step, position,
optimiser hyper-parameters). It is written under a temp name and renamed into place, so a
crash mid-save leaves the previous checkpoint as the latest one, never half a checkpoint.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

TENSORS, INFO = "state.safetensors", "state.json"
_NAME = re.compile(r"step-(\d+)")


def optimizer_state(optimizer, prefix: str) -> tuple[dict, dict]:
    """An optimiser's state dict split into tensors (by flat name) and JSON."""
    state = optimizer.state_dict()
    tensors, keys = {}, {}
    for index, slots in state["state"].items():
        keys[str(index)] = sorted(slots)
        for key, value in slots.items():
            tensors[f"{prefix}.{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "slots": keys}


def load_optimizer_state(optimizer, prefix: str, tensors: dict, info: dict) -> None:
    state = {int(index): {key: tensors[f"{prefix}.{index}.{key}"] for key in slots}
             for index, slots in info["slots"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def adversarial_state(G, D, opt_g, opt_d) -> tuple[dict, dict]:
    """A generator/discriminator pair and their optimisers (the GAN and WaveGAN trainers)."""
    tensors = {f"G.{k}": v for k, v in G.state_dict().items()}
    tensors.update({f"D.{k}": v for k, v in D.state_dict().items()})
    g, info_g = optimizer_state(opt_g, "opt_g")
    d, info_d = optimizer_state(opt_d, "opt_d")
    return {**tensors, **g, **d}, {"opt_g": info_g, "opt_d": info_d}


def load_adversarial_state(G, D, opt_g, opt_d, tensors: dict, info: dict) -> None:
    G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
    D.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
    load_optimizer_state(opt_g, "opt_g", tensors, info["opt_g"])
    load_optimizer_state(opt_d, "opt_d", tensors, info["opt_d"])


def save(folder: Path, step: int, tensors: dict, info: dict, keep: int) -> Path:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    tmp = folder / f".tmp-step-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp / TENSORS)
    (tmp / INFO).write_text(json.dumps({"step": step, **info}, indent=1))
    for name in (TENSORS, INFO):
        with open(tmp / name, "rb") as f:
            os.fsync(f.fileno())
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in complete(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def complete(folder: Path) -> list[Path]:
    """Finished checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.fullmatch(p.name) and (p / TENSORS).is_file() and (p / INFO).is_file()]
    return sorted(found, key=lambda p: int(_NAME.fullmatch(p.name).group(1)))


def latest(folder: Path) -> Path | None:
    found = complete(folder)
    return found[-1] if found else None


def load(path: Path) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    return load_file(path / TENSORS), json.loads((path / INFO).read_text())
