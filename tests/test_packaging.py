"""What a wheel install gets: the packages and everything in resources/ (the starter models,
presets, the model list), which studio.models finds where the wheel puts it."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from studio import models

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_carries_every_resource(tmp_path):
    source = tmp_path / "src"  # a copy: building writes build/ and egg-info beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("studio", "engines", "ui", "resources"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "out").glob("assetsmith-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n for n in names if ".data/data/share/assetsmith/resources/" in n).split("share/assetsmith/")[0]
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "resources").rglob("*") if p.is_file()}
    assert shipped and {f"{data}share/assetsmith/{name}" for name in shipped} <= names
    assert "studio/models.py" in names and "ui/app.py" in names and "engines/registry.py" in names


def test_resources_are_found_beside_the_packages_or_where_a_wheel_puts_them(tmp_path):
    assert models.RESOURCES == ROOT / "resources" == models.resources_folder()
    assert models.resources_folder(tmp_path) == Path(sys.prefix) / "share" / "assetsmith" / "resources"
