"""From a folder of the user's images to a clean training set, and a report of what was used.

`prepare(folder, options)` scans recursively (in sorted order, so the result never depends
on the file system's), then for every file either keeps it or says why not:

  - not an image (by content, whatever its name), empty, corrupt or truncated, too large
    (bytes or pixels: decompression bombs), too small (under `min_side` pixels);
  - an exact duplicate (same pixels) or a near duplicate (perceptual hash within
    `near_duplicate_distance` bits) of an image kept before it.

Kept images are converted (palette, greyscale, CMYK ... to RGB or RGBA; transparency kept
for RGBA, composited on `background` for RGB), brought to the training size by centre-crop
or letterbox, and split into train / validation with a fixed seed. Augmentation happens per
batch in the trainer (engines/train/augment.py), drawn from the run's generator so a
resumed run sees the same augmented batches.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FITS = ("center-crop", "letterbox")


@dataclass(frozen=True)
class DataOptions:
    resolution: int = 64
    channels: int = 3
    fit: str = "center-crop"
    background: tuple[int, int, int] = (255, 255, 255)  # behind transparent pixels, for RGB
    max_file_mb: float = 64.0
    max_pixels: int = 40_000_000
    min_side: int = 8
    near_duplicate_distance: int = 4  # bits of a 64-bit pHash; 0 keeps near duplicates
    val_fraction: float = 0.1
    split_seed: int = 0


@dataclass
class Report:
    """What happened to every file of the folder (paths relative to it)."""

    folder: str
    kept: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}
    duplicates: list[dict] = field(default_factory=list)  # {"file", "duplicate_of", "kind", "distance"}
    converted: list[dict] = field(default_factory=list)  # {"file", "from", "to"}
    train: int = 0
    val: int = 0
    train_files: list[str] = field(default_factory=list)  # which kept file each row of the arrays is
    val_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{len(self.kept)} images kept ({self.train} train, {self.val} validation), "
                f"{len(self.skipped)} files skipped, {len(self.duplicates)} duplicates removed")


@dataclass
class Dataset:
    train: np.ndarray  # (N, H, W, C) uint8
    val: np.ndarray
    report: Report


class DataError(ValueError):
    """A folder that gives nothing to train on; the message says what was found, and
    `report` (when the folder was scanned) what happened to each file."""

    def __init__(self, message: str, report: Report | None = None):
        super().__init__(message)
        self.report = report


def prepare(folder: str | Path, options: DataOptions = DataOptions()) -> Dataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    if options.fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {options.fit!r}")
    report = Report(folder=str(folder))
    images, kept_hashes, kept_pixels = [], [], {}
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        image, reason = _load(path, options)
        if image is None:
            report.skipped.append({"file": name, "reason": reason})
            continue
        pixels = _pixel_hash(image)
        if pixels in kept_pixels:
            report.duplicates.append({"file": name, "duplicate_of": kept_pixels[pixels], "kind": "exact", "distance": 0})
            continue
        phash = _phash(image)
        near = _nearest(phash, kept_hashes)
        if near is not None and near[1] <= options.near_duplicate_distance and options.near_duplicate_distance > 0:
            report.duplicates.append({"file": name, "duplicate_of": report.kept[near[0]], "kind": "near",
                                      "distance": near[1]})
            continue
        target = "RGBA" if options.channels == 4 else "RGB"
        if image.mode != target:
            report.converted.append({"file": name, "from": image.mode, "to": target})
        kept_pixels[pixels] = name
        kept_hashes.append(phash)
        report.kept.append(name)
        images.append(fit_image(image, options.resolution, options.channels, options.fit, options.background))
    if not images:
        raise DataError(f"no usable images in {folder}: {len(report.skipped)} files skipped, "
                        f"{len(report.duplicates)} duplicates; see the report", report)
    stack = np.stack(images)
    train_rows, val_rows = split(len(images), options.val_fraction, options.split_seed)
    report.train, report.val = len(train_rows), len(val_rows)
    report.train_files = [report.kept[i] for i in train_rows]
    report.val_files = [report.kept[i] for i in val_rows]
    return Dataset(train=stack[train_rows], val=stack[val_rows], report=report)


def split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the train and validation splits of n kept items (each sorted), drawn with a
    fixed seed: at least one held out when val_fraction > 0 and there are two or more, and
    never all of them."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction) if n > 1 else 0
    n_val = min(max(n_val, 1 if val_fraction > 0 and n > 1 else 0), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _files(folder: Path) -> list[Path]:
    """Every file but the captions beside images (read_captions reads those); a text file
    with no image of its name is reported like any other file that is not an image."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        stems = {Path(n).stem for n in names if not n.lower().endswith(CAPTION_SUFFIXES)}
        found += [Path(root) / n for n in sorted(names)
                  if not (n.lower().endswith(CAPTION_SUFFIXES) and Path(n).stem in stems)]
    return found


def _load(path: Path, options: DataOptions):
    """(image, None) for a usable image, or (None, why not)."""
    from PIL import Image, UnidentifiedImageError

    size = path.stat().st_size
    if size == 0:
        return None, "empty file (0 bytes)"
    if size > options.max_file_mb * 1e6:
        return None, f"file too large ({size / 1e6:.0f} MB; the limit is {options.max_file_mb:g} MB)"
    try:
        with Image.open(path) as image:
            if image.width * image.height > options.max_pixels:
                return None, f"image too large ({image.width}x{image.height} pixels)"
            image.load()  # decodes every byte: a truncated or corrupt file fails here
            if min(image.size) < options.min_side:
                return None, f"image too small ({image.width}x{image.height}; at least {options.min_side} px a side)"
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # the first frame of an animation
            return image.copy(), None
    except UnidentifiedImageError:
        return None, "not an image (its content is no image format Pillow reads)"
    except Image.DecompressionBombError:
        return None, "image too large (Pillow refuses it as a decompression bomb)"
    except (OSError, SyntaxError, ValueError) as exc:
        return None, f"corrupt or truncated image ({exc})"


def _pixel_hash(image) -> str:
    rgba = image.convert("RGBA")
    return hashlib.sha256(f"{rgba.size}".encode() + rgba.tobytes()).hexdigest()


def _phash(image) -> int:
    import imagehash

    return int(str(imagehash.phash(_flatten(image.convert("RGBA"), (255, 255, 255)))), 16)


def _nearest(phash: int, kept: list[int]) -> tuple[int, int] | None:
    if not kept:
        return None
    distances = [(phash ^ other).bit_count() for other in kept]
    best = int(np.argmin(distances))
    return best, distances[best]


def _flatten(rgba, background):
    from PIL import Image

    base = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def fit_image(image, resolution: int, channels: int, fit: str = "center-crop",
              background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """An image of any mode and size as (resolution, resolution, channels) uint8."""
    from PIL import Image, ImageOps

    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    rgba = image.convert("RGBA")  # palette transparency and greyscale alpha become real alpha
    size = (resolution, resolution)
    if fit == "center-crop":
        rgba = ImageOps.fit(rgba, size, Image.Resampling.LANCZOS)
    else:
        rgba = ImageOps.pad(rgba, size, Image.Resampling.LANCZOS, color=(*background, 0))
    out = rgba if channels == 4 else _flatten(rgba, background)
    return np.asarray(out, dtype=np.uint8)


def to_tensor(array: np.ndarray):
    """(H, W, C) or (N, H, W, C) uint8 -> float tensor (.., C, H, W) in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.array(array, copy=True))  # a fresh array: the input may be read-only
    t = t.permute(2, 0, 1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    # Contiguous: a permuted view is channels-last in memory, which sends the convolutions
    # that read the batch down slower kernels (8 % of a training step, bench_lora_train).
    return t.float().div(127.5).sub(1).contiguous()


CAPTION_SUFFIXES = (".txt", ".caption")  # as kohya's and OneTrainer's datasets name them


def read_captions(folder: str | Path, files: list[str], template: str) -> list[str]:
    """Each image's caption: the text file beside it (same name, .txt or .caption), else
    `template` with {name} replaced by the file's name in words ("red_potion-2" -> "red potion 2")."""
    captions = []
    for name in files:
        image = Path(folder) / name
        text = ""
        for suffix in CAPTION_SUFFIXES:
            try:
                text = " ".join(image.with_suffix(suffix).read_text(encoding="utf-8", errors="replace").split())
            except OSError:
                continue
            if text:
                break
        words = " ".join(image.stem.replace("_", " ").replace("-", " ").split())
        captions.append(text or template.replace("{name}", words))
    return captions
