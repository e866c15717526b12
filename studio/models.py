"""Model references: resolve them to files, hash their weights, refuse pickles, list them.

A reference is one of (DESIGN.md, "Models"):
  - a path: a diffusers / transformers folder, or a single `.safetensors` file;
  - a hub id (`owner/name`) already in the Hugging Face cache (never downloaded here);
  - `starter:ENGINE/NAME`, shipped in `resources/models/ENGINE/NAME/`;
  - `project:NAME`, trained in the open project (`models/NAME/`).
Recipes store the portable form (`ResolvedModel.ref`) plus the content hash.
"""
from __future__ import annotations

# hashlib and subprocess are imported where used (a hash, a conversion): they are 3 ms each
# of the window's start.
import contextlib
import json
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from studio.settings import home

PACKAGES_ROOT = Path(__file__).resolve().parent.parent  # where studio/, engines/ and ui/ are


def resources_folder(root: Path = PACKAGES_ROOT) -> Path:
    """resources/ beside the packages (a checkout, or the editable install `make` does), else
    the copy a wheel installs under <prefix>/share/assetsmith/resources (setup.py)."""
    beside = root / "resources"
    return beside if beside.is_dir() else Path(sys.prefix) / "share" / "assetsmith" / "resources"


RESOURCES = resources_folder()
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


def suggestions(ref: str | None, engine: type, project_root: Path | None = None) -> dict[str, list[str]]:
    """What a model offers the engine's parameters (its voices), read from its folder without
    loading it; {} from an engine that offers nothing."""
    suggest = getattr(engine, "suggestions", None)
    return suggest(resolve(ref, engine, project_root).path) if suggest is not None else {}


def resolve_lora(ref: str, project_root: Path | None = None) -> Path:
    """A `loras` entry as the engine loads it: a path as it is, `project:NAME` / `starter:...`
    as their folder; a LoRA trained for diffusion (model.json naming its files) as its file."""
    if not ref.startswith(("project:", "starter:")):
        return Path(ref).expanduser()
    if ref.startswith("starter:"):
        path = RESOURCES / "models" / ref.removeprefix("starter:")
    elif project_root is None:
        raise ModelError(f"LoRA {ref!r} refers to a project model, but no project is open")
    else:
        path = Path(project_root) / "models" / ref.removeprefix("project:")
    if not path.exists():
        raise ModelError(f"LoRA {ref!r} not found (looked in {path})")
    check_safe(path)
    files = _json(path / "model.json").get("files") if path.is_dir() else None
    if isinstance(files, dict) and isinstance(files.get("diffusers"), str):
        return path / files["diffusers"]
    return path


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
    import hashlib

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
    import hashlib

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
    """The models `engine` can use: starters, this project's, the user's library and model
    folders, and the Hugging Face cache (see `discover`).

    An engine says which folders it can load through an optional `accepts(path)`
    classmethod; without one, nothing outside its starter folder is listed.
    """
    found: list[dict] = []
    starters = RESOURCES / "models" / engine.name
    for p in sorted(starters.iterdir()) if starters.is_dir() else []:
        found.append({"ref": f"starter:{engine.name}/{p.name}", "path": str(p), "source": "starter"})
    if getattr(engine, "accepts", None) is None:
        return found
    for info in discover(project_root, engines=[engine]):
        if info.source != "starter" and engine.name in info.engines and info.kind in ("model", "checkpoint"):
            found.append(info.to_dict())
    return found


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _hf_cache_snapshots() -> list[tuple[str, Path]]:
    """(repo id, snapshot folder) of each complete model in the cache: the snapshot `refs/main`
    names, else the newest; a download still in progress (ours) or a snapshot with missing
    files (a link to a blob that is not there) is left out."""
    from studio import downloads

    root = hf_cache_dir()
    pending = downloads.pending_snapshots(root)
    out = []
    for repo in sorted(root.glob("models--*")) if root.is_dir() else []:
        ref_file = repo / "refs" / "main"
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime)
        main = ref_file.read_text().strip() if ref_file.is_file() else ""
        if main and (repo / "snapshots" / main).is_dir():
            snapshot = repo / "snapshots" / main
        elif snapshots:
            snapshot = snapshots[-1]
        else:
            continue
        if snapshot in pending or any(p.is_symlink() and not p.exists() for p in snapshot.rglob("*")):
            continue
        out.append((repo.name.removeprefix("models--").replace("--", "/"), snapshot))
    return out


# -- discovery: every model on this machine, whatever put it there ----------------------------

LIBRARY = "models"  # home()/models: what `import_model` brought in (copied or linked)
SOURCES = ("starter", "project", "library", "folder", "huggingface")
_MODEL_MARKERS = ("model_index.json", "config.json", "model.json")  # a folder that is one model
_MAX_HEADER = 100 << 20  # a safetensors header larger than this is not one we trust


@dataclass(frozen=True)
class ModelInfo:
    """One model found on disk, as the Models window and `assetsmith models list` show it."""

    ref: str  # what a recipe stores; what `resolve` takes
    name: str
    path: Path
    source: str  # one of SOURCES
    kind: str  # model (a folder), checkpoint (one file), lora, vae, embedding, pickle, unknown
    engines: tuple[str, ...]  # engines that can use it
    family: str | None  # sd1, sd2, sdxl, gpt2, llama, musicgen ... when it can be told
    size_bytes: int
    licence: str | None  # from the model card, when it says
    linked: bool = False  # a link to files kept elsewhere (removing it frees nothing)

    def to_dict(self) -> dict:
        return {
            "ref": self.ref, "name": self.name, "path": str(self.path), "source": self.source,
            "kind": self.kind, "engines": list(self.engines), "family": self.family,
            "size_bytes": self.size_bytes, "licence": self.licence, "linked": self.linked,
        }


def library_dir() -> Path:
    return home() / LIBRARY


def discover(project_root: Path | None = None, engines: list[type] | None = None) -> list[ModelInfo]:
    """Every model found: starters, the project's models/, the library, the user's model
    folders (A1111, ComfyUI ... used in place) and the Hugging Face cache. Reads files only:
    no network call, no model loaded, nothing copied. Half-written models (a download or an
    import in progress, a snapshot with missing files) are left out."""
    from studio import settings

    if engines is None:
        from engines import registry

        engines = registry.all_engines()
    found: list[ModelInfo] = []
    starters = RESOURCES / "models"
    for engine_dir in sorted(starters.iterdir()) if starters.is_dir() else []:
        for p in _children(engine_dir):
            found.append(_describe(p, f"starter:{engine_dir.name}/{p.name}", "starter", engines))
    if project_root is not None:
        for p in _children(Path(project_root) / "models"):
            found.append(_describe(p, f"project:{p.name}", "project", engines))
    for p in _children(library_dir()):
        found.append(_describe(p, str(p.resolve()), "library", engines, linked=p.is_symlink()))
    for folder in settings.model_folders():
        for p in _scan_folder(folder):
            found.append(_describe(p, str(p.resolve()), "folder", engines))
    for repo_id, snapshot in _hf_cache_snapshots():
        found.append(_describe(snapshot, repo_id, "huggingface", engines, name=repo_id))
    return found


def _children(folder: Path) -> list[Path]:
    # Dot names are work in progress (an import being copied); never half a model.
    return [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")] if folder.is_dir() else []


def _scan_folder(folder: Path, depth: int = 4) -> list[Path]:
    """Model folders and single weight files under a user's folder, A1111 / ComfyUI layouts
    alike (models/Stable-diffusion/x.safetensors, models/checkpoints/, models/diffusers/NAME/)."""
    out: list[Path] = []
    for p in _children(folder):
        if p.is_dir():
            if any((p / m).is_file() for m in _MODEL_MARKERS):
                out.append(p)
            elif depth > 0:
                out.extend(_scan_folder(p, depth - 1))
        elif p.suffix.lower() in WEIGHT_SUFFIXES | PICKLE_SUFFIXES - {".pkl", ".pickle"}:
            out.append(p)
    return out


def _describe(path: Path, ref: str, source: str, engines: list[type], name: str | None = None,
              linked: bool = False) -> ModelInfo:
    kind, family = _kind_and_family(path)
    fits = [] if kind == "pickle" else [e.name for e in engines if _accepts(e, path)]
    if kind in ("checkpoint", "lora"):
        # A single-file SD checkpoint, or a LoRA applied on one; a peft adapter folder goes on
        # a language model (lora-text).
        on = "causal-lm" if (path / "adapter_config.json").is_file() else "diffusion"
        if on not in fits:
            fits.append(on)
    return ModelInfo(
        ref=ref, name=name or (path.stem if path.is_file() else path.name), path=path, source=source,
        kind=kind, engines=tuple(fits), family=family, size_bytes=disk_size(path),
        licence=_licence(path), linked=linked,
    )


def _accepts(engine: type, path: Path) -> bool:
    accepts = getattr(engine, "accepts", None)
    try:
        return bool(accepts and accepts(path))
    except Exception:  # a third-party engine's check must not break the list
        return False


def disk_size(path: Path) -> int:
    """Bytes on disk, following links (a Hugging Face snapshot holds links to its blobs)."""
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def _kind_and_family(path: Path) -> tuple[str, str | None]:
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            return "pickle", None
        return _single_file_kind(path)
    index = _json(path / "model_index.json")
    if index:
        cls = index.get("_class_name", "")
        if "XL" in cls:
            return "model", "sdxl"
        cross = _json(path / "unet" / "config.json").get("cross_attention_dim")
        return "model", {768: "sd1", 1024: "sd2"}.get(cross, cls or None)
    adapter = _json(path / "adapter_config.json")
    if adapter:  # a peft adapter: the family is its base's
        base = _json(path / "model.json").get("base_model")
        return "lora", base.get("model_type") if isinstance(base, dict) else None
    config = _json(path / "config.json")
    if config:
        return "model", config.get("model_type")
    own = _json(path / "model.json")
    if own:
        return "model", own.get("format")
    if weight_files(path):
        return "model", None
    if any(p.suffix.lower() in PICKLE_SUFFIXES for p in _files(path)):
        return "pickle", None
    return "unknown", None


def safetensors_keys(path: Path) -> list[str]:
    """Tensor names from a .safetensors header (8-byte length, then JSON), without torch."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size <= _MAX_HEADER:
                return []
            header = json.loads(f.read(size))
    except (OSError, ValueError):
        return []
    return [k for k in header if k != "__metadata__"] if isinstance(header, dict) else []


def _single_file_kind(path: Path) -> tuple[str, str | None]:
    keys = safetensors_keys(path)
    if any(k.startswith("model.diffusion_model.") for k in keys):
        if any(k.startswith("conditioner.embedders.1") for k in keys):
            return "checkpoint", "sdxl"
        if any(k.startswith("cond_stage_model.model.") for k in keys):
            return "checkpoint", "sd2"
        return "checkpoint", "sd1"
    if any(k.startswith(("lora_unet_", "lora_te")) or ".lora_" in k or "lora_A" in k for k in keys):
        return "lora", None
    if keys and all(k.startswith(("encoder.", "decoder.", "quant_conv", "post_quant_conv")) for k in keys):
        return "vae", None
    if keys and all(k.startswith(("emb_params", "string_to_param", "clip_")) for k in keys):
        return "embedding", None
    return "unknown", None


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _licence(path: Path) -> str | None:
    """The `license:` of the model card's front matter (README.md), as the Hub shows it."""
    card = path / "README.md"  # a lone file has no card of its own
    if not card.is_file():
        return None
    try:
        from huggingface_hub.repocard import metadata_load

        meta = metadata_load(card) or {}
    except Exception:  # a malformed card is not worth failing a list for
        return None
    licence = meta.get("license")
    if licence == "other" and meta.get("license_name"):
        licence = meta["license_name"]
    return licence if isinstance(licence, str) else None


# -- import, convert, remove ---------------------------------------------------------------------


def import_model(source: str | Path, link: bool = False, name: str | None = None,
                 project_root: Path | None = None) -> ModelInfo:
    """Bring a model file or folder into the library (or the project's models/ when a project
    is given): copied, or linked when `link` (the files stay where they are). Pickle weights
    are refused; a folder's pickle files beside its safetensors are left out of a copy.
    The copy is written under a dot name and renamed at the end: never half a model listed."""
    src = Path(source).expanduser()
    if not src.exists():
        raise ModelError(f"nothing to import at {src}")
    src = src.resolve()
    check_safe_import(src)
    if name is not None and name != "" and (name != Path(name).name or name.startswith(".")):
        raise ModelError(f"{name!r} cannot be a model's name: no folders (/) and no leading dot")
    dest_root = Path(project_root) / "models" if project_root is not None else library_dir()
    dest = dest_root / (name or src.name)
    if dest.exists() or dest.is_symlink():
        raise ModelError(f"a model named {dest.name!r} is already in {dest_root}; "
                         "choose another name (--name) or remove that one first")
    dest_root.mkdir(parents=True, exist_ok=True)
    tmp = dest_root / f".importing-{dest.name}-{os.getpid()}"
    try:
        if link:
            tmp.symlink_to(src, target_is_directory=src.is_dir())
        elif src.is_file():
            shutil.copy2(src, tmp)
        else:
            shutil.copytree(src, tmp, ignore=_ignore_pickles)
        os.replace(tmp, dest)
    except OSError as exc:
        _remove_path(tmp)
        raise ModelError(f"could not import {src.name}: {exc.strerror or exc}") from None
    source_name = "project" if project_root is not None else "library"
    ref = f"project:{dest.name}" if project_root is not None else str(dest.resolve())
    from engines import registry

    return _describe(dest, ref, source_name, registry.all_engines(), linked=link)


def check_safe_import(path: Path) -> None:
    try:
        check_safe(path)
    except ModelError as exc:
        raise ModelError(f"{exc} (`assetsmith models convert {path}` does it, in a separate process, "
                         "loading tensors only)") from None
    if path.is_dir() and not weight_files(path):
        raise ModelError(f"{path.name} holds no .safetensors weights: it is not a model folder")


def _ignore_pickles(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if Path(n).suffix.lower() in PICKLE_SUFFIXES]


def convert_to_safetensors(source: str | Path, dest: str | Path | None = None, timeout: float = 3600) -> dict:
    """Convert pickle weights to .safetensors, the one explicit way to use them.

    Runs in a child process (`python -m engines.convert`) that loads with
    `torch.load(weights_only=True)`: tensors and plain containers only, no code run, and a
    crash there never takes the app down. A file becomes NAME.safetensors beside it; a folder
    becomes a new folder NAME-safetensors with its other files copied. Returns the child's
    report: each file written, its tensors and bytes, and what was dropped (non-tensor entries)."""
    src = Path(source).expanduser().resolve()
    if not src.exists():
        raise ModelError(f"nothing to convert at {src}")
    if dest is None:
        dest = src.with_suffix(".safetensors") if src.is_file() else src.with_name(src.name + "-safetensors")
    dest = Path(dest).expanduser().resolve()
    if dest.exists():
        raise ModelError(f"{dest} already exists; remove it or choose another destination")
    import subprocess

    cmd = [sys.executable, "-m", "engines.convert", str(src), str(dest)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGES_ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        _remove_path(dest)
        raise ModelError(f"converting {src.name} took more than {timeout:.0f} s and was stopped") from None
    if done.returncode != 0:
        _remove_path(dest)
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ModelError(f"could not convert {src.name}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return json.loads(done.stdout)


@dataclass(frozen=True)
class RemovalPlan:
    """What removing a model would do, shown before anything is deleted."""

    model: ModelInfo
    paths: tuple[Path, ...]  # what gets deleted (a link only, for a linked import)
    size_bytes: int  # disk space freed
    used_by: int  # generations of the open project whose recipe names this model
    used_ids: tuple = ()  # their ids, newest first (what the user can look up)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "paths": [str(p) for p in self.paths],
                "size_bytes": self.size_bytes, "used_by": self.used_by, "used_ids": list(self.used_ids)}


def find(ref: str, project_root: Path | None = None) -> ModelInfo:
    """The discovered model with this reference (or path), or ModelError."""
    models = discover(project_root)
    as_path = Path(ref).expanduser()
    for info in models:
        if info.ref == ref or (as_path.exists() and info.path.resolve() == as_path.resolve()):
            return info
    raise ModelError(f"no model {ref!r} here; `assetsmith models list` shows the references")


def plan_removal(ref: str, project=None) -> RemovalPlan:
    """Size and users of a model before removing it. `project` is the open studio Project."""
    info = find(ref, project.root if project is not None else None)
    if info.source == "starter":
        raise ModelError(f"{info.ref} is a starter model that ships with Assetsmith; it cannot be removed")
    if info.source == "folder":
        raise ModelError(f"{info.path} is in your own model folder; Assetsmith uses it in place and "
                         "leaves it there (delete it yourself, or remove the folder in preferences)")
    if info.source == "huggingface":
        repo = info.path.parent.parent  # models--OWNER--NAME: every revision and blob of it
        paths, size = (repo,), _blob_size(repo)
    elif info.linked:
        paths, size = (info.path.parent / info.path.name,), 0
    else:
        paths, size = (info.path,), info.size_bytes
    users = _users(info, project)
    return RemovalPlan(model=info, paths=paths, size_bytes=size, used_by=len(users),
                       used_ids=tuple(getattr(g, "id", g) for g in users))


def remove(plan: RemovalPlan, force: bool = False) -> int:
    """Delete what `plan` names; returns the bytes freed. A model that a recipe of the open
    project uses is kept unless `force` (its outputs stay, but re-making them needs it)."""
    if plan.used_by and not force:
        raise ModelError(f"{plan.model.ref} is used by {plan.used_by} generation(s) in the open project; "
                         "re-making them would need it. Remove it anyway with --force")
    for p in plan.paths:
        _remove_path(p)
    return plan.size_bytes


def _users(info: ModelInfo, project) -> list:
    """The open project's generations whose recipe names this model (by any of its names)."""
    if project is None:
        return []
    names = {info.ref, str(info.path)}
    with contextlib.suppress(OSError):
        names.add(str(info.path.resolve()))
    recorded = [m for m in project.values("model") if m in names]
    return list(project.query(model=recorded, include_trashed=True)) if recorded else []


def _blob_size(repo: Path) -> int:
    blobs = repo / "blobs"
    # Snapshots link to blobs; count each blob once (and the rare copied-in file).
    return disk_size(blobs) + sum(p.stat().st_size for p in repo.rglob("*")
                                  if p.is_file() and not p.is_symlink() and blobs not in p.parents)


def _remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path)
