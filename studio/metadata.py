"""Every output file carries its recipe, so it survives being copied out of the project.

PNG: a `parameters` text chunk in AUTOMATIC1111's format (what gallery tools read) plus an
`assetsmith` chunk with the full recipe as JSON. Audio: the JSON in the FLAC / OGG Vorbis
comment or the WAV INFO comment. Text: a JSON sidecar `<stem>.json` beside `<stem>.txt`.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from engines.api import Output

CHUNK = "assetsmith"
AUDIO_FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"RIFF", "RIFF (WAV/WebP)"),
    (b"fLaC", "FLAC"), (b"OggS", "OGG"), (b"ID3", "MP3"), (b"%PDF", "PDF"), (b"PK\x03\x04", "ZIP"),
]


class MetadataError(ValueError):
    """A file whose recipe cannot be read; the message says which file and why."""


@dataclass
class Encoded:
    ext: str
    data: bytes
    content_hash: str  # of the content alone (pixels, samples, text), not of the metadata
    sidecar: bytes | None = None


def content_hash(output: Output) -> str:
    """sha256 of what was made, so a re-make compares results, not time stamps in the recipe."""
    digest = hashlib.sha256()
    if output.kind == "text":
        digest.update(str(output.data).encode("utf-8"))
    else:
        import numpy as np

        array = np.ascontiguousarray(output.data)
        digest.update(f"{array.dtype.str}{array.shape}{output.sample_rate}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def encode(output: Output, recipe: dict, audio_format: str = "flac") -> Encoded:
    digest = content_hash(output)
    if output.kind == "image":
        return Encoded("png", encode_png(output.data, recipe), digest)
    if output.kind == "audio":
        return Encoded(audio_format, encode_audio(output.data, output.sample_rate, recipe, audio_format), digest)
    if output.kind == "text":
        sidecar = json.dumps(recipe, indent=2, ensure_ascii=False).encode()
        return Encoded("txt", str(output.data).encode("utf-8"), digest, sidecar)
    raise ValueError(f"unknown output kind {output.kind!r}")


def encode_png(array, recipe: dict) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", a1111_parameters(recipe))
    info.add_text(CHUNK, json.dumps(recipe, ensure_ascii=False, separators=(",", ":")))
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def encode_audio(samples, sample_rate: int, recipe: dict, audio_format: str = "flac") -> bytes:
    import soundfile

    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio_format!r}")
    buffer = io.BytesIO()
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    subtype = "VORBIS" if audio_format == "ogg" else "PCM_24" if audio_format == "flac" else "FLOAT"
    with soundfile.SoundFile(buffer, "w", sample_rate, channels, subtype=subtype,
                             format=AUDIO_FORMATS[audio_format]) as f:
        f.comment = json.dumps(recipe, ensure_ascii=False, separators=(",", ":"))
        f.write(samples)
    return buffer.getvalue()


# -- AUTOMATIC1111 infotext -------------------------------------------------------------------

def _num(value) -> str:
    """A1111 writes 7.0 as 7 and keeps other floats as they are."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quote(value: str) -> str:
    # A1111 quotes values that would break its comma-separated parsing.
    return json.dumps(value, ensure_ascii=False) if any(c in value for c in ",:\n\"") else value


def a1111_parameters(recipe: dict) -> str:
    """AUTOMATIC1111's infotext: prompt, `Negative prompt: …`, then `Key: value, …`."""
    params = recipe.get("params") or {}
    fields: list[tuple[str, object]] = [
        ("Steps", params.get("num_steps")),
        ("Sampler", params.get("scheduler")),
        ("CFG scale", params.get("guidance_scale")),
        ("Seed", recipe.get("seed")),
        ("Size", f"{params['width']}x{params['height']}" if params.get("width") and params.get("height") else None),
        ("Model hash", (recipe.get("model_hash") or "")[:10] or None),
        ("Model", recipe.get("model_name")),
        ("Denoising strength", params.get("strength")),
        ("Variation seed", params.get("variation_seed")),
        ("Variation seed strength", params.get("variation_strength")),
        ("Version", f"assetsmith {recipe.get('runtime', {}).get('versions', {}).get('assetsmith', '')}".strip()),
    ]
    line = ", ".join(f"{k}: {_quote(_num(v))}" for k, v in fields if v not in (None, ""))
    lines = [recipe.get("prompt") or ""]
    if recipe.get("negative_prompt"):
        lines.append(f"Negative prompt: {recipe['negative_prompt']}")
    lines.append(line)
    return "\n".join(lines)


_PAIR = re.compile(r'\s*(\w[\w \-/+]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_KNOWN = {
    "Steps": ("num_steps", int), "Sampler": ("scheduler", str), "CFG scale": ("guidance_scale", float),
    "Denoising strength": ("strength", float), "Variation seed": ("variation_seed", int),
    "Variation seed strength": ("variation_strength", float),
}


def parse_a1111(text: str) -> dict:
    """The inverse of `a1111_parameters`, for PNGs made by AUTOMATIC1111 and the tools that
    write its format. Keys it does not know are kept under `a1111_extra`."""
    lines = text.strip().split("\n")
    settings = ""
    if lines and len(_PAIR.findall(lines[-1])) >= 3:  # the last line holds the settings
        settings = lines.pop()
    prompt, negative, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line.removeprefix("Negative prompt:").strip()
        (negative if in_negative else prompt).append(line)
    recipe: dict = {"engine": "diffusion", "prompt": "\n".join(prompt).strip(),
                    "negative_prompt": "\n".join(negative).strip(), "params": {}, "a1111_extra": {}}
    for key, value in _PAIR.findall(settings):
        key, value = key.strip(), value.strip()
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        try:
            if key in _KNOWN:
                name, cast = _KNOWN[key]
                recipe["params"][name] = cast(value)
            elif key == "Seed":
                recipe["seed"] = int(value)
            elif key == "Size" and "x" in value:
                w, h = value.split("x", 1)
                recipe["params"]["width"], recipe["params"]["height"] = int(w), int(h)
            elif key == "Model hash":
                recipe["model_hash_prefix"] = value
            elif key == "Model":
                recipe["model_name"] = value
            else:
                recipe["a1111_extra"][key] = value
        except ValueError:
            recipe["a1111_extra"][key] = value
    return recipe


# -- reading ------------------------------------------------------------------------------

def _sniff(head: bytes) -> str:
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unknown"


def read_recipe(path: str | Path) -> dict:
    """The recipe stored in an output file (ours, or an A1111-style PNG from another tool)."""
    path = Path(path)
    try:
        head = path.open("rb").read(16)
    except FileNotFoundError:
        raise MetadataError(f"{path} does not exist") from None
    except OSError as exc:
        raise MetadataError(f"{path.name} cannot be read: {exc.strerror}") from None
    if not head:
        raise MetadataError(f"{path.name} is empty (0 bytes): it holds no image, sound or settings")
    kind = _sniff(head)
    suffix = path.suffix.lower()
    if suffix == ".png" and kind != "PNG":
        raise MetadataError(f"{path.name} is not a PNG image (its content looks like {kind}); "
                            "it may have been renamed: open it with the program that made it")
    if kind == "PNG":
        return _read_png(path)
    if kind in ("FLAC", "OGG") or (kind.startswith("RIFF") and suffix == ".wav"):
        return _read_audio(path)
    if suffix in (".txt", ".json"):
        return _read_sidecar(path)
    raise MetadataError(f"{path.name} is not a file Assetsmith reads settings from (PNG, WAV, FLAC, OGG or "
                        f"text with its .json); its content looks like {kind}")


def _read_png(path: Path) -> dict:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            text = dict(getattr(image, "text", {}))
    except Exception as exc:  # PIL raises many kinds for a damaged file
        raise MetadataError(f"{path.name} is a damaged PNG ({exc})") from None
    if CHUNK in text:
        return _loads(text[CHUNK], path)
    if "parameters" in text:
        return parse_a1111(text["parameters"])
    raise MetadataError(f"{path.name} holds no generation settings (no `parameters` or `{CHUNK}` chunk)")


def _read_audio(path: Path) -> dict:
    import soundfile

    try:
        with soundfile.SoundFile(path) as f:
            comment = f.comment
    except Exception as exc:  # libsndfile's errors for damaged files
        raise MetadataError(f"{path.name} is a damaged audio file ({exc})") from None
    if not comment:
        raise MetadataError(f"{path.name} holds no generation settings (no comment tag)")
    return _loads(comment, path)


def _read_sidecar(path: Path) -> dict:
    sidecar = path if path.suffix.lower() == ".json" else path.with_suffix(".json")
    if not sidecar.is_file():
        raise MetadataError(f"{path.name} has no settings file beside it ({sidecar.name} is missing)")
    return _loads(sidecar.read_text(encoding="utf-8", errors="replace"), sidecar)


def _loads(text: str, path: Path) -> dict:
    try:
        recipe = json.loads(text)
    except ValueError as exc:
        raise MetadataError(f"{path.name}: its stored settings are damaged (not valid JSON: {exc.msg})") from None
    if not isinstance(recipe, dict):
        raise MetadataError(f"{path.name}: its stored settings are not a recipe (expected a JSON object)")
    return recipe
