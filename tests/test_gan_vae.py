"""The gan and vae engines on tiny real models, against their torch modules called directly."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from engines.api import EngineError, NullEvents, ParamError, Request
from engines.image import gan, vae
from engines.image.gan import GanEngine
from engines.image.vae import VaeEngine
from engines.tiny_models import build_tiny_gan, build_tiny_vae


pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.fixture(scope="module")
def gan_model(tmp_path_factory):
    return build_tiny_gan(tmp_path_factory.mktemp("models") / "tiny-gan")


@pytest.fixture(scope="module")
def rgba_gan_model(tmp_path_factory):
    return build_tiny_gan(tmp_path_factory.mktemp("models") / "tiny-gan-rgba", resolution=64, channels=4)


@pytest.fixture(scope="module")
def resize_gan_model(tmp_path_factory):
    return build_tiny_gan(tmp_path_factory.mktemp("models") / "tiny-gan-resize", upsample="resize")


@pytest.fixture(scope="module")
def vae_model(tmp_path_factory):
    return build_tiny_vae(tmp_path_factory.mktemp("models") / "tiny-vae")


def loaded(cls, path):
    engine = cls()
    engine.load(str(path), "cpu")
    return engine


def make(engine, seed=5, count=1, **params):
    return engine.generate(Request(engine=engine.name, seed=seed, count=count, params=params), NullEvents())


@pytest.mark.parametrize("folder", ["gan_model", "resize_gan_model"])
def test_gan_images_equal_the_generator_module_called_directly(request, folder):
    gan_model = request.getfixturevalue(folder)
    outputs = make(loaded(GanEngine, gan_model), seed=11, count=3)
    generator = gan.build_generator(gan.GanConfig.from_dict(json.loads((gan_model / "model.json").read_text())["config"]))
    generator.load_state_dict(load_file(gan_model / gan.WEIGHTS))
    generator.eval()
    for i, out in enumerate(outputs):
        z = torch.randn(1, 16, 1, 1, generator=torch.Generator("cpu").manual_seed(11 + i))
        with torch.no_grad():
            direct = ((generator(z).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
        assert out.seed == 11 + i and out.recipe["seed"] == 11 + i and out.recipe["count"] == 1
        assert np.array_equal(out.data, direct)
        assert out.data.shape == (32, 32, 3) and out.data.dtype == np.uint8
    assert not np.array_equal(outputs[0].data, outputs[1].data)
    assert outputs[0].recipe["params"] == {"truncation": 1.0}


def test_resize_upsampling_doubles_without_transposed_convolutions():
    # Only the first layer (1x1 noise to 4x4) stays transposed: it has no overlapping strides.
    generator = gan.build_generator(gan.GanConfig(resolution=64, latent_dim=8, g_width=4, upsample="resize"))
    transposed = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(transposed) == 1 and transposed[0].stride == (1, 1)
    assert sum(isinstance(m, torch.nn.Upsample) for m in generator.modules()) == 4
    assert generator(torch.zeros(2, 8, 1, 1)).shape == (2, 3, 64, 64)
    with pytest.raises(ParamError, match="upsample must be 'transposed' or 'resize'"):
        gan.GanConfig(upsample="bilinear")


def test_gan_rgba_at_64(rgba_gan_model):
    (out,) = make(loaded(GanEngine, rgba_gan_model))
    assert out.data.shape == (64, 64, 4) and out.width == 64


def test_truncation_variation_and_interpolation(gan_model):
    engine = loaded(GanEngine, gan_model)
    a, b = make(engine, seed=1, truncation=0.0)[0], make(engine, seed=2, truncation=0.0)[0]
    assert np.array_equal(a.data, b.data)  # truncation 0: every seed gives the average image
    plain = make(engine, seed=1)[0].data
    same = make(engine, seed=1, variation_seed=9, variation_strength=0.0)[0].data
    near = make(engine, seed=1, variation_seed=9, variation_strength=0.1)[0].data
    far = make(engine, seed=9)[0].data
    assert np.array_equal(plain, same)
    assert 0 < np.abs(near.astype(int) - plain).mean() < np.abs(far.astype(int) - plain).mean()
    (strip,) = make(engine, seed=1, interpolate_to=9, frames=5)
    assert strip.data.shape == (32, 32 * 5, 3) and strip.recipe["params"]["frames"] == 5
    assert np.abs(strip.data[:, :32].astype(int) - plain).max() <= 1
    assert np.abs(strip.data[:, -32:].astype(int) - far).max() <= 1
    with pytest.raises(ParamError, match="go together"):
        make(engine, variation_seed=3)
    with pytest.raises(ParamError, match="interpolate_to"):
        make(engine, frames=4)
    with pytest.raises(ParamError, match="no prompt"):
        engine.generate(Request(engine="gan", prompt="a cat", seed=1), NullEvents())


def test_vae_samples_and_reconstruction(vae_model, tmp_path):
    engine = loaded(VaeEngine, vae_model)
    (out,) = make(engine, seed=3)
    model = vae.build_vae(engine.config)
    model.load_state_dict(load_file(vae_model / vae.WEIGHTS))
    z = torch.randn(1, 8, generator=torch.Generator("cpu").manual_seed(3))
    with torch.no_grad():
        direct = gan.to_uint8(vae.decode(model, z))[0]
    assert np.array_equal(out.data, direct)

    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 40, 3), dtype=np.uint8))
    picture.save(tmp_path / "in.png")
    first = make(engine, seed=1, init_image=str(tmp_path / "in.png"))[0]
    second = make(engine, seed=2, init_image=str(tmp_path / "in.png"))[0]
    assert first.data.shape == (32, 32, 3)
    assert np.array_equal(first.data, second.data)  # the posterior mean: no randomness
    varied = make(engine, seed=1, init_image=str(tmp_path / "in.png"), variation_seed=4, variation_strength=0.5)[0]
    assert not np.array_equal(first.data, varied.data)
    with pytest.raises(ParamError, match="does not exist"):
        make(engine, init_image=str(tmp_path / "missing.png"))


def test_bad_model_folders_say_what_is_wrong(tmp_path, gan_model, vae_model):
    with pytest.raises(EngineError, match="does not exist"):
        loaded(GanEngine, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineError, match="no model.json"):
        loaded(GanEngine, tmp_path / "empty")
    with pytest.raises(EngineError, match="not a assetsmith-gan"):
        loaded(GanEngine, vae_model)
    wrong = build_tiny_gan(tmp_path / "wrong")
    info = json.loads((wrong / "model.json").read_text())
    info["config"]["g_width"] = 16
    (wrong / "model.json").write_text(json.dumps(info))
    with pytest.raises(EngineError, match="does not fit"):
        loaded(GanEngine, wrong)
    (wrong / gan.WEIGHTS).write_bytes(b"\0" * 10)
    with pytest.raises(EngineError, match="damaged"):
        loaded(GanEngine, wrong)
    assert GanEngine.accepts(gan_model) and not GanEngine.accepts(vae_model)
    assert VaeEngine.accepts(vae_model) and not VaeEngine.accepts(tmp_path / "empty")


def test_project_models_are_listed_generated_and_remade_identically(tmp_path, gan_model, capsys):
    import shutil

    from studio import cli, models

    project = tmp_path / "p.assetsmith"
    shutil.copytree(gan_model, project / "models" / "sprites")
    listed = models.list_models(GanEngine, project)
    (sprites,) = [m for m in listed if m["ref"] == "project:sprites"]
    assert sprites["path"] == str(project / "models" / "sprites") and sprites["source"] == "project"
    assert not [m for m in models.list_models(VaeEngine, project) if m["source"] == "project"]
    assert cli.main(["generate", "--engine", "gan", "--model", "project:sprites", "--seed", "4", "--count", "2",
                     "--threads", "2", "--project", str(project)]) == 0
    generation = json.loads(capsys.readouterr().out)
    assert generation["recipe"]["model"] == "project:sprites" and generation["recipe"]["model_hash"]
    assert cli.main(["remake", str(generation["generation_id"]), "--project", str(project)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True
