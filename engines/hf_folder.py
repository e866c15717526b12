"""What the engines on transformers models share: reading a model folder's architectures,
the weights' size, and one clear error when loading fails."""
from __future__ import annotations

import json
from pathlib import Path

from engines.api import EngineError

# What transformers' from_pretrained raises for a damaged or mismatched folder.
LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError, ImportError)


def config(path: str | Path) -> dict:
    """A folder's config.json; {} when there is none or it is not a JSON object."""
    try:
        found = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def architectures(path: str | Path) -> list[str]:
    """The architectures a folder's config.json names; none for anything else."""
    found = config(path).get("architectures")
    return [a for a in found if isinstance(a, str)] if isinstance(found, list) else []


def weights_bytes(model) -> int:
    """Bytes of a loaded model's parameters and buffers (0 when none is loaded)."""
    if model is None:
        return 0
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def load_failed(what: str, path: Path, exc: Exception) -> EngineError:
    """The error to raise when loading fails: the library's first line, not its traceback."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return EngineError(f"could not load the {what} in {path}: {first}")


def base_fingerprint(config) -> dict:
    """What a LoRA adapter must match in the model it is applied to: architecture and sizes
    (written by the lora-text trainer into its model.json, checked by the text engine)."""
    d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return {"model_type": d.get("model_type"), "vocab_size": d.get("vocab_size"),
            "hidden_size": d.get("hidden_size", d.get("n_embd")),
            "num_layers": d.get("num_hidden_layers", d.get("n_layer"))}
