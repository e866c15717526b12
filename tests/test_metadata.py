"""Recipes embedded in output files, and AUTOMATIC1111's infotext both ways."""

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from engines.api import Output
from studio.metadata import MetadataError, a1111_parameters, content_hash, encode, parse_a1111, read_recipe

RECIPE = {
    "engine": "diffusion", "model": "/models/sd15", "model_hash": "0123456789abcdef" * 4, "model_name": "sd15",
    "prompt": "a red potion, game icon", "negative_prompt": "blurry", "seed": 1234, "count": 1,
    "params": {"num_steps": 20, "guidance_scale": 7.0, "width": 512, "height": 512, "scheduler": "Euler a"},
    "runtime": {"device": "cpu", "threads": 2, "versions": {"assetsmith": "0.1.0"}},
}


def test_a1111_infotext_is_exact():
    assert a1111_parameters(RECIPE) == (
        "a red potion, game icon\n"
        "Negative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 0123456789, "
        "Model: sd15, Version: assetsmith 0.1.0"
    )
    no_negative = a1111_parameters({**RECIPE, "negative_prompt": "", "params": {**RECIPE["params"],
                                                                                 "guidance_scale": 7.5}})
    assert no_negative.split("\n")[1].startswith("Steps: 20, Sampler: Euler a, CFG scale: 7.5,")


def test_a1111_infotext_parses_back():
    parsed = parse_a1111(a1111_parameters(RECIPE))
    assert parsed["prompt"] == RECIPE["prompt"] and parsed["negative_prompt"] == "blurry"
    assert parsed["seed"] == 1234 and parsed["params"] == RECIPE["params"]
    assert parsed["model_name"] == "sd15" and parsed["model_hash_prefix"] == "0123456789"


def png(tmp_path, name, text):
    info = PngImagePlugin.PngInfo()
    for k, v in text.items():
        info.add_text(k, v)
    path = tmp_path / name
    Image.new("RGB", (8, 8), "red").save(path, pnginfo=info)
    return path


def test_reads_a1111_png_made_by_another_tool(tmp_path):
    text = ("masterpiece, castle on a hill,\nsunset lighting\n"
            "Negative prompt: lowres, bad anatomy\nugly\n"
            'Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 987654321, Size: 768x512, '
            'Model hash: e6bb9ea85b, Model: v1-5-pruned, Lora hashes: "detail: abc123, style: def456", '
            "Denoising strength: 0.45, Version: v1.9.4")
    recipe = read_recipe(png(tmp_path, "other.png", {"parameters": text}))
    assert recipe["prompt"] == "masterpiece, castle on a hill,\nsunset lighting"
    assert recipe["negative_prompt"] == "lowres, bad anatomy\nugly"
    assert recipe["seed"] == 987654321
    assert recipe["params"] == {"num_steps": 30, "scheduler": "DPM++ 2M Karras", "guidance_scale": 6.5,
                                "width": 768, "height": 512, "strength": 0.45}
    assert recipe["a1111_extra"]["Lora hashes"] == "detail: abc123, style: def456"
    assert recipe["a1111_extra"]["Version"] == "v1.9.4"


def test_png_round_trip(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    encoded = encode(Output(kind="image", data=pixels, seed=1234, recipe={}), RECIPE)
    path = tmp_path / "out.png"
    path.write_bytes(encoded.data)
    assert encoded.ext == "png" and encoded.content_hash == content_hash(Output("image", pixels.copy(), 1, {}))
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image), pixels)
        assert image.text["parameters"] == a1111_parameters(RECIPE)
    assert read_recipe(path) == RECIPE


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_audio_round_trip(tmp_path, fmt):
    import soundfile

    t = np.linspace(0, 1, 8000, dtype=np.float32)
    samples = np.stack([np.sin(440 * t) * 0.5, np.sin(660 * t) * 0.5], axis=1).astype(np.float32)
    out = Output(kind="audio", data=samples, seed=1, recipe={}, sample_rate=8000)
    encoded = encode(out, {**RECIPE, "engine": "musicgen", "prompt": "drum hit ♪"}, audio_format=fmt)
    path = tmp_path / f"clip.{fmt}"
    path.write_bytes(encoded.data)
    assert read_recipe(path)["prompt"] == "drum hit ♪"
    back, rate = soundfile.read(path, dtype="float32")
    assert rate == 8000 and back.shape == samples.shape
    assert np.abs(back - samples).max() < (1e-6 if fmt == "wav" else 1e-4 if fmt == "flac" else 0.1)


def test_text_and_sidecar_round_trip(tmp_path):
    encoded = encode(Output(kind="text", data="Épée de feu — «flamberge»", seed=1, recipe={}),
                     {**RECIPE, "engine": "causal-lm"})
    (tmp_path / "name.txt").write_bytes(encoded.data)
    (tmp_path / "name.json").write_bytes(encoded.sidecar)
    assert (tmp_path / "name.txt").read_text("utf-8") == "Épée de feu — «flamberge»"
    assert read_recipe(tmp_path / "name.txt")["engine"] == "causal-lm"
    assert read_recipe(tmp_path / "name.json")["seed"] == 1234


@pytest.mark.parametrize("content, message", [
    (b"\xff\xd8\xff\xe0" + b"\0" * 100, "is not a PNG image (its content looks like JPEG)"),
    (b"hello, I am text", "is not a PNG image (its content looks like text)"),
    (b"", "is empty"),
])
def test_bad_png_files(tmp_path, content, message):
    path = tmp_path / "picture.png"
    path.write_bytes(content)
    with pytest.raises(MetadataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_recipe(path)


def test_other_bad_inputs(tmp_path):
    with pytest.raises(MetadataError, match="does not exist"):
        read_recipe(tmp_path / "nope.png")
    with pytest.raises(MetadataError, match="holds no generation settings"):
        read_recipe(png(tmp_path, "plain.png", {}))
    with pytest.raises(MetadataError, match="damaged.*not valid JSON"):
        read_recipe(png(tmp_path, "broken.png", {"assetsmith": "{not json"}))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png(tmp_path, "whole.png", {"assetsmith": "{}"}).read_bytes()[:40])
    with pytest.raises(MetadataError, match="damaged PNG"):
        read_recipe(truncated)
    (tmp_path / "lonely.txt").write_text("hi")
    with pytest.raises(MetadataError, match="lonely.json is missing"):
        read_recipe(tmp_path / "lonely.txt")
