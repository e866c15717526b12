"""The data pipeline on a folder as users have them: good images among bad files."""
import numpy as np
import pytest
from PIL import Image

from engines.data import DataError, DataOptions, fit_image, prepare


def shape_image(i, size=40, mode="RGB"):
    """A distinct picture per i (a disc at a different place and colour), not noise, so
    perceptual hashes tell them apart as they would real sprites."""
    rng = np.random.default_rng(i)
    yy, xx = np.mgrid[:size, :size]
    cx, cy, r = rng.integers(8, size - 8, 2).tolist() + [int(rng.integers(4, 10))]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / size
    rgb = np.clip(127 + 120 * ramp[..., None] * rng.uniform(-1, 1, 3), 0, 255).astype(np.uint8)
    rgb[disc] = rng.integers(0, 255, 3)
    return Image.fromarray(rgb).convert(mode)


@pytest.fixture
def messy(tmp_path):
    """Six good images (one in a subfolder), and every kind of bad file the issue names."""
    folder = tmp_path / "sprites"
    (folder / "more").mkdir(parents=True)
    for i in range(5):
        shape_image(i).save(folder / f"good{i}.png")
    shape_image(5).save(folder / "more" / "good5.png")
    good = (folder / "good0.png").read_bytes()
    (folder / "corrupt.png").write_bytes(good[: len(good) // 2])  # truncated mid-stream
    (folder / "zero.png").write_bytes(b"")
    (folder / "notes.png").write_text("this is not a picture")
    (folder / "readme.txt").write_text("hello")
    Image.new("RGB", (1, 1), (255, 0, 0)).save(folder / "tiny.png")
    (folder / "good1_copy.png").write_bytes((folder / "good1.png").read_bytes())  # exact duplicate
    # a near duplicate: the same picture, bigger and re-encoded
    shape_image(2).resize((80, 80), Image.Resampling.LANCZOS).save(folder / "good2_again.jpg", quality=90)
    shape_image(6).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(folder / "palette.gif")
    return folder


def test_report_names_every_bad_file_and_trains_on_the_rest(messy):
    data = prepare(messy, DataOptions(resolution=32, channels=3, val_fraction=0.25))
    report = data.report
    skipped = {s["file"]: s["reason"] for s in report.skipped}
    assert set(skipped) == {"corrupt.png", "zero.png", "notes.png", "readme.txt", "tiny.png"}
    assert "0 bytes" in skipped["zero.png"]
    assert "not an image" in skipped["notes.png"] and "not an image" in skipped["readme.txt"]
    assert "truncated" in skipped["corrupt.png"]
    assert "too small" in skipped["tiny.png"]
    dups = {d["file"]: d for d in report.duplicates}
    assert dups["good1_copy.png"]["kind"] == "exact" and dups["good1_copy.png"]["duplicate_of"] == "good1.png"
    assert dups["good2_again.jpg"]["kind"] == "near" and dups["good2_again.jpg"]["duplicate_of"] == "good2.png"
    assert set(report.kept) == {"good0.png", "good1.png", "good2.png", "good3.png", "good4.png", "more/good5.png",
                                "palette.gif"}
    assert {c["file"]: c["from"] for c in report.converted} == {"palette.gif": "P"}
    assert data.train.shape == (5, 32, 32, 3) and data.val.shape == (2, 32, 32, 3)
    assert data.train.dtype == np.uint8
    assert report.train == 5 and report.val == 2 and "7 images kept" in report.summary()


def test_split_is_fixed_by_its_seed(messy):
    a = prepare(messy, DataOptions(resolution=32, split_seed=3, val_fraction=0.3))
    b = prepare(messy, DataOptions(resolution=32, split_seed=3, val_fraction=0.3))
    c = prepare(messy, DataOptions(resolution=32, split_seed=4, val_fraction=0.3))
    assert np.array_equal(a.val, b.val) and np.array_equal(a.train, b.train)
    assert not np.array_equal(a.val, c.val)


def test_rgba_keeps_transparency_and_letterbox_pads(tmp_path):
    sprite = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    sprite.paste((200, 30, 30, 255), (10, 5, 30, 15))
    square = fit_image(sprite, 32, 4, "letterbox")
    assert square.shape == (32, 32, 4)
    assert square[0, 0, 3] == 0 and square[16, 16, 3] == 255  # padding transparent, the sprite opaque
    rgb = fit_image(sprite, 32, 3, "letterbox")
    assert tuple(rgb[0, 0]) == (255, 255, 255)  # transparent pixels on the background for RGB
    cropped = fit_image(sprite, 32, 4, "center-crop")
    assert cropped[16, 16, 3] == 255 and cropped.shape == (32, 32, 4)


def test_folder_without_images_says_so(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no usable images"):
        prepare(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        prepare(tmp_path / "nope")
