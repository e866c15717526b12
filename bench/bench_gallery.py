"""Gallery first paint with 10,000 recorded outputs: from creating the Gallery widget on an
open project to just after its first paint event, and on to every visible thumbnail shown;
against the same on an empty project (the fixed cost of the widget). Median of 5 each,
interleaved. Goal: <= 1 s to first paint at 10,000 outputs. Offscreen platform.
Usage: .venv/bin/python bench/bench_gallery.py   (the 10,000-output project is built once and kept)
"""
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
WORK = Path(tempfile.gettempdir()) / "assetsmith-bench"
os.environ["XDG_CONFIG_HOME"] = str(WORK / "config")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.jobs import JobRunner  # noqa: E402
from studio.project import Project  # noqa: E402

OUTPUTS, PER_GENERATION, ROUNDS = 10_000, 10, 5
PROMPTS = ["red potion", "blue sword", "green shield", "gold coin", "stone wall texture"]


def build_project(root: Path) -> Path:
    """1,000 generations of 10 small PNGs each, recorded as the engines record them."""
    if (root / "done").exists():
        return root
    rng = np.random.default_rng(0)
    with Project.open(root) as project:
        for g in range(OUTPUTS // PER_GENERATION):
            prompt = f"{PROMPTS[g % len(PROMPTS)]} #{g}"
            recipe = {"engine": "diffusion", "model": "tiny-sd", "prompt": prompt, "seed": g, "count": PER_GENERATION,
                      "params": {"num_steps": 20, "width": 64, "height": 64}}
            writer = project.writer(recipe)
            for i in range(PER_GENERATION):
                buffer = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
                writer.add(index=i, seed=g + i, kind="image", ext="png", data=buffer.getvalue(),
                           recipe={**recipe, "seed": g + i, "count": 1}, mime="image/png", width=64, height=64)
            writer.finish("finished")
    (root / "done").touch()
    return root


class FirstPaint(QObject):
    def __init__(self, loop: QEventLoop):
        super().__init__()
        self.loop, self.painted = loop, False

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Paint and not self.painted:
            self.painted = True
            QTimer.singleShot(0, self.loop.quit)
        return False


def open_gallery(root: Path) -> tuple[float, float]:
    """Seconds to the first paint, and to every visible cell having its thumbnail."""
    from ui.bridge import JobBridge
    from ui.gallery import Gallery
    from ui.thumb_loader import ThumbLoader

    project, runner = Project.open(root), JobRunner()
    loop = QEventLoop()
    start = time.perf_counter()
    bridge, loader = JobBridge(runner), ThumbLoader(project.root)
    gallery = Gallery(project, runner, bridge, loader)
    watcher = FirstPaint(loop)
    gallery.installEventFilter(watcher)
    gallery.resize(1280, 800)
    gallery.show()
    loop.exec()
    painted = time.perf_counter() - start
    view, model = gallery.view, gallery.model
    visible = [row for row in range(min(model.rowCount(), 200))
               if view.visualRect(model.index(row)).intersects(view.viewport().rect())]
    while not all(model.has_thumbnail(row) for row in visible):
        QApplication.processEvents(QEventLoop.AllEvents, 10)
        if time.perf_counter() - start > 120:
            raise SystemExit("thumbnails did not arrive within 120 s")
    thumbs = time.perf_counter() - start
    gallery.close()
    gallery.close_project()
    loader.close()
    bridge.close()
    runner.shutdown()
    project.close()
    return painted, thumbs


def main() -> None:
    app = QApplication([])  # noqa: F841  (the widgets need it)
    full = build_project(WORK / "gallery-10k")
    empty = Path(tempfile.mkdtemp(prefix="assetsmith-bench-empty-")) / "P"
    Project.open(empty).close()
    for root in (full, empty):  # warm: thumbnails cached on disk, imports done
        open_gallery(root)
    times = {"full": [], "empty": []}
    for _ in range(ROUNDS):
        times["full"].append(open_gallery(full))
        times["empty"].append(open_gallery(empty))
    paint = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
    thumbs = statistics.median(t[1] for t in times["full"])
    print(f"gallery first paint, {OUTPUTS:,} outputs: {paint['full']:.3f} s / empty project {paint['empty']:.3f} s "
          f"= {paint['full'] / paint['empty']:.2f} (median of {ROUNDS}, interleaved; goal <= 1 s); "
          f"visible thumbnails shown after {thumbs:.3f} s (cached in thumbs/)")


if __name__ == "__main__":
    main()
