"""From a folder of the user's text to token blocks for a causal language model, and a report.

`scan(folder, params)` reads the folder recursively (sorted, so the result never depends on the
file system's order) and says what it would train on, without torch or a tokenizer:

  - `.txt` and `.md` files are one document each;
  - `.jsonl` files hold one document a line: {"prompt": ..., "completion": ...},
    {"messages": [{"role": ..., "content": ...}, ...]} (chat) or {"text": ...};
  - skipped, each with its reason: other files, empty files, files that are not UTF-8, lines
    that are not JSON (by line number) and rows of another shape; exact duplicate documents
    are dropped (the first one is kept).

`prepare(folder, params, tokenizer)` then renders and tokenises them: chat rows through the
tokenizer's chat template when it has one, else as "role: content" lines; each document ends
with EOS. With `packing` the documents of a split are concatenated and cut into blocks of
`block_size` tokens (the last one padded), as transformers' run_clm.py does; without it each
document is one block, truncated or padded. A row is (2, block_size) int32: token ids and the
loss mask (1 where the token is learnt; 0 on padding and on the prompt of prompt/completion
rows, whose completion alone is learnt, as TRL's SFT trainer does). Train and validation are
split by document with the run's seed, before packing, so no document is in both.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engines.data import DataError, Report

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIX = ".jsonl"
MAX_FILE_MB = 256.0
SAMPLE_PROMPTS = 3  # default sample prompts taken from the data
SAMPLE_PROMPT_WORDS = 8


@dataclass(frozen=True)
class Document:
    name: str  # "notes/intro.md", or "dialogue.jsonl:3" for the row on line 3
    kind: str  # "text", "completion" or "chat"
    text: str = ""  # text: the document; completion: the completion
    prompt: str = ""  # completion: the prompt (not learnt)
    messages: tuple = ()  # chat: ({"role", "content"}, ...)

    def key(self) -> str:
        """What makes two documents the same (an exact duplicate)."""
        body = json.dumps([self.kind, self.text, self.prompt, list(self.messages)], ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()


def scan(folder: str | Path, params: Mapping[str, Any]) -> dict:
    """The data report of a folder (the keys of engines.data.Report plus "summary"), raising
    DataError when nothing in it can be trained on. Torch-free: the Train workspace calls it."""
    _, report = read_documents(folder, params)
    return report


def read_documents(folder: str | Path, params: Mapping[str, Any]) -> tuple[list[Document], dict]:
    """Every usable document of the folder, its train/validation split and the report."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    report = Report(folder=str(folder))
    documents: list[Document] = []
    seen: dict[str, str] = {}
    for path in _files(folder):
        name = path.relative_to(folder).as_posix()
        for doc in _read(path, name, report):
            first = seen.get(doc.key())
            if first is not None:
                report.duplicates.append({"file": doc.name, "duplicate_of": first, "kind": "exact", "distance": 0})
                continue
            seen[doc.key()] = doc.name
            documents.append(doc)
            report.kept.append(doc.name)
    if not documents:
        raise DataError(f"no usable text in {folder}: {_counts(report)}; .txt, .md and .jsonl files are read "
                        "(see the report)", report)
    train, val = split(len(documents), float(params.get("val_fraction", 0.1)), int(params.get("seed", 0)))
    report.train, report.val = len(train), len(val)
    report.train_files = [documents[i].name for i in train]
    report.val_files = [documents[i].name for i in val]
    kinds = {k: sum(d.kind == k for d in documents) for k in ("text", "completion", "chat")}
    out = report.to_dict()
    out["documents"] = kinds
    if kinds["chat"]:
        out["chat_format"] = "template" if has_chat_template(params.get("base")) else "plain"
    out["sample_prompts"] = default_sample_prompts([documents[i] for i in train] or documents)
    out["summary"] = (f"{len(documents)} documents kept ({report.train} train, {report.val} validation), "
                      f"{_counts(report)}")
    return documents, out


def _counts(report: Report) -> str:
    lines = sum(1 for s in report.skipped if "line" in s)
    files = len(report.skipped) - lines
    dupes = len(report.duplicates)
    parts = [f"{files} file{'s' if files != 1 else ''} skipped"]
    if lines:
        parts.append(f"{lines} line{'s' if lines != 1 else ''} skipped")
    parts.append(f"{dupes} duplicate{'s' if dupes != 1 else ''} removed")
    return ", ".join(parts)


def split(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Document indices for train and validation, drawn with the seed (as engines.data splits
    images): at least one for validation when asked and there are two or more documents."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction) if n > 1 else 0
    n_val = min(max(n_val, 1 if val_fraction > 0 and n > 1 else 0), n - 1)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def _files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def _read(path: Path, name: str, report: Report) -> list[Document]:
    suffix = path.suffix.lower()
    if suffix not in (*TEXT_SUFFIXES, JSONL_SUFFIX):
        report.skipped.append({"file": name, "reason": "not a .txt, .md or .jsonl file"})
        return []
    size = path.stat().st_size
    if size > MAX_FILE_MB * 1e6:
        report.skipped.append({"file": name, "reason": f"file too large ({size / 1e6:.0f} MB; "
                                                       f"the limit is {MAX_FILE_MB:g} MB)"})
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.skipped.append({"file": name, "reason": f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                                                       f"at offset {exc.start}); save it as UTF-8"})
        return []
    except OSError as exc:
        report.skipped.append({"file": name, "reason": f"could not be read ({exc.strerror or exc})"})
        return []
    if not text.strip():
        report.skipped.append({"file": name, "reason": "empty file" if size == 0 else "only white space"})
        return []
    if suffix != JSONL_SUFFIX:
        return [Document(name=name, kind="text", text=text.replace("\r\n", "\n"))]
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        doc, reason = _row(line, f"{name}:{number}")
        if doc is None:
            report.skipped.append({"file": f"{name}:{number}", "line": number, "reason": f"line {number}: {reason}"})
        else:
            documents.append(doc)
    if not documents and not any(s["file"].startswith(f"{name}:") for s in report.skipped):
        report.skipped.append({"file": name, "reason": "only white space"})
    return documents


def _row(line: str, name: str) -> tuple[Document | None, str | None]:
    try:
        row = json.loads(line)
    except ValueError as exc:
        return None, f"not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(row, dict):
        return None, f"a JSON {type(row).__name__}, not an object"
    if "messages" in row:
        messages = row["messages"]
        if (not isinstance(messages, list) or not messages
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                           for m in messages)):
            return None, 'messages must be a non-empty list of {"role": ..., "content": ...} with text values'
        if not any(m["content"].strip() for m in messages):
            return None, "every message is empty"
        return Document(name=name, kind="chat",
                        messages=tuple({"role": m["role"], "content": m["content"]} for m in messages)), None
    if "prompt" in row or "completion" in row:
        if not (isinstance(row.get("prompt"), str) and isinstance(row.get("completion"), str)):
            return None, "prompt and completion must both be text"
        if not row["completion"].strip():
            return None, "the completion is empty"
        return Document(name=name, kind="completion", prompt=row["prompt"], text=row["completion"]), None
    if "text" in row:
        if not isinstance(row["text"], str) or not row["text"].strip():
            return None, "text must be non-empty text"
        return Document(name=name, kind="text", text=row["text"]), None
    keys = ", ".join(sorted(map(str, row))) or "none"
    return None, (f'unknown row shape (keys: {keys}); rows are {{"prompt", "completion"}}, {{"messages"}} '
                  'or {"text"}')


def default_sample_prompts(documents: list[Document]) -> list[str]:
    """What the samples continue when the run names no prompts: the first words of the first
    documents (the prompt of a prompt/completion row, the first user turn of a chat)."""
    prompts = []
    for doc in documents:
        if doc.kind == "completion":
            prompt = doc.prompt
        elif doc.kind == "chat":
            prompt = next((m["content"] for m in doc.messages if m["role"] == "user"), doc.messages[0]["content"])
        else:
            prompt = " ".join(doc.text.split()[:SAMPLE_PROMPT_WORDS])
        if prompt.strip() and prompt not in prompts:
            prompts.append(prompt)
        if len(prompts) == SAMPLE_PROMPTS:
            break
    return prompts


def chat_template_of(base: str | os.PathLike | None) -> str | None:
    """The chat template a transformers folder's tokenizer carries, read without loading it."""
    if not base:
        return None
    folder = Path(base)
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    for name in ("chat_template.json", "tokenizer_config.json"):
        try:
            template = json.loads((folder / name).read_text(encoding="utf-8")).get("chat_template")
        except (OSError, ValueError, AttributeError):
            continue
        if template:
            return template if isinstance(template, str) else json.dumps(template)
    return None


def has_chat_template(base) -> bool:
    return chat_template_of(base) is not None


def render_chat(messages, tokenizer) -> str:
    """A conversation as the model's chat template writes it, else as "role: content" lines."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(messages), tokenize=False)
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def encode(doc: Document, tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """A document's token ids, ending with EOS, and its loss mask (int32 each)."""
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    if doc.kind == "completion":
        prompt = tokenizer(doc.prompt)["input_ids"] if doc.prompt else []
        completion = tokenizer(doc.text, add_special_tokens=not prompt)["input_ids"] + eos
        ids, mask = prompt + completion, [0] * len(prompt) + [1] * len(completion)
    elif doc.kind == "chat":
        rendered = render_chat(doc.messages, tokenizer)
        # A chat template writes the model's own special tokens (BOS) itself.
        ids = tokenizer(rendered, add_special_tokens=not getattr(tokenizer, "chat_template", None))["input_ids"] + eos
        mask = [1] * len(ids)
    else:
        ids = tokenizer(doc.text)["input_ids"] + eos
        mask = [1] * len(ids)
    return np.asarray(ids, dtype=np.int32), np.asarray(mask, dtype=np.int32)


def blocks(documents: list[Document], tokenizer, block_size: int, packing: bool) -> tuple[np.ndarray, dict]:
    """The rows of one split, (N, 2, block_size) int32, and what tokenising did."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    encoded = [encode(doc, tokenizer) for doc in documents]
    tokens = sum(len(ids) for ids, _ in encoded)
    truncated = 0
    if packing:
        n = -(-tokens // block_size)
        ids, mask = np.full(n * block_size, pad, np.int32), np.zeros(n * block_size, np.int32)
        if n:
            ids[:tokens] = np.concatenate([doc_ids for doc_ids, _ in encoded])
            mask[:tokens] = np.concatenate([doc_mask for _, doc_mask in encoded])
        rows = np.stack([ids.reshape(n, block_size), mask.reshape(n, block_size)], axis=1)
    else:
        rows = np.zeros((len(encoded), 2, block_size), np.int32)
        rows[:, 0] = pad
        for row, (ids, mask) in zip(rows, encoded):
            row[0, :min(len(ids), block_size)] = ids[:block_size]
            row[1, :min(len(mask), block_size)] = mask[:block_size]
        truncated = sum(len(ids) > block_size for ids, _ in encoded)
    # A row's first token is never predicted: a row with nothing learnt after it (a packed
    # tail of one token) is dropped, unless it is the only one.
    learnt = rows[:, 1, 1:].sum(axis=1) > 0
    if learnt.any():
        rows = rows[learnt]
    return rows, {"tokens": tokens, "blocks": len(rows), "truncated": truncated}


def prepare(folder: str | Path, params: Mapping[str, Any], tokenizer) -> tuple[np.ndarray, np.ndarray, dict]:
    """(train, val, report): the run's token blocks, split by document, and the data report."""
    documents, report = read_documents(folder, params)
    block_size, packing = int(params["block_size"]), bool(params["packing"])
    if getattr(tokenizer, "chat_template", None) is None and report.get("chat_format") == "template":
        report["chat_format"] = "plain"
    by_name = {d.name: d for d in documents}
    train, train_info = blocks([by_name[n] for n in report["train_files"]], tokenizer, block_size, packing)
    if report["val_files"]:
        val, val_info = blocks([by_name[n] for n in report["val_files"]], tokenizer, block_size, packing)
    else:
        val, val_info = np.zeros((0, 2, block_size), np.int32), {"tokens": 0, "blocks": 0, "truncated": 0}
    if not train[:, 1, 1:].any():
        raise DataError(f"the training documents of {folder} give no tokens to learn from")
    report.update(tokens={"train": train_info["tokens"], "val": val_info["tokens"]},
                  blocks={"train": train_info["blocks"], "val": val_info["blocks"]},
                  block_size=block_size, packing=packing)
    report["summary"] += (f"; {train_info['blocks']} train and {val_info['blocks']} validation blocks of "
                          f"{block_size} tokens ({'packed' if packing else 'one document each'})")
    if not packing and train_info["truncated"] + val_info["truncated"]:
        report["truncated"] = train_info["truncated"] + val_info["truncated"]
        report["summary"] += f", {report['truncated']} documents cut to the block size"
    return train, val, report
