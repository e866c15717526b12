"""Finds engines through the `assetsmith.engines` entry-point group.

A third party adds an engine by declaring an entry point in its own package; nothing here
needs to change. Loading an entry point imports only the engine's module, never torch.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from engines.api import Engine, ParamError

GROUP = "assetsmith.engines"


@lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(_entry_points())


def get(name: str) -> type[Engine]:
    """The engine class registered under `name`; ParamError when there is none."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (is assetsmith installed with `pip install -e .`?)"
        raise ParamError(f"unknown engine {name!r}; available engines: {known}")
    cls = eps[name].load()
    if getattr(cls, "name", None) != name:
        raise ParamError(f"entry point {name!r} loads {cls!r}, whose name is {getattr(cls, 'name', None)!r}")
    return cls


def all_engines() -> list[type[Engine]]:
    return [get(n) for n in names()]
