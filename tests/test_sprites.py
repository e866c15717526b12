"""The image starters' training data (tools/starters/sprites.py): the same bytes for the same
seed, icons on transparency, and a folder the training data scan keeps whole."""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "starters"))
import sprites  # noqa: E402

from engines.data import DataOptions, prepare  # noqa: E402


def test_the_same_seed_draws_the_same_icons_once(tmp_path):
    a = sprites.sprite_folder(tmp_path / "a" / "items", per_kind=2, seed=3)
    b = sprites.sprite_folder(tmp_path / "b" / "items", per_kind=2, seed=3)
    names = sorted(p.name for p in a.iterdir())
    assert names == [f"{kind}-{i:04d}.png" for kind in sorted(sprites.KINDS) for i in range(2)]
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
    other = sprites.sprite_folder(tmp_path / "c" / "items", per_kind=2, seed=4)
    assert (a / "potion-0000.png").read_bytes() != (other / "potion-0000.png").read_bytes()
    (a / "gem-0000.png").unlink()  # made once: the marker beside the folder says it is done
    assert sprites.sprite_folder(a, per_kind=2, seed=3) == a and not (a / "gem-0000.png").exists()


def test_icons_sit_on_transparency_and_the_scan_keeps_them_all(tmp_path):
    folder = sprites.sprite_folder(tmp_path / "items", per_kind=2)
    for path in folder.iterdir():
        pixels = np.asarray(Image.open(path))
        assert pixels.shape == (64, 64, 4), path.name
        clear = pixels[..., 3] == 0
        assert clear[:2].all() and clear[:, :2].all() and (pixels[clear] == 0).all(), path.name  # no halo
        assert (pixels[24:40, 24:40, 3] == 255).mean() > 0.3, path.name  # the item fills the middle
    dataset = prepare(folder, DataOptions(resolution=64, channels=4, near_duplicate_distance=0))
    assert len(dataset.report.kept) == 2 * len(sprites.KINDS) and not dataset.report.skipped
