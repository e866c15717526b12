"""engines/convert.py, through the app's way in (studio.models.convert_to_safetensors runs it in
a child process): pickle weights become .safetensors, loading tensors only, all or nothing."""
import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import hubfake
from engines.convert import target_name
from studio import models
from studio.models import ModelError

env = hubfake.env  # fixture: a library of each test's own


class Payload:
    """Not a tensor, nor plain data: what a malicious (or merely careless) pickle carries."""

    def __reduce__(self):
        return (print, ("this would have run",))


def test_nested_checkpoint_is_converted_and_loadable(env, tmp_path):
    weight = torch.randn(4, 3)
    tied = torch.randn(5, 2)
    state = {"model": {"encoder": {"weight": weight, "bias": torch.zeros(4)}, "head": tied},
             "head_tied": tied,  # the same tensor twice (tied weights)
             "transposed": weight.t(),  # a view: not contiguous
             "slice": tied[1:3],  # a view into another tensor's storage
             "scale": torch.tensor(0.5, dtype=torch.float16)}
    src = tmp_path / "dream.ckpt"
    torch.save({"state_dict": state, "global_step": 1200, "epoch": 3, "hparams": {"lr": 1e-4}}, src)

    report = models.convert_to_safetensors(src)

    dest = tmp_path / "dream.safetensors"
    [written] = report["files"]
    assert written["source"] == str(src) and written["target"] == str(dest)
    assert written["tensors"] == 7 and written["bytes"] == dest.stat().st_size
    assert sorted(written["dropped"]) == ["epoch", "global_step", "hparams"]
    assert report["copied"] == [] and report["skipped"] == []
    loaded = load_file(dest)
    assert set(loaded) == {"model.encoder.weight", "model.encoder.bias", "model.head", "head_tied", "transposed",
                           "slice", "scale"}
    assert torch.equal(loaded["model.encoder.weight"], weight) and torch.equal(loaded["transposed"], weight.t())
    assert torch.equal(loaded["head_tied"], tied) and torch.equal(loaded["slice"], tied[1:3])
    assert loaded["scale"].dtype == torch.float16 and loaded["scale"].item() == 0.5
    with safe_open(dest, "pt") as f:
        assert f.metadata() == {"format": "pt", "converted_from": "dream.ckpt"}
    assert src.is_file()  # the original stays
    # And now it is a model file like any other.
    assert models.import_model(dest).path == models.library_dir() / "dream.safetensors"
    with pytest.raises(ModelError, match="already exists"):
        models.convert_to_safetensors(src)


def test_a_plain_state_dict_pt_file(env, tmp_path):
    src = tmp_path / "lora.pt"
    torch.save({"lora_unet_a.lora_down.weight": torch.ones(2, 2)}, src)
    (tmp_path / "out").mkdir()
    report = models.convert_to_safetensors(src, tmp_path / "out" / "style.safetensors")
    [written] = report["files"]
    assert written["target"] == str(tmp_path / "out" / "style.safetensors") and written["dropped"] == []
    assert torch.equal(load_file(tmp_path / "out" / "style.safetensors")["lora_unet_a.lora_down.weight"],
                       torch.ones(2, 2))
    assert models.import_model(tmp_path / "out" / "style.safetensors").kind == "lora"


def test_pickle_with_code_is_refused_and_nothing_written(tmp_path):
    src = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "callback": Payload()}, src)
    with pytest.raises(ModelError) as caught:
        models.convert_to_safetensors(src)
    message = str(caught.value)
    assert message.startswith("could not convert evil.pt: evil.pt holds more than tensors and plain data")
    assert "could run code, so it was not converted" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pt"]  # nothing written, not even a part


def test_not_a_pytorch_file_is_a_clear_error(tmp_path):
    src = tmp_path / "junk.bin"
    src.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match=r"could not convert junk.bin: .*junk.bin"):
        models.convert_to_safetensors(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.bin"]
    with pytest.raises(ModelError, match="nothing to convert"):
        models.convert_to_safetensors(tmp_path / "missing.bin")


def _sharded_bin_folder(tiny_gpt2, folder):
    """tiny_gpt2 as transformers used to save it: two pickle shards and their index."""
    shutil.copytree(tiny_gpt2, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    state = load_file(tiny_gpt2 / "model.safetensors")
    keys = sorted(state)
    shards = {"pytorch_model-00001-of-00002.bin": keys[: len(keys) // 2],
              "pytorch_model-00002-of-00002.bin": keys[len(keys) // 2:]}
    weight_map = {}
    for name, part in shards.items():
        torch.save({k: state[k] for k in part}, folder / name)
        weight_map.update({k: name for k in part})
    total = sum(t.numel() * t.element_size() for t in state.values())
    (folder / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    torch.save({"lr": 0.1, "args": Payload()}, folder / "training_args.bin")  # a leftover of training
    return state


def test_sharded_bin_folder_becomes_a_safetensors_folder(env, tmp_path, tiny_gpt2):
    from transformers import AutoModelForCausalLM

    src = tmp_path / "gpt2-bin"
    state = _sharded_bin_folder(tiny_gpt2, src)
    with pytest.raises(ModelError, match="only pickle weights"):
        models.import_model(src)

    report = models.convert_to_safetensors(src)

    dest = tmp_path / "gpt2-bin-safetensors"
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
         "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
    assert [f["target"] for f in report["files"]] == [str(dest / "model-00001-of-00002.safetensors"),
                                                      str(dest / "model-00002-of-00002.safetensors")]
    assert sum(f["tensors"] for f in report["files"]) == len(state)
    assert [s["file"] for s in report["skipped"]] == ["training_args.bin"]
    assert "could run code" in report["skipped"][0]["why"]
    index = json.loads((dest / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    assert not list(tmp_path.glob(".*"))  # the work folder is gone

    # transformers loads it, with the very weights it had.
    original = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    converted = AutoModelForCausalLM.from_pretrained(dest)
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(original(ids).logits, converted(ids).logits)
    info = models.import_model(dest)
    assert info.engines == ("causal-lm",) and info.kind == "model"


def test_folder_whose_weights_are_refused_leaves_nothing(tmp_path, tiny_gpt2):
    src = tmp_path / "bad"
    shutil.copytree(tiny_gpt2, src, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save({"w": torch.ones(2), "hook": Payload()}, src / "pytorch_model.bin")
    with pytest.raises(ModelError, match="pytorch_model.bin holds more than tensors"):
        models.convert_to_safetensors(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]  # no dest, no half-done work folder
    (src / "pytorch_model.bin").unlink()
    with pytest.raises(ModelError, match="has no pickle weights to convert"):
        models.convert_to_safetensors(src)


@pytest.mark.parametrize("name,expected", [("pytorch_model.bin", "model.safetensors"),
                                           ("pytorch_model-00001-of-00002.bin", "model-00001-of-00002.safetensors"),
                                           ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors"),
                                           ("v1-5.ckpt", "v1-5.safetensors")])
def test_target_names(name, expected):
    assert target_name(name) == expected

