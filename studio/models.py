"""Model references: resolve them to files, hash their weights, refuse pickles, list them.

A reference is one of (DESIGN.md, "Models"):
  - a path: a diffusers / transformers folder, or a single `.safetensors` file;
  - a hub id (`owner/name`) already in the Hugging Face cache (never downloaded here);
  - `starter:ENGINE/NAME`, shipped in `resources/models/ENGINE/NAME/`;
  - `project:NAME`, trained in the open project (`models/NAME/`).
Recipes store the portable form (`ResolvedModel.ref`) plus the content hash.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from studio.settings import home

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
PICKLE_SUFFIXES = {".ckpt", ".bin", ".pt", ".pth", ".pkl", ".pickle"}
WEIGHT_SUFFIXES = {".safetensors", ".gguf"}


class ModelError(ValueError):
    """A model reference that cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ResolvedModel:
    ref: str  # the portable form stored in recipes
    path: Path  # what the engine loads
    name: str  # short display name (A1111's "Model:")


def resolve(ref: str | None, engine: type, project_root: Path | None = None) -> ResolvedModel:
    """Turn a reference into a loadable path, or raise ModelError saying what to do."""
    if not ref:
        ref = getattr(engine, "default_model", None)
        if not ref:
            raise ModelError(
                f"engine {engine.name!r} has no default model; choose one with --model "
                "(a folder, a .safetensors file, or a hub id in your Hugging Face cache)"
            )
    if ref.startswith("starter:"):
        path = RESOURCES / "models" / ref.removeprefix("starter:")
        if not path.exists():
            raise ModelError(f"starter model {ref!r} is not installed (looked in {path})")
        return _checked(ref, path)
    if ref.startswith("project:"):
        if project_root is None:
            raise ModelError(f"{ref!r} refers to a project model, but no project is open")
        path = Path(project_root) / "models" / ref.removeprefix("project:")
        if not path.exists():
            raise ModelError(f"project model {ref!r} not found in {path.parent}")
        return _checked(ref, path)
    path = Path(ref).expanduser()
    if path.exists():
        path = path.resolve()
        return _checked(str(path), path)
    if _looks_like_hub_id(ref):
        return _checked(ref, _from_hf_cache(ref), name=ref.split("/")[-1])
    raise ModelError(
        f"model {ref!r} not found: it is not a file or folder here, nor a model in the Hugging Face cache"
    )


def _looks_like_hub_id(ref: str) -> bool:
    parts = ref.split("/")
    return len(parts) == 2 and all(parts) and not ref.startswith((".", "/", "~"))


def _from_hf_cache(repo_id: str) -> Path:
    # Offline lookup only: a model is downloaded when the user asks, never as a side effect.
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        raise ModelError(
            f"model {repo_id!r} is not in the Hugging Face cache; download it first "
            f"(`hf download {repo_id}`)"
        ) from None


def _checked(ref: str, path: Path, name: str | None = None) -> ResolvedModel:
    check_safe(path)
    return ResolvedModel(ref=ref, path=path, name=name or (path.stem if path.is_file() else path.name))


def check_safe(path: Path) -> None:
    """Refuse pickle weights: loading them can run arbitrary code."""
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise ModelError(
                f"{path.name} is a pickle file ({path.suffix}), which can run code when loaded; "
                "Assetsmith loads .safetensors only. Convert it to .safetensors first"
            )
        if path.suffix.lower() not in WEIGHT_SUFFIXES:
            raise ModelError(f"{path.name} is not a model file (expected .safetensors)")
        return
    if not path.is_dir():
        raise ModelError(f"{path} is neither a file nor a folder")
    if not weight_files(path) and any(p.suffix.lower() in PICKLE_SUFFIXES for p in _files(path)):
        raise ModelError(
            f"{path.name} holds only pickle weights (.bin/.ckpt/.pt), which can run code when loaded; "
            "Assetsmith loads .safetensors only. Convert the folder to safetensors first"
        )


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in _files(path) if p.suffix.lower() in WEIGHT_SUFFIXES]


_hash_lock = threading.Lock()


def content_hash(path: Path) -> str:
    """sha256 of a model's weights: of the file itself (A1111's model hash, whose first 10
    digits it shows), or of a folder's weight files by relative name. Cached by path, size and
    mtime, since hashing a multi-GB checkpoint takes seconds."""
    path = Path(path).resolve()
    files = weight_files(path)
    if not files:
        raise ModelError(f"{path} holds no .safetensors weights to hash")
    if path.is_file():
        return _file_hash(path)
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(path).as_posix().encode() + b"\0" + _file_hash(f).encode() + b"\n")
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = home() / "cache" / "hashes.json"
    with _hash_lock:
        cache = _read_json(cache_file)
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _hash_lock:
        cache = _read_json(cache_file)
        cache[key] = value
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    return value


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # a missing or damaged cache is only a cache


def list_models(engine: type, project_root: Path | None = None) -> list[dict]:
    """The models `engine` can use: starters, this project's, and the Hugging Face cache.

    An engine says which folders it can load through an optional `accepts(path)`
    classmethod; without one, nothing outside its starter folder is listed.
    """
    accepts = getattr(engine, "accepts", None)
    found: list[dict] = []
    starters = RESOURCES / "models" / engine.name
    for p in sorted(starters.iterdir()) if starters.is_dir() else []:
        found.append({"ref": f"starter:{engine.name}/{p.name}", "path": str(p), "source": "starter"})
    if project_root is not None and accepts is not None:
        models = Path(project_root) / "models"
        for p in sorted(models.iterdir()) if models.is_dir() else []:
            if accepts(p):
                found.append({"ref": f"project:{p.name}", "path": str(p), "source": "project"})
    if accepts is not None:
        for repo_id, p in _hf_cache_snapshots():
            if accepts(p):
                found.append({"ref": repo_id, "path": str(p), "source": "huggingface"})
    return found


def _hf_cache_snapshots() -> list[tuple[str, Path]]:
    from huggingface_hub import constants

    root = Path(constants.HF_HUB_CACHE)
    out = []
    for repo in sorted(root.glob("models--*")) if root.is_dir() else []:
        ref_file = repo / "refs" / "main"
        snapshots = sorted((repo / "snapshots").glob("*"))
        if ref_file.is_file() and (repo / "snapshots" / ref_file.read_text().strip()).is_dir():
            snapshot = repo / "snapshots" / ref_file.read_text().strip()
        elif snapshots:
            snapshot = snapshots[-1]
        else:
            continue
        out.append((repo.name.removeprefix("models--").replace("--", "/"), snapshot))
    return out
