"""The engine protocol: one small interface for every modality.

Imports neither Qt nor torch, so the CLI, the window and a child process can all describe
engines and validate requests without loading a model. Shape after Krita AI Diffusion's
backend/api.py and diffusers' pipelines (see DESIGN.md).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence, runtime_checkable

Modality = Literal["text", "image", "audio"]
ParamType = Literal["int", "float", "bool", "str", "choice", "file", "loras", "strings"]

SEED_MAX = 2**32 - 1


class Cancelled(Exception):
    """Raised from inside an engine's step hook when its job was cancelled."""


class ParamError(ValueError):
    """A request parameter is unknown, of the wrong type or out of range."""


class EngineError(Exception):
    """A failure whose message is written for the user as it is (a model that cannot be
    loaded, an input the model cannot take)."""


@dataclass(frozen=True)
class Param:
    """One entry of an engine's parameter schema.

    `default` None means "the model's own default" (its scheduler, its native size ...), so
    that a request with no parameters equals the bare library call; the engine records the
    value it actually used in the recipe.
    """

    name: str
    type: ParamType
    default: Any = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    advanced: bool = False
    multiple_of: int | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
            "help": self.help,
            "advanced": self.advanced,
            "multiple_of": self.multiple_of,
        }

    def check(self, value: Any) -> Any:
        """Return `value` converted to this parameter's type, or raise ParamError."""
        if value is None:
            return None
        kind = self.type
        if kind == "int":
            if isinstance(value, bool) or not _is_integral(value):
                raise ParamError(f"{self.name} must be a whole number, got {value!r}")
            value = int(value)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"{self.name} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise ParamError(f"{self.name} must be a finite number, got {value!r}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"{self.name} must be true or false, got {value!r}")
        elif kind in ("str", "file"):
            if not isinstance(value, str):
                raise ParamError(f"{self.name} must be a string, got {value!r}")
        elif kind == "choice":
            if value not in (self.choices or ()):
                raise ParamError(
                    f"{self.name} must be one of {', '.join(map(repr, self.choices or ()))}; got {value!r}"
                )
        elif kind == "strings":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ParamError(f"{self.name} must be a list of strings, got {value!r}")
            value = list(value)
        elif kind == "loras":
            value = _check_loras(self.name, value)
        if kind in ("int", "float"):
            if self.min is not None and value < self.min:
                raise ParamError(f"{self.name} must be at least {_num(self.min)}, got {_num(value)}")
            if self.max is not None and value > self.max:
                raise ParamError(f"{self.name} must be at most {_num(self.max)}, got {_num(value)}")
            if self.multiple_of and value % self.multiple_of:
                raise ParamError(f"{self.name} must be a multiple of {self.multiple_of}, got {_num(value)}")
        return value


def _is_integral(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _check_loras(name: str, value: Any) -> list[list]:
    if not isinstance(value, (list, tuple)):
        raise ParamError(f"{name} must be a list of [file, weight] pairs, got {value!r}")
    out = []
    for item in value:
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 2
            or not isinstance(item[0], str)
            or isinstance(item[1], bool)
            or not isinstance(item[1], (int, float))
        ):
            raise ParamError(f"{name} entries must be [file, weight] pairs, got {item!r}")
        out.append([item[0], float(item[1])])
    return out


def validate(schema: Sequence[Param], params: Mapping[str, Any]) -> dict[str, Any]:
    """Check `params` against `schema`: unknown names and bad values raise ParamError.

    Only the parameters given are returned (converted); absent ones keep the engine's
    default, which the engine resolves and records itself.
    """
    by_name = {p.name: p for p in schema}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise ParamError(f"unknown parameter {unknown[0]!r}; this engine takes: {known}")
    return {name: by_name[name].check(value) for name, value in params.items() if value is not None}


@dataclass(frozen=True)
class Request:
    """What to make. The same dict is the recipe in the project, in the file, in a child
    process and on the command line (`to_dict` / `from_dict`)."""

    engine: str
    model: str | None = None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    count: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise ParamError(f"count must be a whole number of at least 1, got {self.count!r}")
        if self.seed is not None and (
            not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= SEED_MAX
        ):
            raise ParamError(f"seed must be a whole number from 0 to {SEED_MAX}, got {self.seed!r}")
        # A frozen request must not share a mutable dict with its caller.
        object.__setattr__(self, "params", dict(self.params))

    def to_dict(self) -> dict:
        return {
            "engine": self.engine,
            "model": self.model,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "count": self.count,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Request":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> "Request":
        return dataclasses.replace(self, **changes)


@dataclass
class Output:
    """One finished output: the data plus what it is and the exact recipe that made it.

    `data` is an HxWxC uint8 numpy array for images, a float32 (frames, channels) array for
    audio, a str for text. `recipe` is the request that re-makes exactly this output
    (its own seed, count 1, every parameter resolved) plus the engine's own facts.
    """

    kind: Modality
    data: Any
    seed: int
    recipe: dict
    mime: str = ""
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    duration_s: float | None = None


class Events(Protocol):
    """How an engine talks back while it works. Called from the worker thread."""

    def progress(self, step: int, total: int) -> None: ...

    def preview(self, partial: Any) -> None: ...

    def cancelled(self) -> bool: ...

    def output(self, output: Output) -> None: ...


class NullEvents:
    """Events for a caller that wants none (benchmarks, scripts)."""

    def progress(self, step: int, total: int) -> None:
        pass

    def preview(self, partial: Any) -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def output(self, output: Output) -> None:
        pass


@runtime_checkable
class Engine(Protocol):
    """What every engine provides. Class attributes describe it without loading anything."""

    name: str
    modality: Modality
    takes_prompt: bool
    inputs: tuple[str, ...]  # names of "file" params that are input files (init_image, mask_image ...)
    params: tuple[Param, ...]
    default_model: str | None

    def load(self, model_path: str, device: str) -> None: ...

    # Optional: `accepts(path)` (classmethod: whether a folder is this engine's),
    # `warm_up()` (classmethod: import the libraries load() would import, so a window can do
    # it in the background before the first generation; studio/jobs.py warm_up), and
    # `suggestions(path)` (classmethod: {param: [values]} a model folder offers, such as its
    # voices, read without loading it; the window lists them beside the parameter).

    def unload(self) -> None: ...

    def memory_bytes(self) -> int: ...

    def generate(self, request: Request, events: Events) -> list[Output]: ...


def describe(engine: type) -> dict:
    """The engine's schema as the CLI (`engines --json`) and the window's forms see it."""
    return {
        "name": engine.name,
        "modality": engine.modality,
        "takes_prompt": engine.takes_prompt,
        "inputs": list(engine.inputs),
        "default_model": engine.default_model,
        "params": [p.to_dict() for p in engine.params],
    }


def check_request(engine: type, request: Request) -> Request:
    """Validate a request against an engine's schema; returns it with converted params."""
    if request.engine != engine.name:
        raise ParamError(f"request is for engine {request.engine!r}, not {engine.name!r}")
    if request.prompt and not engine.takes_prompt:
        raise ParamError(f"engine {engine.name!r} takes no prompt")
    return request.replace(params=validate(engine.params, request.params))


class _BatchEvents:
    """Maps one output's steps onto the batch's progress."""

    def __init__(self, events: Events, index: int, count: int):
        self._events, self._index, self._count = events, index, count

    def progress(self, step: int, total: int) -> None:
        self._events.progress(self._index * total + step, self._count * total)

    def preview(self, partial: Any) -> None:
        self._events.preview(partial)

    def cancelled(self) -> bool:
        return self._events.cancelled()

    def output(self, output: Output) -> None:
        self._events.output(output)


def run_batch(
    request: Request, events: Events, make_one: Callable[[int, Events], "Output | list[Output]"]
) -> list[Output]:
    """Make `request.count` results one after another, result i with seed + i.

    Each output is handed to `events.output` the moment it is finished, so a cancel or a
    crash later in the batch never loses it. One at a time (A1111's "batch count") so any
    result can be re-made alone from its own seed, bit for bit. A result may be several
    outputs (the items of a text list), which share its seed.
    """
    if request.seed is None:
        raise ParamError("the seed must be resolved to a number before generating")
    outputs = []
    for i in range(request.count):
        if events.cancelled():
            raise Cancelled()
        seed = (request.seed + i) % (SEED_MAX + 1)
        made = make_one(seed, _BatchEvents(events, i, request.count))
        for out in made if isinstance(made, list) else [made]:
            events.output(out)
            outputs.append(out)
    return outputs
