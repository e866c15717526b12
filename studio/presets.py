"""Prompt presets for common asset tasks: data in resources/presets/, not code.

Each preset has an instruction prompt for chat models and a completion prompt for base
models (a tiny model continues text; it does not follow instructions), both with {fields}.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from engines.api import Request
from studio.models import RESOURCES


class PresetError(ValueError):
    pass


@dataclass(frozen=True)
class Preset:
    name: str
    help: str
    mode: str
    prompt: str
    completion: str
    fields: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def request(self, *, chat: bool, model: str | None = None, seed: int | None = None, **values) -> Request:
        """The request this preset makes with `values` filled in (defaults for the rest)."""
        template = self.prompt if chat else self.completion
        try:
            prompt = template.format(**{**self.fields, **values})
        except KeyError as exc:
            raise PresetError(f"preset {self.name!r} needs a value for {exc.args[0]!r}") from None
        return Request(engine="causal-lm", model=model, prompt=prompt, seed=seed,
                       params={**self.params, "mode": self.mode})


def load(modality: str = "text") -> list[Preset]:
    path = RESOURCES / "presets" / f"{modality}.json"
    try:
        return [Preset(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return []
    except (ValueError, TypeError) as exc:
        raise PresetError(f"{path} is not a valid preset file: {exc}") from None
