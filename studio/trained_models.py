"""How a model trained in the project is used to generate ("use this model now"), Qt-free.

A trainer of its own engine's models (gan, vae, causal-lm, wavegan) gives `project:NAME` for
that engine. A trainer that adapts a base model (TrainerSpec.base_engine: a LoRA) gives the
base model for the base engine plus the adapter file, which goes into that engine's `loras`.
"""
from __future__ import annotations

import json
from pathlib import Path

from engines.train import schema
from studio.training import TrainingError

PREFERRED_FILES = ("diffusers", "peft")  # of model.json "files": the layout our engines load first


def how_to_use(project_root: Path, trainer: str, ref: str) -> dict:
    """{"engine", "model"} and, for an adapter, "adapter" (the file to load with the model)."""
    base_engine = schema.spec(trainer).base_engine
    if base_engine is None:
        return {"engine": trainer, "model": ref}
    folder = Path(project_root) / "models" / ref.removeprefix("project:")
    try:
        info = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"{ref} has no readable model.json ({exc}); train it again") from None
    files = info.get("files") or {}
    name = next((files[k] for k in PREFERRED_FILES if k in files), next(iter(files.values()), None))
    return {"engine": base_engine, "model": info.get("base"), "adapter": str(folder / name) if name else str(folder)}
