"""The diffusion engine against the bare diffusers pipeline, on a tiny real model."""
import numpy as np
import pytest
import torch

from engines.api import Cancelled, EngineError, NullEvents, ParamError, Request
from engines.image.diffusion import SCHEDULERS, DiffusionEngine, scheduler_name


class Events(NullEvents):
    """Records what the engine reports; once progress reaches `cancel_at`, stays cancelled
    (as a job's cancel flag does)."""

    def __init__(self, cancel_at=None):
        self.steps, self.outputs, self.cancel_at, self.cancel = [], [], cancel_at, False

    def progress(self, step, total):
        self.steps.append((step, total))
        self.cancel = self.cancel or (step, total) == self.cancel_at

    def cancelled(self):
        return self.cancel

    def output(self, output):
        self.outputs.append(output)


pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.fixture(scope="module")
def engine(tiny_sd):
    e = DiffusionEngine()
    e.load(str(tiny_sd), "cpu")
    yield e
    e.unload()


def make(engine, count=1, seed=7, **params):
    params.setdefault("num_steps", 3)
    return engine.generate(Request(engine="diffusion", prompt="a red potion", negative_prompt=params.pop("neg", ""),
                                   seed=seed, count=count, params=params), Events())


def test_no_params_equals_bare_pipeline_call(engine, tiny_sd):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    pipe.set_progress_bar_config(disable=True)
    (ours,) = make(engine, num_steps=4)
    bare = pipe("a red potion", num_inference_steps=4, generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(ours.data, np.asarray(bare))
    (ours,) = make(engine, num_steps=4, neg="blurry", guidance_scale=5.0)
    bare = pipe("a red potion", negative_prompt="blurry", num_inference_steps=4, guidance_scale=5.0,
                generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(ours.data, np.asarray(bare))
    assert ours.recipe["params"] == {"num_steps": 4, "guidance_scale": 5.0, "width": 64, "height": 64,
                                     "scheduler": "PLMS"}
    runtime = ours.recipe["runtime"]
    assert runtime["device"] == "cpu" and runtime["dtype"] == "float32"
    assert runtime["pipeline"] == "StableDiffusionPipeline" and runtime["scheduler"] == "PNDMScheduler"
    assert ours.mime == "image/png" and (ours.width, ours.height) == (64, 64) and ours.data.dtype == np.uint8
    # The recipe alone re-makes the output: every default it relied on is written in it.
    (again,) = engine.generate(Request.from_dict(ours.recipe), Events())
    assert np.array_equal(again.data, ours.data)


def test_batch_output_i_equals_a_single_run_with_seed_plus_i(engine):
    batch = make(engine, count=3, seed=7)
    assert [o.seed for o in batch] == [7, 8, 9] and [o.recipe["seed"] for o in batch] == [7, 8, 9]
    assert all(o.recipe["count"] == 1 for o in batch)
    for i, out in enumerate(batch):
        (single,) = make(engine, seed=7 + i)
        assert np.array_equal(out.data, single.data)
    assert not np.array_equal(batch[0].data, batch[1].data)


def test_cancel_stops_at_the_next_step_and_keeps_finished_outputs(engine):
    events = Events(cancel_at=(3 + 2, 9))  # PLMS runs num_steps + 1 timesteps: step 2 of the second output
    decodes = []
    hook = engine.pipe.vae.decoder.register_forward_hook(lambda *_: decodes.append(1))
    try:
        with pytest.raises(Cancelled):
            engine.generate(Request(engine="diffusion", prompt="x", seed=1, count=3, params={"num_steps": 2}), events)
    finally:
        hook.remove()
    assert len(events.outputs) == 1 and events.outputs[0].seed == 1
    assert events.steps[-1] == (5, 9)
    assert len(decodes) == 1  # the cancelled output stopped before its VAE decode


def test_progress_is_monotonic_and_complete(engine):
    events = Events()
    engine.generate(Request(engine="diffusion", prompt="x", seed=1, count=2,
                            params={"num_steps": 3, "scheduler": "Euler"}), events)
    assert events.steps == [(i, 6) for i in range(1, 7)]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_runs_and_is_recorded(engine, name):
    (out,) = make(engine, num_steps=2, scheduler=name)
    assert out.recipe["params"]["scheduler"] == name
    assert out.recipe["runtime"]["scheduler"] == SCHEDULERS[name][0]
    assert out.data.shape == (64, 64, 3) and out.data.std() > 0
    assert scheduler_name(dict(engine._scheduler(name).config)) == name  # the name round-trips


def test_a_model_scheduler_without_an_a1111_name_is_left_out_and_remade(tiny_sd, tmp_path):
    import json
    import shutil

    folder = shutil.copytree(tiny_sd, tmp_path / "deis")
    index = json.loads((folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "DEISMultistepScheduler"]  # the class diffusers loads
    (folder / "model_index.json").write_text(json.dumps(index))
    engine = DiffusionEngine()
    engine.load(str(folder), "cpu")
    (out,) = make(engine, num_steps=2)
    assert "scheduler" not in out.recipe["params"]  # "the model's own", not a name no form can offer
    assert out.recipe["runtime"]["scheduler"] == "DEISMultistepScheduler"
    (again,) = engine.generate(Request.from_dict(out.recipe), Events())
    assert np.array_equal(again.data, out.data)
    assert scheduler_name({"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "dpmsolver"}) is None


def test_bad_params(engine):
    with pytest.raises(ParamError, match="width must be a multiple of 8, got 100"):
        make(engine, width=100)  # never rounded to 96 or 104
    with pytest.raises(ParamError, match="width must be at least 64, got 60"):
        make(engine, width=60)
    with pytest.raises(ParamError, match="height must be at least 64"):
        make(engine, height=32)
    with pytest.raises(ParamError, match="unknown parameter 'strenght'"):
        make(engine, strenght=0.5)


def test_load_errors_are_clear(tmp_path, tiny_sd):
    import shutil

    def error(folder):
        with pytest.raises(EngineError) as info:
            DiffusionEngine().load(str(folder), "cpu")
        return str(info.value)

    assert "does not exist" in error(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert "not a diffusers pipeline folder" in error(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    assert "is a FluxPipeline" in error(tmp_path / "other")

    pickled = shutil.copytree(tiny_sd, tmp_path / "pickled")
    unet = pickled / "unet" / "diffusion_pytorch_model.safetensors"
    unet.rename(unet.with_suffix(".bin"))
    assert error(pickled) == ("pickled/unet has only pickle weights (diffusion_pytorch_model.bin), which can run "
                              "code when loaded: convert the model to .safetensors first")

    incomplete = shutil.copytree(tiny_sd, tmp_path / "incomplete")
    shutil.rmtree(incomplete / "vae")
    assert "its vae/ folder is missing" in error(incomplete)

    damaged = shutil.copytree(tiny_sd, tmp_path / "damaged")
    weights = damaged / "text_encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:3000])
    message = error(damaged)
    assert message.startswith(f"could not load the model in {damaged}: ") and "damaged or truncated" in message
    assert "\n" not in message


# -- img2img and inpainting ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("pictures")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "init.png")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(folder / "mask.png")
    Image.new("L", (32, 32), 255).save(folder / "small_mask.png")
    Image.new("RGB", (60, 64)).save(folder / "odd.png")
    (folder / "not_an_image.png").write_text("hello")
    return folder


def test_img2img_and_inpaint_equal_bare_pipelines(engine, tiny_sd, pictures):
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline
    from PIL import Image

    init, mask = Image.open(pictures / "init.png").convert("RGB"), Image.open(pictures / "mask.png").convert("L")
    (ours,) = make(engine, num_steps=6, init_image=str(pictures / "init.png"), strength=0.6)
    bare = StableDiffusionImg2ImgPipeline.from_pretrained(tiny_sd)(
        "a red potion", image=init, strength=0.6, num_inference_steps=6,
        generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(ours.data, np.asarray(bare))
    assert ours.recipe["runtime"]["pipeline"] == "StableDiffusionImg2ImgPipeline"
    (ours,) = make(engine, num_steps=6, init_image=str(pictures / "init.png"), mask_image=str(pictures / "mask.png"))
    bare = StableDiffusionInpaintPipeline.from_pretrained(tiny_sd)(
        "a red potion", image=init, mask_image=mask, num_inference_steps=6,
        generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(ours.data, np.asarray(bare))
    assert ours.recipe["params"]["strength"] == 1.0  # diffusers' inpainting default, recorded


@pytest.mark.parametrize("params, message", [
    ({"strength": 1.5, "init_image": "init.png"}, "strength must be at most 1"),
    ({"strength": 0.5}, "give an init_image too"),
    ({"mask_image": "mask.png"}, "needs an init_image"),
    ({"init_image": "init.png", "mask_image": "small_mask.png"}, "mask_image is 32x32 but init_image is 64x64"),
    ({"init_image": "missing.png"}, "does not exist"),
    ({"init_image": "not_an_image.png"}, "not a readable image"),
    ({"init_image": "odd.png"}, "multiples of 8"),
    ({"init_image": "init.png", "width": 128}, "keeps the init image's size"),
])
def test_img2img_bad_inputs(engine, pictures, params, message):
    params = {k: str(pictures / v) if k.endswith("_image") else v for k, v in params.items()}
    with pytest.raises(ParamError, match=message):
        make(engine, **params)


# -- variations and previews --------------------------------------------------------------

def test_variation_seed_mixes_noise_like_a1111(engine):
    (plain,) = make(engine, num_steps=4)
    (zero,) = make(engine, num_steps=4, variation_seed=99, variation_strength=0.0)
    (slight,) = make(engine, num_steps=4, variation_seed=99, variation_strength=0.1)
    (full,) = make(engine, num_steps=4, variation_seed=99, variation_strength=1.0)
    (other,) = make(engine, num_steps=4, seed=99)
    assert np.array_equal(zero.data, plain.data)  # strength 0 is the seed itself, bit for bit
    assert np.array_equal(full.data, other.data)  # strength 1 is the variation seed
    near = np.abs(slight.data.astype(int) - plain.data).mean()
    far = np.abs(other.data.astype(int) - plain.data).mean()
    assert 0 < near < far / 3
    (again,) = make(engine, num_steps=4, variation_seed=99, variation_strength=0.1)
    assert np.array_equal(again.data, slight.data)
    assert slight.recipe["params"]["variation_seed"] == 99
    with pytest.raises(ParamError, match="go together"):
        make(engine, variation_seed=99)


def test_previews_every_n_steps_do_not_change_the_result(engine):
    class Previews(Events):
        def __init__(self):
            super().__init__()
            self.previews = []

        def preview(self, partial):
            self.previews.append(partial)

    events = Previews()
    (with_previews,) = engine.generate(Request(engine="diffusion", prompt="a red potion", seed=7,
                                               params={"num_steps": 4, "scheduler": "Euler", "preview_every": 2}),
                                      events)
    (without,) = make(engine, num_steps=4, scheduler="Euler")
    assert len(events.previews) == 2
    assert events.previews[0].shape == (32, 32, 3) and events.previews[0].dtype == np.uint8
    assert np.array_equal(with_previews.data, without.data)


# -- seamless tiling ----------------------------------------------------------------------

def test_tiling_makes_the_model_wrap_around(engine):
    from engines.image.tiling import tiled

    pipe = engine.pipe
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    text = torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        def unet(x):
            return pipe.unet(x, 10, encoder_hidden_states=text).sample

        with tiled((pipe.unet, pipe.vae), "xy"):
            # With circular padding, shifting the input around the edge shifts the output alike.
            shifted = pipe.vae.decode(torch.roll(z, 2, dims=3)).sample
            assert torch.allclose(shifted, torch.roll(pipe.vae.decode(z).sample, 4, dims=3), atol=1e-4)
            assert torch.allclose(unet(torch.roll(z, 2, dims=2)), torch.roll(unet(z), 2, dims=2), atol=1e-4)
        plain = pipe.vae.decode(torch.roll(z, 2, dims=3)).sample
        assert not torch.allclose(plain, torch.roll(pipe.vae.decode(z).sample, 4, dims=3), atol=1e-2)
    assert not any("_conv_forward" in vars(m) for m in pipe.unet.modules())  # restored afterwards


def test_tiled_generation_is_recorded_and_repeatable(engine):
    (a,) = make(engine, num_steps=3, tiling="x")
    (b,) = make(engine, num_steps=3, tiling="x")
    (plain,) = make(engine, num_steps=3)
    assert a.recipe["params"]["tiling"] == "x" and "tiling" not in plain.recipe["params"]
    assert np.array_equal(a.data, b.data) and not np.array_equal(a.data, plain.data)
    from engines.image.tiling import seam_score

    # Random weights make noise-like images, where a seam score cannot tell much; the wrap
    # itself is proven by the shift test above. This guards against a gross seam.
    assert seam_score(a.data, "x") < 1.5


def test_seam_score_tells_a_seam_from_a_wrap():
    from engines.image.tiling import seam_score

    x = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    wrapping = np.tile(((np.sin(x) + 1) * 127)[None, :, None], (16, 1, 3)).astype(np.uint8)
    ramp = np.tile(np.linspace(0, 255, 64)[None, :, None], (16, 1, 3)).astype(np.uint8)
    assert seam_score(wrapping, "x") <= 1.1
    assert seam_score(ramp, "x") > 10
    assert seam_score(wrapping.transpose(1, 0, 2), "y") <= 1.1


# -- LoRA -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loras(tiny_sd, tmp_path_factory):
    from engines.tiny_models import build_tiny_loras

    return build_tiny_loras(tiny_sd, tmp_path_factory.mktemp("loras"))


def test_lora_in_both_layouts_equals_the_bare_pipeline(engine, tiny_sd, loras):
    from diffusers import StableDiffusionPipeline

    peft, kohya = loras
    (plain,) = make(engine, num_steps=4)
    (with_peft,) = make(engine, num_steps=4, loras=[[str(peft), 0.8]])
    (with_kohya,) = make(engine, num_steps=4, loras=[[str(kohya), 0.8]])
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    pipe.load_lora_weights(str(peft), adapter_name="x")
    pipe.set_adapters(["x"], adapter_weights=[0.8])
    bare = pipe("a red potion", num_inference_steps=4, generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(with_peft.data, np.asarray(bare))
    assert np.array_equal(with_kohya.data, with_peft.data)
    assert not np.array_equal(with_peft.data, plain.data)
    assert with_peft.recipe["params"]["loras"] == [[str(peft), 0.8]]
    (after,) = make(engine, num_steps=4)
    assert np.array_equal(after.data, plain.data)  # unloaded again after the generation


def test_bad_lora_files(engine, tmp_path):
    with pytest.raises(ParamError, match="does not exist"):
        make(engine, loras=[[str(tmp_path / "none.safetensors"), 1.0]])
    (tmp_path / "style.ckpt").write_bytes(b"x")
    with pytest.raises(ParamError, match="pickle"):
        make(engine, loras=[[str(tmp_path / "style.ckpt"), 1.0]])
    from safetensors.torch import save_file

    save_file({"something.else": torch.zeros(2)}, tmp_path / "odd.safetensors")
    with pytest.raises(EngineError, match="does not fit this model"):
        make(engine, num_steps=1, loras=[[str(tmp_path / "odd.safetensors"), 1.0]])


def test_warm_up_imports_what_the_first_generation_imports(tiny_sd):
    # The window warms up off its own thread; what the first generation still imported held
    # Python's lock on the job thread while the window waited. In a fresh interpreter: this
    # session has imported everything already.
    script = f"""
import sys
from engines.api import NullEvents, Request
from engines.image.diffusion import DiffusionEngine
DiffusionEngine.warm_up()
before = set(sys.modules)
engine = DiffusionEngine()
engine.load({str(tiny_sd)!r}, "cpu")
engine.generate(Request(engine="diffusion", prompt="a red potion", seed=1, params={{"num_steps": 2}}), NullEvents())
print(sorted(m for m in set(sys.modules) - before if m.startswith(("diffusers", "transformers", "torch"))))
"""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
