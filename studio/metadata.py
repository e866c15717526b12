"""Every output file carries its recipe, so it survives being copied out of the project.

PNG: a `parameters` text chunk in AUTOMATIC1111's infotext format (what A1111, ComfyUI
loaders, Civitai and gallery tools read) plus an `assetsmith` chunk with the full recipe as
JSON. Audio: the recipe JSON in the comment tag (FLAC / OGG Vorbis comment, WAV INFO ICMT).
Text: the recipe as a JSON sidecar `<stem>.json` beside `<stem>.txt`.

`read_recipe` restores a recipe from any of these, judging a file by its content (magic
bytes), never by its name, and turns every failure into a one-line `MetadataError`.
"""
from __future__ import annotations

# hashlib is imported where a hash is made: loading OpenSSL is 3 ms of the window's start.
import io
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engines.api import Output

CHUNK = "assetsmith"
# Output format -> (soundfile format, subtype). WAV keeps float32 as it is; FLAC stores at
# most 24-bit integers; OGG Vorbis is lossy by nature.
AUDIO_FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24"), "ogg": ("OGG", "VORBIS")}


class MetadataError(ValueError):
    """A file whose recipe cannot be read or written; the message (one line, for the user)
    names the file, says what is wrong and what to do."""


@dataclass
class Encoded:
    ext: str  # "png", "wav", "flac", "ogg" or "txt"
    data: bytes
    sidecar: bytes | None = None  # text outputs only: the recipe, saved as <stem>.json
    content_hash: str = ""  # sha256 of the content alone (pixels, samples, text), not the metadata


def content_hash(output: Output) -> str:
    """sha256 of what was made, so a re-make compares results, not time stamps in the recipe."""
    import hashlib

    digest = hashlib.sha256()
    if output.kind == "text":
        digest.update(str(output.data).encode("utf-8"))
    else:
        import numpy as np

        array = np.ascontiguousarray(output.data)
        digest.update(f"{array.dtype.str}{array.shape}{output.sample_rate}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _compact(recipe: dict) -> str:
    return json.dumps(recipe, ensure_ascii=False, separators=(",", ":"))


# -- writing ----------------------------------------------------------------------------------

def encode(output: Output, recipe: dict, audio_format: str = "flac") -> Encoded:
    """The file bytes of an output with `recipe` embedded (text: in a sidecar)."""
    digest = content_hash(output)
    if output.kind == "image":
        return Encoded("png", _encode_png(output.data, recipe), None, digest)
    if output.kind == "audio":
        return Encoded(audio_format, _encode_audio(output.data, output.sample_rate, recipe, audio_format), None, digest)
    if output.kind == "text":
        sidecar = json.dumps(recipe, indent=2, ensure_ascii=False) + "\n"
        return Encoded("txt", str(output.data).encode("utf-8"), sidecar.encode("utf-8"), digest)
    raise ValueError(f"cannot encode an output of kind {output.kind!r} (expected image, audio or text)")


def _encode_png(array, recipe: dict) -> bytes:
    import numpy as np
    from PIL import Image, PngImagePlugin

    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"an image output must be an HxWx3 or HxWx4 uint8 array, got {array.dtype} {array.shape}")
    info = PngImagePlugin.PngInfo()
    # PIL writes tEXt, or UTF-8 iTXt when the text is not Latin-1, as A1111 does.
    info.add_text("parameters", a1111_parameters(recipe))
    info.add_text(CHUNK, _compact(recipe))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", pnginfo=info)  # PNG: lossless
    return buffer.getvalue()


def _encode_audio(samples, sample_rate: int | None, recipe: dict, audio_format: str) -> bytes:
    import numpy as np
    import soundfile

    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}, got {audio_format!r}")
    if not sample_rate:
        raise ValueError("an audio output needs its sample_rate")
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim not in (1, 2):
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {samples.shape}")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    fmt, subtype = AUDIO_FORMATS[audio_format]
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", int(sample_rate), channels, subtype=subtype, format=fmt) as f:
        f.comment = _compact(recipe)  # FLAC/OGG take tags only before the first samples
        f.write(samples)  # libsndfile clips (not wraps) floats beyond ±1 for FLAC's integers
    return buffer.getvalue()


# -- AUTOMATIC1111 infotext (modules/processing.py create_infotext,
#    modules/infotext_utils.py quote / parse_generation_parameters) ------------------------------

def _num(value) -> str:
    # A1111's UI hands sliders' whole numbers over as ints: "CFG scale: 7", but "7.5".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quote(text: str) -> str:
    # A1111's quote(): only values that would break its `Key: value, ` parsing are JSON-quoted.
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _lora_hashes(recipe: dict) -> str | None:
    """A1111's `Lora hashes: "name: sha256[:12], ..."` when every LoRA's hash is known."""
    loras = (recipe.get("params") or {}).get("loras") or []
    hashes = recipe.get("lora_hashes") or []
    try:
        if not loras or len(hashes) != len(loras) or not all(isinstance(h, str) and h for h in hashes):
            return None
        names = [os.path.splitext(re.split(r"[\\/]", str(item[0]))[-1])[0] for item in loras]
    except (TypeError, IndexError, KeyError):
        return None
    # A1111 removes ':' and ',' from the names so the quoted list stays parseable.
    return ", ".join(f"{name.replace(':', '').replace(',', '')}: {h[:12]}" for name, h in zip(names, hashes))


def a1111_parameters(recipe: dict) -> str:
    """AUTOMATIC1111's infotext: the prompt, `Negative prompt: ...` (when there is one), then
    one line of `Key: value` pairs in A1111's order. Keys without a value are left out."""
    params = recipe.get("params") or {}
    width, height = params.get("width"), params.get("height")
    version = ((recipe.get("runtime") or {}).get("versions") or {}).get("assetsmith")
    variation = bool(params.get("variation_strength"))  # A1111 writes both only when strength != 0
    fields = {
        "Steps": params.get("num_steps"),
        "Sampler": params.get("scheduler"),
        "CFG scale": params.get("guidance_scale"),
        "Seed": recipe.get("seed"),
        "Size": f"{width}x{height}" if width and height else None,
        "Model hash": (recipe.get("model_hash") or "")[:10] or None,  # A1111's shorthash: sha256[:10]
        "Model": recipe.get("model_name"),
        "Variation seed": params.get("variation_seed") if variation else None,
        "Variation seed strength": params.get("variation_strength") if variation else None,
        "Denoising strength": params.get("strength"),
        "Tiling": "True" if params.get("tiling") == "xy" else None,  # A1111 tiles both axes or none
        "Lora hashes": _lora_hashes(recipe),
        "Version": f"assetsmith {version}" if version else None,
    }
    line = ", ".join(f"{key}: {_quote(_num(value))}" for key, value in fields.items() if value not in (None, ""))
    negative = recipe.get("negative_prompt") or ""
    negative_line = f"\nNegative prompt: {negative}" if negative else ""
    return f"{recipe.get('prompt') or ''}{negative_line}\n{line}".strip()  # A1111 strips the whole text


_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')  # A1111's re_param
_SIZE = re.compile(r"^(\d+)x(\d+)$")
_PARAMS = {  # A1111 key -> (our parameter, type)
    "Steps": ("num_steps", int), "Sampler": ("scheduler", str), "CFG scale": ("guidance_scale", float),
    "Denoising strength": ("strength", float), "Variation seed": ("variation_seed", int),
    "Variation seed strength": ("variation_strength", float),
}
# Schedule types that A1111 (before 1.9) folded into the sampler's name: "DPM++ 2M Karras".
_FOLDED_SCHEDULES = ("Karras", "Exponential")


def parse_a1111(text: str) -> dict:
    """An A1111 infotext (ours or another tool's) as a recipe. Keys with no place in a recipe
    are kept, as text, under `a1111_extra`."""
    # Same split as A1111: the last line holds the settings when it has 3+ `Key: value` pairs.
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].strip()
        (negative if in_negative else prompt).append(line)

    params: dict = {}
    extra: dict = {}
    recipe = {"engine": "diffusion", "prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative),
              "params": params, "a1111_extra": extra}
    for key, value in _PARAM.findall(last):
        key = key.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                pass
        else:
            value = value.strip()
        try:
            if key in _PARAMS:
                name, cast = _PARAMS[key]
                params[name] = cast(value)
            elif key == "Seed":
                recipe["seed"] = int(value)
            elif key == "Size":
                width, height = _SIZE.match(value).groups()  # AttributeError when not WxH
                params["width"], params["height"] = int(width), int(height)
            elif key == "Model hash":
                recipe["model_hash_prefix"] = value
            elif key == "Model":
                recipe["model_name"] = value
            elif key == "Tiling" and value == "True":
                params["tiling"] = "xy"
            else:
                extra[key] = value
        except (ValueError, AttributeError):
            extra[key] = value  # a value we cannot convert is kept, not lost

    # A1111 1.9+ writes "Sampler: DPM++ 2M, Schedule type: Karras"; our names are the folded ones.
    schedule, sampler = extra.get("Schedule type"), params.get("scheduler")
    if sampler and schedule:
        if schedule in _FOLDED_SCHEDULES and not sampler.endswith(f" {schedule}"):
            params["scheduler"] = f"{sampler} {schedule}"
        if schedule == "Automatic" or params["scheduler"].endswith(f" {schedule}"):
            del extra["Schedule type"]
    return recipe


# -- reading ----------------------------------------------------------------------------------

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"fLaC", "FLAC"),
    (b"OggS", "OGG"), (b"ID3", "MP3"), (b"II*\0", "TIFF"), (b"MM\0*", "TIFF"),
    (b"%PDF", "PDF"), (b"PK\x03\x04", "ZIP"),
]
_BY_SUFFIX = {".png": "PNG", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG",
              ".txt": "text", ".json": "text"}
_DESCRIBED = {"PNG": "a PNG image", "WAV": "a WAV file", "FLAC": "a FLAC file", "OGG": "an OGG file",
              "text": "a text file"}
_SUFFIX_OF = {"PNG": ".png", "WAV": ".wav", "FLAC": ".flac", "OGG": ".ogg"}
_READABLE = "Assetsmith reads settings from PNG images, WAV/FLAC/OGG audio and .txt files with their .json"


def _sniff(head: bytes) -> str:
    """What a file is by its first bytes: a format name, "text" or "unknown"."""
    if head.startswith(b"RIFF"):
        return {b"WAVE": "WAV", b"WEBP": "WebP", b"AVI ": "AVI"}.get(head[8:12], "RIFF")
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "MP4"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut off by the 64-byte head
            return "unknown"
    control = set(range(32)) - {9, 10, 13}
    return "unknown" if control & set(head) else "text"


def read_recipe(path: str | os.PathLike) -> dict:
    """The recipe stored in an output file: ours (PNG, WAV, FLAC, OGG, .txt + .json) or an
    A1111-style PNG made by another tool. Raises MetadataError, never a library's own error."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except FileNotFoundError:
        raise MetadataError(f"{path} does not exist; check the name, or whether it was moved") from None
    except IsADirectoryError:
        raise MetadataError(f"{path.name} is a folder; choose a file inside it") from None
    except OSError as exc:
        raise MetadataError(f"{path.name} cannot be opened ({exc.strerror}); check that you may read it") from None
    suffix = path.suffix.lower()
    expected = _BY_SUFFIX.get(suffix)
    if not head and suffix != ".txt":  # an empty text output is fine: its settings are in the .json
        raise MetadataError(f"{path.name} is empty (0 bytes): it holds no settings; "
                            "it was probably cut off while being copied, copy it again")
    kind = _sniff(head) if head else "text"
    if expected and kind != expected and not (expected == "text" and kind == "unknown"):
        hint = (f"it seems to have been renamed: rename it to {path.stem}{_SUFFIX_OF[kind]}"
                if kind in _SUFFIX_OF else _READABLE)
        raise MetadataError(f"{path.name} is not {_DESCRIBED[expected]} (its content looks like {kind}); {hint}")
    if kind == "PNG":
        return _read_png(path)
    if kind in ("WAV", "FLAC", "OGG"):
        return _read_audio(path, kind)
    if expected == "text":
        return _read_sidecar(path)
    raise MetadataError(f"{path.name} holds no settings Assetsmith can read (its content looks like {kind}); "
                        f"{_READABLE}")


def _read_png(path: Path) -> dict:
    from PIL import Image

    try:
        with Image.open(path) as image:
            chunks = {k: v for k, v in image.info.items() if isinstance(v, str)}  # chunks before the pixels
            if CHUNK not in chunks and not chunks.get("parameters"):
                chunks.update(image.text)  # text after the pixels needs a full decode
    except Exception as exc:  # noqa: BLE001 -- PIL raises OSError, SyntaxError, ValueError, zlib.error ...
        raise MetadataError(f"{path.name} is a damaged PNG image ({exc}); "
                            "copy it again from where it came from") from None
    if CHUNK in chunks:
        return _recipe_from_json(chunks[CHUNK], path, f"its `{CHUNK}` chunk")
    if chunks.get("parameters"):
        return parse_a1111(chunks["parameters"])
    found = f" (its text chunks: {', '.join(sorted(chunks))})" if chunks else ""
    raise MetadataError(f"{path.name} holds no generation settings{found}; only images saved with "
                        "AUTOMATIC1111-style `parameters` or by Assetsmith carry them")


def _read_audio(path: Path, kind: str) -> dict:
    import soundfile

    try:
        with soundfile.SoundFile(path) as f:
            comment = f.comment
    except Exception as exc:  # noqa: BLE001 -- libsndfile errors, TypeError for odd headers ...
        raise MetadataError(f"{path.name} is a damaged {kind} file ({exc}); "
                            "copy it again from where it came from") from None
    if not comment and kind == "WAV":
        comment = _wav_comment(path)
    if not comment or not comment.lstrip().startswith("{"):
        raise MetadataError(f"{path.name} holds no generation settings (its comment tag holds no "
                            "Assetsmith recipe); only audio saved by Assetsmith carries them")
    return _recipe_from_json(comment, path, "its comment tag")


def _wav_comment(path: Path) -> str:
    """The WAV INFO ICMT text, read by walking the RIFF chunks: libsndfile writes a comment of
    any length but reads back only those under about 2 KB."""
    try:
        with path.open("rb") as f:
            f.seek(12)  # "RIFF" <size> "WAVE"
            while len(header := f.read(8)) == 8:
                chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk_id != b"LIST":
                    f.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to even sizes
                    continue
                body = f.read(size + (size & 1))
                pos = 4 if body[:4] == b"INFO" else len(body)
                while pos + 8 <= len(body):
                    sub_id, sub_size = body[pos:pos + 4], struct.unpack_from("<I", body, pos + 4)[0]
                    if sub_id == b"ICMT":
                        return body[pos + 8:pos + 8 + sub_size].split(b"\0", 1)[0].decode("utf-8", "replace")
                    pos += 8 + sub_size + (sub_size & 1)
    except (OSError, struct.error):
        pass
    return ""


def _read_sidecar(path: Path) -> dict:
    sidecar = path if path.suffix.lower() == ".json" else path.with_suffix(".json")
    if not sidecar.is_file():
        raise MetadataError(f"{path.name} has no settings beside it ({sidecar.name} is missing); "
                            "copy the .json together with the .txt")
    try:
        text = sidecar.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise MetadataError(f"{sidecar.name} is not UTF-8 text, so not a settings file Assetsmith wrote") from None
    except OSError as exc:
        raise MetadataError(f"{sidecar.name} cannot be read ({exc.strerror})") from None
    return _recipe_from_json(text, sidecar, "it")


def _recipe_from_json(text: str, path: Path, where: str) -> dict:
    try:
        recipe = json.loads(text)
    except ValueError as exc:
        detail = f"{exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise MetadataError(f"{path.name}: the generation settings in {where} are damaged (not valid JSON: "
                            f"{detail}); the file was edited or cut off, use an unchanged copy") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("engine"), str):
        raise MetadataError(f"{path.name}: {where} holds JSON that is not an Assetsmith recipe "
                            "(no \"engine\"); it was not written by Assetsmith")
    return recipe
