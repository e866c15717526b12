"""Convert pickle weights (.ckpt/.bin/.pt/.pth) to .safetensors, in a process of its own.

    python -m engines.convert SOURCE DEST

`torch.load(weights_only=True)` unpickles tensors and plain containers only, never code, and
this runs apart from the app (studio/models.py starts it) so a damaged file cannot hurt it.
Prints one JSON report on stdout: each file written with its tensor count and bytes, and the
non-tensor entries dropped (a training step counter, an optimizer's scalars ...).
A folder is converted file by file into a new folder: pytorch_model*.bin become model*.safetensors
(the names transformers looks for), X.bin becomes X.safetensors, other files are copied, and
pickles that are not weights (training_args.bin, optimizer.pt ...) are left out and reported.
Nothing is written under the destination's name until all of it is done.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

PICKLE_SUFFIXES = {".ckpt", ".bin", ".pt", ".pth"}


def target_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    if stem.startswith("pytorch_model"):
        stem = "model" + stem[len("pytorch_model"):]
    return stem + ".safetensors"


def _tensors(obj, prefix: str, out: dict, dropped: list) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _tensors(value, f"{prefix}.{key}" if prefix else str(key), out, dropped)
    else:
        dropped.append(prefix or "(root)")


def convert_file(src: Path, dest: Path) -> dict:
    import torch
    from safetensors.torch import save_file

    try:
        data = torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a page long; its first line names what was refused.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{src.name} holds more than tensors and plain data ({first.rstrip('.')}); loading it "
                         "could run code, so it was not converted. Ask its author for a .safetensors version") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{src.name} is not a readable PyTorch file ({str(exc).strip().splitlines()[0]})") from None
    # Lightning / A1111 checkpoints keep the weights under "state_dict".
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        extra = [k for k in data if k != "state_dict"]
        data = data["state_dict"]
    else:
        extra = []
    tensors: dict = {}
    dropped: list = list(extra)
    _tensors(data, "", tensors, dropped)
    if not tensors:
        raise ValueError(f"{src.name} holds no tensors")
    seen: set = set()
    for key, t in tensors.items():
        # safetensors refuses tensors that share memory (tied weights, views of one buffer):
        # any tensor that is not the whole of a storage not yet seen gets its own copy.
        storage = t.untyped_storage()
        whole = t.is_contiguous() and t.storage_offset() == 0 and t.numel() * t.element_size() == storage.nbytes()
        if storage.data_ptr() in seen or not whole:
            tensors[key] = t.contiguous().clone()
        seen.add(storage.data_ptr())
    part = dest.with_name(f".{dest.name}.converting")
    try:
        save_file(tensors, str(part), metadata={"format": "pt", "converted_from": src.name})
        os.replace(part, dest)  # never half a file under the real name
    finally:
        part.unlink(missing_ok=True)
    return {"source": str(src), "target": str(dest), "tensors": len(tensors),
            "bytes": dest.stat().st_size, "dropped": dropped}


def convert(src: Path, dest: Path) -> dict:
    if src.is_file():
        if src.suffix.lower() not in PICKLE_SUFFIXES:
            raise ValueError(f"{src.name} is not a pickle weight file ({', '.join(sorted(PICKLE_SUFFIXES))})")
        return {"files": [convert_file(src, dest)], "copied": [], "skipped": []}
    tmp = dest.with_name(f".{dest.name}.converting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        return _convert_folder(src, dest, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a failure leaves nothing behind


def _convert_folder(src: Path, dest: Path, tmp: Path) -> dict:
    if not src.is_dir():
        raise ValueError(f"nothing to convert at {src}")
    files, copied, skipped = [], [], []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in PICKLE_SUFFIXES:
            safe_twin = out.with_name(target_name(path.name))
            if (path.parent / safe_twin.name).exists():
                continue  # the folder already has it in safetensors
            try:
                files.append(convert_file(path, safe_twin))
            except ValueError as exc:
                if "model" in path.stem:
                    raise  # weights the model needs: half a model is no model
                # training_args.bin, optimizer.pt, rng_state.pth ...: training leftovers, not weights
                skipped.append({"file": str(rel), "why": str(exc)})
        elif path.name.endswith(".bin.index.json"):
            index = json.loads(path.read_text())
            index["weight_map"] = {k: target_name(v) for k, v in index.get("weight_map", {}).items()}
            out.with_name(path.name.replace(".bin.index.json", ".safetensors.index.json").replace(
                "pytorch_model", "model")).write_text(json.dumps(index, indent=2))
        else:
            shutil.copy2(path, out)
            copied.append(str(rel))
    if not files:
        raise ValueError(f"{src.name} has no pickle weights to convert")
    for f in files:
        f["target"] = str(dest / Path(f["target"]).relative_to(tmp))
    tmp.rename(dest)  # all or nothing
    return {"files": files, "copied": copied, "skipped": skipped}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m engines.convert SOURCE DEST", file=sys.stderr)
        return 2
    try:
        report = convert(Path(argv[0]), Path(argv[1]))
    except ValueError as exc:  # ours: already says what happened and what to do
        print(" ".join(str(exc).split()), file=sys.stderr)
        return 1
    except Exception as exc:  # one line for the parent to show
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
