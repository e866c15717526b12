"""Gallery thumbnails, cached in the project's `thumbs/` (a cache: delete it and it is rebuilt).

Qt-free (PIL and soundfile) so the window builds them on a worker thread and the CLI could
too. A thumbnail is named by the content hash of its source file and its size, so it never
goes stale and two outputs with the same bytes share one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # PIL is imported when a thumbnail is made (on the loader thread), not with the window
    from PIL import Image

SIZE = 128
WAVE_COLOR = (90, 170, 255)
WAVE_BACKGROUND = (32, 34, 38)


class ThumbError(Exception):
    """The source cannot be read; the message says which file and why."""


def thumb_path(project_root: Path, sha256: str, size: int = SIZE) -> Path:
    # Two-character shards keep a folder of 10,000 thumbnails quick to list.
    return Path(project_root) / "thumbs" / sha256[:2] / f"{sha256}-{size}.png"


def ensure_thumb(project_root: Path, source: Path, sha256: str, kind: str, size: int = SIZE) -> Path | None:
    """The cached thumbnail of `source`, built first when missing; None for kinds without one
    (text is shown as text). ThumbError when the source cannot be read."""
    if kind not in ("image", "audio"):
        return None
    target = thumb_path(project_root, sha256, size)
    if target.is_file():
        return target
    try:
        image = _image_thumb(source, size) if kind == "image" else _waveform(source, size)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ThumbError(f"cannot make a thumbnail of {source.name}: {exc}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    # Temp name then rename: a reader never sees half a file. No fsync: it is only a cache.
    tmp = target.with_name(f".tmp-{os.urandom(16).hex()}.png")
    try:
        image.save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _image_thumb(source: Path, size: int) -> Image.Image:
    from PIL import Image

    with Image.open(source) as image:
        image.draft("RGB", (size, size))  # JPEGs decode at a fraction of full size
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    # Only ever smaller: a 64 px sprite stays 64 px and the view enlarges it without blur.
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def _waveform(source: Path, size: int) -> Image.Image:
    """Min/max envelope of the first channel, one column per pixel."""
    import numpy as np
    import soundfile
    from PIL import Image, ImageDraw

    samples, _ = soundfile.read(str(source), dtype="float32", always_2d=True)
    mono = samples[:, 0] if len(samples) else np.zeros(1, dtype="float32")
    columns = np.array_split(mono, size)
    image = Image.new("RGB", (size, size // 2), WAVE_BACKGROUND)
    draw = ImageDraw.Draw(image)
    middle = size // 4
    for x, column in enumerate(columns):
        if len(column):
            top, bottom = float(column.max()), float(column.min())
            draw.line([(x, middle - top * middle), (x, middle - bottom * middle)], fill=WAVE_COLOR)
    return image
