"""Single-file checkpoints, SDXL, TAESD previews and the memory plan of the diffusion engine,
on tiny pipelines built from configs."""
import numpy as np
import pytest
import torch

from engines.api import EngineError, NullEvents, ParamError, Request
from engines.image import checkpoints, ldm_layout, memory
from engines.image.diffusion import DiffusionEngine
from engines.tiny_models import build_tiny_taesd, cache_as_hub_repo

GiB = 1 << 30


class Previews(NullEvents):
    def __init__(self):
        self.previews = []

    def preview(self, partial):
        self.previews.append(partial)


pytestmark = pytest.mark.usefixtures("pinned_threads")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache of this test's own."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def write_single_file(folder, path):
    """What people download: the whole pipeline as one original-layout .safetensors file."""
    from diffusers import DiffusionPipeline

    return ldm_layout.save_single_file(DiffusionPipeline.from_pretrained(folder), path)


@pytest.fixture(scope="module")
def sd_file(tiny_sd, tmp_path_factory):
    return write_single_file(tiny_sd, tmp_path_factory.mktemp("ckpt") / "tiny-sd.safetensors")


def engine_for(model):
    engine = DiffusionEngine()
    engine.load(str(model), "cpu")
    return engine


def make(engine, seed=7, events=None, **params):
    params.setdefault("num_steps", 3)
    return engine.generate(Request(engine="diffusion", prompt="a red potion", seed=seed, params=params),
                           events or NullEvents())


def test_a_single_file_checkpoint_equals_its_diffusers_folder(tiny_sd, sd_file):
    assert checkpoints.detect_family(sd_file) == "sd1"
    assert DiffusionEngine.accepts(sd_file) and DiffusionEngine.accepts(tiny_sd)
    folder_engine, file_engine = engine_for(tiny_sd), engine_for(sd_file)
    (ours,) = make(file_engine, base_model=str(tiny_sd))
    (theirs,) = make(folder_engine)
    assert np.array_equal(ours.data, theirs.data)
    assert ours.recipe["params"]["base_model"] == str(tiny_sd.resolve())
    assert ours.recipe["runtime"]["checkpoint_family"] == "Stable Diffusion 1.x"
    # The recipe re-makes the same image, and the pipeline is not rebuilt for the same base.
    pipe = file_engine.pipe
    (again,) = make(file_engine, **ours.recipe["params"])
    assert np.array_equal(again.data, ours.data) and file_engine.pipe is pipe


def test_configs_come_from_the_base_model_in_the_hub_cache(tiny_sd, sd_file, hub_cache):
    engine = engine_for(sd_file)
    with pytest.raises(EngineError, match=r"configs of stable-diffusion-v1-5/stable-diffusion-v1-5.*hf download"):
        make(engine)
    # Only the configs and tokenizer files are needed, as `hf download --include` gets them.
    cache_as_hub_repo(tiny_sd, "stable-diffusion-v1-5/stable-diffusion-v1-5", hub_cache, checkpoints.CONFIG_FILES)
    (out,) = make(engine)
    assert out.recipe["params"]["base_model"] == "SD 1.5"
    (reference,) = make(engine_for(tiny_sd))
    assert np.array_equal(out.data, reference.data)


def test_base_model_must_fit_the_family(tiny_sd, tiny_sdxl, sd_file):
    engine = engine_for(sd_file)
    with pytest.raises(EngineError, match=r"'SDXL' does not fit a Stable Diffusion 1.x checkpoint.*SD 1.5"):
        make(engine, base_model="SDXL")
    with pytest.raises(EngineError, match=r"StableDiffusionXLPipeline, which does not fit"):
        make(engine, base_model=str(tiny_sdxl))
    with pytest.raises(EngineError, match=r"neither one of SD 1.5.*nor a diffusers model folder"):
        make(engine, base_model="/no/such/folder")
    with pytest.raises(ParamError, match="base_model applies to single-file checkpoints"):
        make(engine_for(tiny_sd), base_model="SD 1.5")


def test_files_that_are_not_checkpoints_are_refused_clearly(tmp_path, sd_file):
    from safetensors.torch import save_file

    pickle = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}}, pickle)
    with pytest.raises(EngineError, match=r"pickle file.*assetsmith models convert"):
        engine_for(pickle)
    lora = tmp_path / "style.safetensors"
    save_file({"lora_unet_down_blocks_0.lora_down.weight": torch.zeros(1)}, lora)
    with pytest.raises(EngineError, match="is a LoRA, not a whole model"):
        engine_for(lora)
    assert not DiffusionEngine.accepts(lora)
    other = tmp_path / "classifier.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(EngineError, match="not a Stable Diffusion checkpoint"):
        engine_for(other)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(sd_file.read_bytes()[:1000])
    with pytest.raises(EngineError, match="not a readable .safetensors file"):
        engine_for(broken)
    with pytest.raises(EngineError, match="does not exist"):
        engine_for(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("keys, message", [
    ({"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3], "cond_stage_model.transformer.x": [1]},
     "inpainting or instruct model"),
    ({"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3], "conditioner.embedders.0.model.x": [1]},
     "SDXL refiner"),
    ({"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3]}, "no text encoder"),
])
def test_family_detection_says_what_a_file_is_instead(keys, message):
    with pytest.raises(EngineError, match=message):
        checkpoints.family_of(keys)
    keys = {"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3]}
    assert checkpoints.family_of({**keys, "cond_stage_model.model.ln_final.weight": [1024]}) == "sd2"
    assert checkpoints.family_of({**keys, "conditioner.embedders.1.model.ln_final.weight": [1280]}) == "sdxl"


def test_sdxl_equals_the_bare_pipeline_and_loads_from_one_file(tiny_sdxl, tmp_path):
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(tiny_sdxl)
    pipe.set_progress_bar_config(disable=True)
    engine = engine_for(tiny_sdxl)
    (ours,) = make(engine, num_steps=4, scheduler="Euler a")
    assert ours.recipe["runtime"]["pipeline"] == "StableDiffusionXLPipeline"
    from diffusers import EulerAncestralDiscreteScheduler

    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    bare = pipe("a red potion", num_inference_steps=4, generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(ours.data, np.asarray(bare))
    single = write_single_file(tiny_sdxl, tmp_path / "tiny-sdxl.safetensors")
    assert checkpoints.detect_family(single) == "sdxl"
    (from_file,) = make(engine_for(single), num_steps=4, scheduler="Euler a", base_model=str(tiny_sdxl))
    assert np.array_equal(from_file.data, ours.data)
    assert from_file.recipe["runtime"]["checkpoint_family"] == "SDXL"


def test_taesd_previews_when_cached_and_the_result_is_unchanged(tiny_sd, hub_cache, tmp_path):
    engine = engine_for(tiny_sd)
    plain = Previews()
    (reference,) = make(engine, events=plain, preview_every=1)
    assert plain.previews[0].shape == (32, 32, 3)  # the linear map: latent resolution
    cache_as_hub_repo(build_tiny_taesd(tmp_path / "taesd"), "madebyollin/taesd", hub_cache)
    engine = engine_for(tiny_sd)
    sharp = Previews()
    (out,) = make(engine, events=sharp, preview_every=1)
    assert len(sharp.previews) == len(plain.previews) and sharp.previews[0].shape == (64, 64, 3)  # TAESD: full size
    assert sharp.previews[0].dtype == np.uint8 and sharp.previews[0].std() > 0
    assert np.array_equal(out.data, reference.data)


def test_vae_tiling_and_offload_choices_on_the_cpu(tiny_sd):
    engine = engine_for(tiny_sd)
    (out,) = make(engine, vae_tiling="on", width=128, height=128)
    assert out.recipe["params"]["vae_tiling"] == "on" and out.recipe["runtime"]["vae_tiling"] is True
    assert engine.pipe.vae.use_tiling
    (plain,) = make(engine, width=128, height=128)
    assert "vae_tiling" not in plain.recipe["params"] and plain.recipe["runtime"]["vae_tiling"] is False
    assert not engine.pipe.vae.use_tiling and plain.recipe["runtime"]["offload"] == "none"
    with pytest.raises(ParamError, match="offload applies on a CUDA GPU"):
        make(engine, offload="model")


def test_running_out_of_gpu_memory_says_what_to_try_next(tiny_sd, monkeypatch):
    engine = engine_for(tiny_sd)

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.pipe.unet, "forward", out_of_memory)  # where it happens: in the UNet
    with pytest.raises(EngineError, match=r"ran out of memory making a 64x64 image.*set offload to 'model'"):
        make(engine)


def test_memory_plan_picks_the_least_offload_that_fits():
    weights, unet = 5 * GiB, 3 * GiB  # SDXL in half precision
    assert memory.plan_memory(24 * GiB, weights, unet, 1024, 1024) == memory.Plan("none", False)
    # A 1024x1024 decode (~3 GB) is over a quarter of 6 GiB: it is tiled, and still only the
    # UNet fits at a time.
    assert memory.plan_memory(6 * GiB, weights, unet, 1024, 1024) == memory.Plan("model", True)
    assert memory.plan_memory(14 * GiB, 10 * GiB, 6 * GiB, 1024, 1024) == memory.Plan("model", False)
    assert memory.plan_memory(3 * GiB, weights, unet, 1024, 1024) == memory.Plan("sequential", True)
    assert memory.plan_memory(24 * GiB, weights, unet, 4096, 4096).vae_tiling  # a 16-megapixel decode
    # The user's choices win over the estimate.
    assert memory.plan_memory(3 * GiB, weights, unet, 1024, 1024, offload="none", vae_tiling="off") == memory.Plan()
    assert memory.pick_dtype("cpu") == "float32"
    assert memory.pick_dtype("cuda", bf16_supported=True) == "bfloat16"
    assert memory.pick_dtype("cuda") == memory.pick_dtype("mps") == "float16"


def test_after_running_out_of_memory_each_suggestion_is_smaller():
    steps = [memory.next_smaller(memory.Plan(offload, tiled), 1024, 1024)
             for offload, tiled in (("none", False), ("model", False), ("sequential", False), ("sequential", True))]
    assert "'model'" in steps[0] and "'sequential'" in steps[1] and "vae_tiling" in steps[2]
    assert "768x768" in steps[3]
    assert "close other programs" in memory.next_smaller(memory.Plan("sequential", True), 64, 64)
