"""Export text outputs as .txt, .json or .csv, ready for a game's data files."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from studio.project import Generation

FORMATS = ("txt", "json", "csv")


class ExportError(ValueError):
    pass


def text_rows(generations: list[Generation]) -> list[dict]:
    """One row per text output, oldest first, with what a spreadsheet or a game needs."""
    rows = []
    for generation in sorted(generations, key=lambda g: (g.created_at, g.id)):
        for out in generation.outputs:
            if out.kind != "text" or out.trashed or out.missing:
                continue
            rows.append({
                "text": out.path.read_text(encoding="utf-8"),
                "generation_id": generation.id,
                "output_id": out.id,
                "seed": out.seed,
                "prompt": generation.recipe.get("prompt", ""),
                "model": generation.recipe.get("model"),
            })
    return rows


def export_text(generations: list[Generation], dest: str | Path, fmt: str | None = None) -> int:
    """Write the text outputs of `generations` to `dest`; the format follows its suffix
    unless given. Returns the number of texts written."""
    dest = Path(dest)
    fmt = fmt or dest.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ExportError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    rows = text_rows(generations)
    if not rows:
        raise ExportError("there are no text outputs to export")
    if fmt == "txt":
        # One text per line when they are one-liners (names), blank lines between longer ones.
        multiline = any("\n" in r["text"].strip() for r in rows)
        data = ("\n\n" if multiline else "\n").join(r["text"].strip() for r in rows) + "\n"
    elif fmt == "json":
        data = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        data = buffer.getvalue()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(data, encoding="utf-8")
    return len(rows)
