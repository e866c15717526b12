"""Where Assetsmith keeps its own files, and the preferences that are not the window's.

The window keeps its layout in QSettings; what the core needs (offline mode, the model folders
the user added) lives here, in `settings.json` under `home()`, so the CLI sees the same values.
"""
from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

OFFLINE_ENV = "HF_HUB_OFFLINE"  # huggingface_hub's own switch; set in tests (tests/conftest.py)
DEFAULTS = {
    "offline": False,  # True: no network call at all, not even to look a model up
    "model_folders": [],  # e.g. an AUTOMATIC1111 or ComfyUI models/ folder, used in place
    "threads": 0,  # CPU threads for generations and training; 0: automatic (torch's, the physical cores)
}
THREADS_MAX = 1024


def home() -> Path:
    """ASSETSMITH_HOME when set (tests set it), else the XDG data folder."""
    explicit = os.environ.get("ASSETSMITH_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "assetsmith"


def _file() -> Path:
    return home() / "settings.json"


def load() -> dict:
    """The preferences, defaults filled in. A damaged file reads as the defaults."""
    try:
        data = json.loads(_file().read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    # A value of the wrong type (hand-edited: "offline": "no") reads as its default too.
    return {**DEFAULTS, **{k: v for k, v in data.items() if k in DEFAULTS and type(v) is type(DEFAULTS[k])}}


class SettingsError(OSError):
    """The settings file cannot be written; the message says where and what to check."""


def save(values: dict) -> None:
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting {sorted(unknown)[0]!r}; known: {', '.join(DEFAULTS)}")
    merged = {**load(), **values}
    target = _file()
    tmp = target.with_suffix(".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(merged, indent=2))
        os.replace(tmp, target)  # never a half-written settings file
    except OSError as exc:
        with suppress(OSError):  # a half-written temp file, where there is a folder for one
            tmp.unlink(missing_ok=True)
        raise SettingsError(f"cannot save the settings in {target.parent} ({exc.strerror or exc}); "
                            "check that the folder can be written and the disk is not full") from None


def offline() -> bool:
    """Offline mode: no network call at all. HF_HUB_OFFLINE, when set, decides (an
    administrator's or a test's choice, and huggingface_hub obeys it too); else the preference."""
    env = os.environ.get(OFFLINE_ENV)
    if env is not None and env.strip() != "":
        return env.strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(load()["offline"])


def set_offline(on: bool) -> None:
    save({"offline": bool(on)})


def model_folders() -> list[Path]:
    """Folders of the user's own models (A1111, ComfyUI ...), searched in place, never copied."""
    return [Path(p).expanduser() for p in load()["model_folders"] if isinstance(p, str) and p]


def add_model_folder(folder: str | Path) -> None:
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    current = [str(p) for p in model_folders()]
    if str(folder) not in current:
        save({"model_folders": [*current, str(folder)]})


def remove_model_folder(folder: str | Path) -> None:
    folder = str(Path(folder).expanduser().resolve())
    save({"model_folders": [str(p) for p in model_folders() if str(p.resolve()) != folder]})


def threads() -> int:
    """The CPU thread count the window and the CLI use unless told otherwise; 0: automatic.
    It changes the bits of a result on the CPU, so every recipe records the count it ran with
    and a re-make uses that one, whatever this says."""
    value = load()["threads"]
    return value if 0 <= value <= THREADS_MAX else 0


def set_threads(n: int) -> None:
    if type(n) is not int or not 0 <= n <= THREADS_MAX:
        raise ValueError(f"threads must be a whole number from 0 (automatic) to {THREADS_MAX}, got {n!r}")
    save({"threads": n})
