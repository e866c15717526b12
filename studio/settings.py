"""Where Assetsmith keeps its own files (caches, preferences outside Qt's)."""
import os
from pathlib import Path


def home() -> Path:
    """ASSETSMITH_HOME when set (tests set it), else the XDG data folder."""
    explicit = os.environ.get("ASSETSMITH_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "assetsmith"
