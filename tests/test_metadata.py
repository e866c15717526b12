"""Recipes embedded in output files, and AUTOMATIC1111's infotext both ways."""
import json

import numpy as np
import pytest
import soundfile
from PIL import Image, PngImagePlugin

from engines.api import Output
from studio.metadata import (
    MetadataError,
    a1111_parameters,
    content_hash,
    encode,
    parse_a1111,
    read_recipe,
)

RECIPE = {
    "engine": "diffusion", "model": "/models/sd15", "model_hash": "0123456789abcdef" * 4, "model_name": "sd15",
    "prompt": "a red potion", "negative_prompt": "blurry", "seed": 1234, "count": 1,
    "params": {"num_steps": 20, "guidance_scale": 7.0, "width": 512, "height": 512, "scheduler": "Euler a"},
    "runtime": {"device": "cpu", "dtype": "float32", "threads": 2,
                "versions": {"torch": "2.13.0+cpu", "diffusers": "0.42.1", "assetsmith": "0.1.0"}, "time_s": 1.23},
    "parent_id": None,
}


def test_a1111_infotext_is_exact():
    assert a1111_parameters(RECIPE) == (
        "a red potion\n"
        "Negative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 0123456789, "
        "Model: sd15, Version: assetsmith 0.1.0"
    )


def test_a1111_infotext_extras_order_and_quoting():
    params = {k: v for k, v in RECIPE["params"].items() if k != "scheduler"}  # no sampler: left out
    recipe = {
        **RECIPE, "prompt": "knight, pixel art", "negative_prompt": "", "model_name": "sd15, pruned",
        "params": {**params, "guidance_scale": 7.5, "strength": 0.6, "variation_seed": 42,
                   "variation_strength": 0.25, "tiling": "xy", "loras": [["/loras/pixel:art.safetensors", 0.8]]},
        "lora_hashes": ["abcdef0123456789" * 4],
    }
    assert a1111_parameters(recipe) == (
        "knight, pixel art\n"
        'Steps: 20, CFG scale: 7.5, Seed: 1234, Size: 512x512, Model hash: 0123456789, Model: "sd15, pruned", '
        "Variation seed: 42, Variation seed strength: 0.25, Denoising strength: 0.6, Tiling: True, "
        'Lora hashes: "pixelart: abcdef012345", Version: assetsmith 0.1.0'
    )
    # A variation seed with strength 0 changes nothing, so A1111 writes neither; missing keys are fine.
    zero = {"engine": "gan", "seed": 5, "params": {"variation_seed": 9, "variation_strength": 0.0}}
    assert a1111_parameters(zero) == "Seed: 5"
    parsed = parse_a1111(a1111_parameters(recipe))
    assert parsed["prompt"] == "knight, pixel art" and parsed["negative_prompt"] == ""
    assert parsed["model_name"] == "sd15, pruned"
    assert parsed["params"] == {"num_steps": 20, "guidance_scale": 7.5, "width": 512, "height": 512,
                                "strength": 0.6, "variation_seed": 42, "variation_strength": 0.25, "tiling": "xy"}
    assert parsed["a1111_extra"] == {"Lora hashes": "pixelart: abcdef012345", "Version": "assetsmith 0.1.0"}


def test_a1111_infotext_parses_back():
    parsed = parse_a1111(a1111_parameters(RECIPE))
    assert parsed == {
        "engine": "diffusion", "prompt": "a red potion", "negative_prompt": "blurry", "seed": 1234,
        "params": RECIPE["params"], "model_name": "sd15", "model_hash_prefix": "0123456789",
        "a1111_extra": {"Version": "assetsmith 0.1.0"},
    }


@pytest.mark.parametrize("text, prompt, negative, params, extra", [
    # The example in A1111's own parse_generation_parameters docstring (old 8-hex model hash).
    (("girl with an artist's beret, determined, blue eyes, desert scene, ((eyeshadow)), (coquettish)\n"
      "Negative prompt: ugly, fat, (((deformed))), [blurry], bad anatomy, messy drawing\n"
      "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b"),
     "girl with an artist's beret, determined, blue eyes, desert scene, ((eyeshadow)), (coquettish)",
     "ugly, fat, (((deformed))), [blurry], bad anatomy, messy drawing",
     {"num_steps": 20, "scheduler": "Euler a", "guidance_scale": 7.0, "width": 512, "height": 512}, {}),
    # A1111 1.9+: sampler and schedule type apart; no negative prompt; Windows line ends.
    (("cozy cabin in the woods,\r\nwinter <lora:snow:0.7>\r\n"
      "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 7, Size: 832x1216, "
      'Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: "snow: 0a1b2c3d4e5f", Version: v1.10.1'),
     "cozy cabin in the woods,\nwinter <lora:snow:0.7>", "",
     {"num_steps": 25, "scheduler": "DPM++ 2M Karras", "guidance_scale": 5.5, "width": 832, "height": 1216},
     {"Lora hashes": "snow: 0a1b2c3d4e5f", "Version": "v1.10.1"}),
    # Only the settings line (empty prompt); extensions' quoted values, one with an escaped quote.
    (("Steps: 10, Sampler: Euler, Schedule type: Automatic, CFG scale: 1, Seed: 1, Size: 64x64, Clip skip: 2, "
      'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1", '
      'TI hashes: "easynegative: c74b4e810b03", Hires upscaler: Latent (nearest-exact), Note: "say \\"hi\\", ok"'),
     "", "", {"num_steps": 10, "scheduler": "Euler", "guidance_scale": 1.0, "width": 64, "height": 64},
     {"Clip skip": "2", "ControlNet 0": "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1",
      "TI hashes": "easynegative: c74b4e810b03", "Hires upscaler": "Latent (nearest-exact)", "Note": 'say "hi", ok'}),
    ("just a prompt, no settings: none at all", "just a prompt, no settings: none at all", "", {}, {}),
])
def test_parses_real_a1111_strings(text, prompt, negative, params, extra):
    recipe = parse_a1111(text)
    assert recipe["engine"] == "diffusion"
    assert (recipe["prompt"], recipe["negative_prompt"]) == (prompt, negative)
    assert recipe["params"] == params and recipe["a1111_extra"] == extra


def png_with(tmp_path, name, text):
    """A PNG as another tool writes it: plain PIL with only the given text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    path = tmp_path / name
    Image.new("RGB", (4, 4), "red").save(path, pnginfo=info)
    return path


def test_reads_a1111_png_made_by_another_tool(tmp_path):
    text = ("masterpiece, castle on a hill,\nsunset lighting\n"
            "Negative prompt: lowres, bad anatomy\nugly\n"
            "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 987654321, Size: 768x512, "
            'Model hash: e6bb9ea85b, Model: v1-5-pruned, Lora hashes: "detail: abc123def456, style: 0123456789ab", '
            "Denoising strength: 0.45, Variation seed: 11, Variation seed strength: 0.1, Version: v1.9.4")
    recipe = read_recipe(png_with(tmp_path, "other.png", {"parameters": text}))
    assert recipe["prompt"] == "masterpiece, castle on a hill,\nsunset lighting"
    assert recipe["negative_prompt"] == "lowres, bad anatomy\nugly"
    assert recipe["seed"] == 987654321
    assert recipe["params"] == {"num_steps": 30, "scheduler": "DPM++ 2M Karras", "guidance_scale": 6.5,
                                "width": 768, "height": 512, "strength": 0.45,
                                "variation_seed": 11, "variation_strength": 0.1}
    assert recipe["model_name"] == "v1-5-pruned" and recipe["model_hash_prefix"] == "e6bb9ea85b"
    assert recipe["a1111_extra"] == {"Lora hashes": "detail: abc123def456, style: 0123456789ab", "Version": "v1.9.4"}


@pytest.mark.parametrize("channels", [3, 4])
def test_png_round_trip(tmp_path, channels):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 9, channels), dtype=np.uint8)
    recipe = {**RECIPE, "prompt": "épée de feu ♪, «flamberge»"}  # not Latin-1: PIL writes iTXt
    encoded = encode(Output(kind="image", data=pixels, seed=1234, recipe={}), recipe)
    assert encoded.ext == "png" and encoded.sidecar is None
    assert encoded.content_hash == content_hash(Output("image", pixels.copy(), 1, {}))
    path = tmp_path / "out.png"
    path.write_bytes(encoded.data)
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image), pixels)
        assert image.text["parameters"] == a1111_parameters(recipe)
        assert json.loads(image.text["assetsmith"]) == recipe
    assert read_recipe(path) == recipe
    renamed = tmp_path / "copied.image"  # judged by content, not by name
    renamed.write_bytes(encoded.data)
    assert read_recipe(renamed) == recipe


TONE = (np.sin(np.linspace(0, 60, 400, dtype=np.float32))[:, None] * [0.5, -0.25]).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
@pytest.mark.parametrize("prompt", ["drum hit ♪", "long " * 2000])  # libsndfile reads back WAV comments < 2 KB
def test_audio_round_trip(tmp_path, fmt, prompt):
    recipe = {**RECIPE, "engine": "musicgen", "prompt": prompt, "params": {"duration_s": 0.05}}
    encoded = encode(Output(kind="audio", data=TONE, seed=1, recipe={}, sample_rate=8000), recipe, audio_format=fmt)
    path = tmp_path / f"clip.{fmt}"
    path.write_bytes(encoded.data)
    assert encoded.ext == fmt and read_recipe(path) == recipe
    back, rate = soundfile.read(path, dtype="float32")
    assert rate == 8000 and back.shape == TONE.shape
    if fmt == "wav":  # 32-bit float: exact
        assert np.array_equal(back, TONE)
    elif fmt == "flac":  # 24-bit integers: exactly the rounded samples, nothing else lost
        stored = soundfile.read(path, dtype="int32")[0] >> 8
        assert np.array_equal(stored, np.round(TONE.astype(np.float64) * 2**23))
    else:  # Vorbis is lossy
        assert np.abs(back - TONE).max() < 0.1


def test_mono_audio(tmp_path):
    encoded = encode(Output("audio", TONE[:, 0].copy(), 1, {}, sample_rate=8000), RECIPE, audio_format="wav")
    (tmp_path / "mono.wav").write_bytes(encoded.data)
    assert np.array_equal(soundfile.read(tmp_path / "mono.wav", dtype="float32")[0], TONE[:, 0])


def test_text_and_sidecar_round_trip(tmp_path):
    words = "Épée de feu — «flamberge» 火の剣"
    recipe = {**RECIPE, "engine": "causal-lm", "prompt": "Name a sword ✨", "params": {"temperature": 0.7}}
    encoded = encode(Output(kind="text", data=words, seed=1, recipe={}), recipe)
    assert encoded.ext == "txt"
    (tmp_path / "name.txt").write_bytes(encoded.data)
    (tmp_path / "name.json").write_bytes(encoded.sidecar)
    assert (tmp_path / "name.txt").read_text("utf-8") == words
    assert "Name a sword ✨" in (tmp_path / "name.json").read_text("utf-8")  # pretty, human-readable
    assert read_recipe(tmp_path / "name.txt") == recipe
    assert read_recipe(tmp_path / "name.json") == recipe
    empty = encode(Output(kind="text", data="", seed=1, recipe={}), recipe)  # an empty output still has its recipe
    (tmp_path / "empty.txt").write_bytes(empty.data)
    (tmp_path / "empty.json").write_bytes(empty.sidecar)
    assert read_recipe(tmp_path / "empty.txt") == recipe


def wav_without_comment():
    import io

    buffer = io.BytesIO()
    soundfile.write(buffer, TONE, 8000, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize("name, content, message", [
    ("picture.png", b"\xff\xd8\xff\xe0\0\x10JFIF" + b"\0" * 50,
     "picture.png is not a PNG image (its content looks like JPEG)"),
    ("picture.png", b"hello, I am text\n", "picture.png is not a PNG image (its content looks like text)"),
    ("picture.png", b"\x00\x01\x02\x03" * 10, "picture.png is not a PNG image (its content looks like unknown)"),
    ("picture.png", b"fLaC" + b"\0" * 40, "looks like FLAC); it seems to have been renamed: rename it to picture.flac"),
    ("picture.png", b"", "picture.png is empty (0 bytes)"),
    ("song.wav", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "song.wav is not a WAV file (its content looks like PNG)"),
    ("truncated.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", "truncated.png is a damaged PNG image"),
    ("noise.flac", b"fLaC" + bytes(range(200)), "noise.flac is a damaged FLAC file"),
    ("plain.wav", wav_without_comment(), "plain.wav holds no generation settings"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 40,
     "photo.jpg holds no settings Assetsmith can read (its content looks like JPEG); Assetsmith reads"),
    ("broken.json", b'{"engine": "diffusion", "seed": ',
     "broken.json: the generation settings in it are damaged (not valid JSON"),
    ("other.json", b'{"name": "some other tool"}', "other.json: it holds JSON that is not an Assetsmith recipe"),
    ("lonely.txt", b"hi", "lonely.txt has no settings beside it (lonely.json is missing)"),
])
def test_bad_files_say_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MetadataError) as caught:
        read_recipe(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_pngs_without_usable_settings(tmp_path):
    with pytest.raises(MetadataError, match="does not exist"):
        read_recipe(tmp_path / "nope.png")
    with pytest.raises(MetadataError, match=r"^plain.png holds no generation settings; "):
        read_recipe(png_with(tmp_path, "plain.png", {}))
    with pytest.raises(MetadataError, match=r"comfy.png holds no generation settings \(its text chunks: prompt, "
                                            r"workflow\)"):
        read_recipe(png_with(tmp_path, "comfy.png", {"prompt": "{}", "workflow": "{}"}))
    with pytest.raises(MetadataError, match=r"broken.png: the generation settings in its `assetsmith` chunk are "
                                            r"damaged \(not valid JSON"):
        read_recipe(png_with(tmp_path, "broken.png", {"assetsmith": "{not json", "parameters": "x"}))
    with pytest.raises(MetadataError, match="is a folder"):
        read_recipe(tmp_path)
