"""Finds engines through the `assetsmith.engines` entry-point group.

A third party adds an engine by declaring an entry point in its own package; nothing here
needs to change. Loading an entry point imports only the engine's module, never torch.

The packages' `entry_points.txt` are read directly, as importlib.metadata reads them: in
sys.path order, the first installed distribution of a name counting. Importing
importlib.metadata and its scan took 25-35 ms of the window's 0.35 s start (bench/README.md);
this takes 1 ms (tests/test_api.py checks both find the same).
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from importlib import import_module

from engines.api import Engine, ParamError

GROUP = "assetsmith.engines"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, str]:
    """Engine name -> "module:attribute" of every installed package's entry point."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for folder in sys.path:
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:  # a zip or a folder that is gone
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            distribution = re.sub(r"[-_.]+", "_", name.rsplit(".", 1)[0].partition("-")[0]).lower()
            if distribution in seen:
                continue  # shadowed by the same distribution earlier on the path
            seen.add(distribution)
            for key, value in _group(os.path.join(folder or ".", name, "entry_points.txt")):
                found.setdefault(key, value)
    return found


def _group(path: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    section, entries = None, []
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == GROUP and "=" in line:
            key, _, value = line.partition("=")
            entries.append((key.strip(), value.strip()))
    return entries


def _load(value: str):
    """An entry point's object: "module:attribute.path", any [extras] left out."""
    module, _, attribute = value.split("[", 1)[0].strip().partition(":")
    target = import_module(module.strip())
    for part in filter(None, attribute.strip().split(".")):
        target = getattr(target, part)
    return target


def names() -> list[str]:
    return sorted(_entry_points())


def get(name: str) -> type[Engine]:
    """The engine class registered under `name`; ParamError when there is none."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (is assetsmith installed with `pip install -e .`?)"
        raise ParamError(f"unknown engine {name!r}; available engines: {known}")
    cls = _load(eps[name])
    if getattr(cls, "name", None) != name:
        raise ParamError(f"entry point {name!r} loads {cls!r}, whose name is {getattr(cls, 'name', None)!r}")
    return cls


def all_engines() -> list[type[Engine]]:
    return [get(n) for n in names()]
