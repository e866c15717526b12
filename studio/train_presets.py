"""Training presets: quick / balanced / thorough settings per trainer, as data in
resources/presets/training.json (not code).

A preset is a partial set of a trainer's parameters that fills the Train workspace's form;
keys the trainer does not take are left out, so a preset written before its trainer's last
parameter rename never breaks the form. A trainer with no entry gets presets scaled from its
own default step count (a quarter, as is, four times), so every trainer of
engines/train/schema.py TRAINERS has all three.
"""
from __future__ import annotations

import json
from functools import lru_cache

from engines.train import schema
from studio.models import RESOURCES

NAMES = ("quick", "balanced", "thorough")
HELP = {
    "quick": "A short run to check the data and settings: few steps, small rank/batch.",
    "balanced": "The usual run: enough steps for a small folder to be learnt.",
    "thorough": "A longer run with more capacity: for larger folders, when quick looked right.",
}
SCALE = {"quick": 0.25, "balanced": 1.0, "thorough": 4.0}  # of the default steps, for trainers with no entry


@lru_cache(maxsize=1)
def _table() -> dict:
    return json.loads((RESOURCES / "presets" / "training.json").read_text(encoding="utf-8"))


def presets(engine: str) -> dict[str, dict]:
    """{preset name: params} for a trainer, only params it takes."""
    names = {p.name for p in schema.all_params(engine)}
    given = _table().get(engine)
    if given is None:
        steps = {**{p.name: p.default for p in schema.all_params(engine)}, **schema.spec(engine).defaults}["steps"]
        given = {name: {"steps": max(1, int(steps * SCALE[name]))} for name in NAMES}
    return {name: {k: v for k, v in given[name].items() if k in names} for name in NAMES}
