"""Lists out of model text: "12 potion names" back as 12 separate items.

Models write lists many ways: numbered (1. 1) (1) #1), bulleted (- * •), as a JSON array,
with blank lines, a chatty first line or a trailing remark. The parse keeps the items and
drops the rest.
"""
from __future__ import annotations

import json
import re

_MARKER = re.compile(r"^\s*(?:\(?\d{1,3}[.):\]]|#\d{1,3}[.:)]?|\d{1,3}\s+-|[-*•·–])\s+(?P<item>.+?)\s*$")
_BARE_MARKER = re.compile(r"^\s*(?:\(?\d{1,3}[.):\]]|#\d{1,3}[.:)]?|[-*•·–])\s*$")


def list_items(prompt: str, text: str, cut_off: bool = False) -> list[str]:
    """The items of a list a model wrote after `prompt`. A completion prompt that ends with the
    first marker ("...:\n1.") holds the first item's marker, so it is put back before parsing;
    when the model ran out of tokens (`cut_off`) mid-line, the unfinished last item is dropped."""
    if not text.strip():
        return []
    last_line = prompt.rsplit("\n", 1)[-1]
    lead = last_line if _BARE_MARKER.match(last_line) else ""
    items = parse_list(lead + text)
    if cut_off and len(items) > 1 and not text.endswith("\n"):
        items = items[:-1]
    return items


def parse_list(text: str) -> list[str]:
    """The items of a list written by a model, in order, without markers or empty entries."""
    items = _from_json(text)
    if items is not None:
        return items
    lines = [line for line in text.splitlines() if line.strip()]
    marked = [m.group("item") for line in lines if (m := _MARKER.match(line))]
    if marked:
        return [_clean(item) for item in marked if _clean(item)]
    # No markers at all: one item per line, which is how small models often answer.
    return [_clean(line) for line in lines if _clean(line)]


def _from_json(text: str) -> list[str] | None:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start:end + 1])
    except ValueError:
        return None
    if not isinstance(data, list) or not data:
        return None
    items = []
    for entry in data:
        if isinstance(entry, str):
            items.append(entry.strip())
        elif isinstance(entry, dict):
            # {"name": ..., "description": ...} becomes "name: description"
            values = [str(v).strip() for v in entry.values() if isinstance(v, (str, int, float))]
            items.append(": ".join(v for v in values if v))
        else:
            return None
    return [i for i in items if i]


def _clean(item: str) -> str:
    item = item.strip().strip('"“”').strip()
    item = re.sub(r"^\*\*(.+?)\*\*", r"\1", item)  # markdown bold around the name
    return item
