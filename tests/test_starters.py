"""The starter image models shipped in resources/models/ (trained by tools/starters/): a fresh
clone with an empty Hugging Face cache and no network generates with no --model, and re-makes
identically."""
import json
import socket

import numpy as np
import pytest
from PIL import Image

from engines.image.gan import GanEngine
from engines.image.vae import VaeEngine
from studio import cli, models
from tests.hubfake import env  # noqa: F401  (fixture: empty ASSETSMITH_HOME and HF cache)

STARTERS = {"gan": (GanEngine, "generator.safetensors"), "vae": (VaeEngine, "vae.safetensors")}
MAX_BYTES = 6_000_000  # a starter stays small: the repository must stay light
SHIPPED = {"model.json", "CARD.md", "LICENSE-DATA.md"}  # plus the weights: no data, no checkpoints
NAME = "items64"  # both image starters: game-item icons (tools/starters/sprites.py)


@pytest.fixture
def offline(env, monkeypatch):  # noqa: F811
    """Every socket refuses to connect: a model looked up on the network would fail loudly."""
    def refuse(self, *args):
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return env


@pytest.mark.parametrize("engine", sorted(STARTERS))
def test_the_default_model_is_the_shipped_starter(engine):
    engine_cls, weights = STARTERS[engine]
    resolved = models.resolve(None, engine_cls)
    assert resolved.ref == engine_cls.default_model == f"starter:{engine}/{NAME}"
    assert resolved.path == models.RESOURCES / "models" / engine / NAME
    assert engine_cls.accepts(resolved.path)
    listed = [m["ref"] for m in models.list_models(engine_cls) if m["source"] == "starter"]
    assert engine_cls.default_model in listed


@pytest.mark.parametrize("engine", sorted(STARTERS))
def test_a_starter_folder_is_small_and_says_what_it_is(engine):
    _, weights = STARTERS[engine]
    folder = models.RESOURCES / "models" / engine / NAME
    files = {p.name: p for p in folder.iterdir()}
    assert set(files) == SHIPPED | {weights}
    assert sum(p.stat().st_size for p in files.values()) < MAX_BYTES
    card, licence = files["CARD.md"].read_text(), files["LICENSE-DATA.md"].read_text()
    assert "Training time" in card and "FID" in card and "KID" in card and f"tools/starters/{engine}_icons.py" in card
    if engine == "vae":
        assert "SSIM" in card and "PSNR" in card
    assert "CC0" in licence and "tools/starters/sprites.py" in licence
    trained = json.loads(files["model.json"].read_text())["trained"]
    assert trained["metrics"]["feature_net"] == "assetsmith-randconv-v1" and trained["steps"] > 0


@pytest.mark.parametrize("engine", sorted(STARTERS))
def test_generate_with_no_model_then_remake_identically(engine, offline, tmp_path, capsys, restore_threads):
    engine_cls, _ = STARTERS[engine]
    project = tmp_path / "P"
    assert cli.main(["generate", "--engine", engine, "--seed", "5", "--count", "4", "--project", str(project)]) == 0
    generation = json.loads(capsys.readouterr().out)
    recipe = generation["recipe"]
    assert generation["status"] == "finished" and len(generation["outputs"]) == 4
    assert recipe["model"] == f"starter:{engine}/{NAME}"  # the portable form, not this clone's path
    assert recipe["model_hash"] == models.content_hash(models.RESOURCES / "models" / engine / NAME)
    images = [np.asarray(Image.open(path)) for path in generation["outputs"]]
    assert all(image.shape == (64, 64, 4) for image in images)
    assert len({image.tobytes() for image in images}) == 4  # four seeds, four different icons
    # Trained on icons with transparent backgrounds: the corners are see-through, the middle is not
    # (random weights would give alpha near one half everywhere).
    alpha = np.stack([image[..., 3] for image in images]).astype(float) / 255
    assert alpha[:, :6, :6].mean() < 0.2 and alpha[:, 24:40, 24:40].mean() > 0.6

    assert cli.main(["remake", str(generation["generation_id"]), "--project", str(project)]) == 0
    remade = json.loads(capsys.readouterr().out)
    assert remade["identical"] is True and remade["recipe"]["model"] == recipe["model"]
