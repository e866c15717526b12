"""Diffusion LoRA training on the harness, on the tiny SD and a tiny captioned folder: it
learns, resumes exactly, and what it writes loads in the diffusion engine in both layouts."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_data import shape_image  # noqa: E402
from test_train import events, final_state, new_run, run_in_process  # noqa: E402

from engines.api import NullEvents, ParamError, Request  # noqa: E402
from engines.data import read_captions  # noqa: E402
from engines.image.diffusion import DiffusionEngine  # noqa: E402
from engines.train import schema  # noqa: E402
from engines.train.lora_diffusion import DIFFUSERS_FILE, KOHYA_FILE  # noqa: E402


pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """Six sprites, four with a caption beside them (.txt or .caption), and a broken file."""
    folder = tmp_path_factory.mktemp("data") / "potions"
    folder.mkdir()
    for i in range(6):
        shape_image(i, 64, "RGB").save(folder / f"red_potion-{i}.png")
    (folder / "red_potion-0.txt").write_text("a red potion, glowing,\n game icon")
    (folder / "red_potion-1.txt").write_text("a tall red potion, pixel art")
    (folder / "red_potion-2.caption").write_text("a round red potion")
    (folder / "red_potion-3.txt").write_text("   ")  # empty: the template applies
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


def lora_params(tiny_sd, **extra):
    return {"base": str(tiny_sd), "resolution": 64, "rank": 4, "batch_size": 2, "threads": 1, "eval_samples": 2,
            "sample_steps": 2, "lr": 1e-3, "val_fraction": 0.2, "caption_template": "a sprite of {name}", **extra}


def test_captions_come_from_sidecars_else_the_template(captioned):
    files = [f"red_potion-{i}.png" for i in range(5)]
    assert read_captions(captioned, files, "a sprite of {name}") == [
        "a red potion, glowing, game icon", "a tall red potion, pixel art", "a round red potion",
        "a sprite of red potion 3", "a sprite of red potion 4"]


def test_a_short_run_learns_and_writes_loras_that_change_the_engine(tmp_path, tiny_sd, captioned):
    folder = new_run(tmp_path, "lora-diffusion", captioned, steps=6, checkpoint_every=3, sample_every=6,
                     **lora_params(tiny_sd, train_text_encoder=True, shuffle_tags=True, caption_dropout=0.2,
                                   val_fraction=0.34))
    assert run_in_process(folder) == "finished"
    log = events(folder)
    data = next(e for e in log if e["event"] == "data")
    assert data["kept"] == 6 and data["skipped"] == 1
    captions = json.loads((folder / "data" / "captions.json").read_text())
    assert len(captions["train"]) == data["train"] and len(captions["val"]) == data["val"]
    assert any(e["event"] == "sample" for e in log)
    (evaluation,) = [e for e in log if e["event"] == "eval"]
    assert evaluation["split"] == "validation" and evaluation["metrics"]["val_loss"] > 0
    model = folder / "model"
    info = json.loads((model / "model.json").read_text())
    assert info["format"] == "lora-diffusion" and info["files"] == {"diffusers": DIFFUSERS_FILE, "kohya": KOHYA_FILE}

    engine = DiffusionEngine()
    engine.load(str(tiny_sd), "cpu")

    def image(**params):
        request = Request(engine="diffusion", prompt="a red potion", seed=3, params={"num_steps": 3, **params})
        return engine.generate(request, NullEvents())[0].data

    plain = image()
    ours = image(loras=[[str(model / DIFFUSERS_FILE), 1.0]])
    kohya = image(loras=[[str(model / KOHYA_FILE), 1.0]])
    assert not np.array_equal(plain, ours)  # the LoRA changes the image
    # The kohya file is the same LoRA in other names: the same image, to rounding.
    assert np.abs(ours.astype(int) - kohya.astype(int)).max() <= 2


def test_loss_falls_on_a_tiny_set_it_can_overfit(tmp_path, tiny_sd, captioned):
    folder = new_run(tmp_path, "lora-diffusion", captioned, steps=16, checkpoint_every=16, sample_every=0,
                     eval_every=2, **lora_params(tiny_sd, val_fraction=0.0, rank=8, lr=1e-2, eval_samples=6))
    assert run_in_process(folder) == "finished"
    # Evaluated with the same noise and timesteps each time, on the images it trains on.
    losses = [e["metrics"]["val_loss"] for e in events(folder) if e["event"] == "eval"]
    assert len(losses) == 8 and all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.98 * losses[0]


def test_stop_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_sd, captioned):
    params = lora_params(tiny_sd, steps=6, checkpoint_every=100, sample_every=0, eval_every=0, caption_dropout=0.3,
                         shuffle_tags=True)
    whole = new_run(tmp_path / "a", "lora-diffusion", captioned, **params)
    assert run_in_process(whole) == "finished"
    parts = new_run(tmp_path / "b", "lora-diffusion", captioned, **params)
    assert run_in_process(parts, stop_after=3) == "stopped"
    assert run_in_process(parts, resume=True) == "finished"
    a, b = final_state(whole), final_state(parts)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [[e["losses"]["loss"] for e in events(f) if e["event"] == "step"] for f in (whole, parts)]
    assert losses[0] == losses[1]


def test_bad_lora_runs_are_refused_clearly(tmp_path, tiny_sd, tiny_sdxl, captioned):
    with pytest.raises(ParamError, match="needs the base model"):
        schema.resolve("lora-diffusion", {"resolution": 64})
    with pytest.raises(ParamError, match="multiple of 64"):
        schema.resolve("lora-diffusion", {"base": str(tiny_sd), "resolution": 100})
    folder = new_run(tmp_path, "lora-diffusion", captioned, steps=1, **lora_params(tiny_sdxl))
    with pytest.raises(Exception, match="Stable Diffusion 1.x / 2.x models for now"):
        run_in_process(folder)
