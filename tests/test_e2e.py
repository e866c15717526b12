"""The app as a user starts it: `tools/run-app.sh assetsmith` (what `make run` does) on a
machine with no screen, which starts it inside Xvfb; the window paints, its picture is
saved, and it quits cleanly."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ASSETSMITH = str(Path(sys.executable).parent / "assetsmith")


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed (make installs it)")
@pytest.mark.parametrize("tab", ["Image", "Gallery"])
def test_the_app_starts_under_xvfb_and_paints_its_window(tmp_path, tab):
    shot = tmp_path / "window.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # the user's window settings stay untouched
    done = subprocess.run([str(ROOT / "tools" / "run-app.sh"), ASSETSMITH, "--project", str(tmp_path / "P"),
                           "--tab", tab, "--screenshot", str(shot)],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "starting Assetsmith inside Xvfb" in done.stderr  # the path a screen-less user takes
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "first paint" in done.stdout
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 1000
    # Not blank: widgets, text and frames make many colours and a wide spread of brightness.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50 and pixels.std() > 20
    assert (tmp_path / "P" / "project.db").is_file()


def test_the_window_is_built_without_the_heavy_libraries(tmp_path):
    """Start-up imports only what the first paint needs: torch and the ML libraries come with
    the warm-up after it, numpy and PIL with the first thumbnail or job, psutil with the memory
    figure after the first paint."""
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "from studio.project import Project\n"
            "from ui.main_window import MainWindow\n"
            "app = QApplication([])\n"
            "window = MainWindow(Project.open(sys.argv[1]))\n"
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'diffusers', 'transformers', 'psutil', 'subprocess')\n"
            "             if m in sys.modules))\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "P")], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
