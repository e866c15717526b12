"""The text starter model that ships in resources/ (made by tools/starters/text_names.py): the
text engine's default, so a fresh install writes names with no model given and no network."""
import json
import os
import socket

import pytest

from engines import registry
from engines.api import NullEvents
from engines.text.causal_lm import CausalLMEngine
from studio import models, presets
from studio.cli import main

REF = CausalLMEngine.default_model
MAX_BYTES = 8_000_000  # "a few MB": the repo stays light


@pytest.fixture(scope="module")
def starter():
    return models.resolve(None, CausalLMEngine).path


@pytest.fixture(scope="module")
def engine(starter, pinned_threads):
    e = CausalLMEngine()
    e.load(str(starter), "cpu")  # the engine's own loading code
    yield e
    e.unload()


@pytest.fixture
def no_network(monkeypatch):
    """Every socket refuses to connect, and the Hugging Face cache is empty."""
    def refuse(self, *args):
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    hub = os.path.join(os.environ["HF_HOME"], "hub")
    assert not os.path.isdir(hub) or not any(n.startswith("models--") for n in os.listdir(hub))


def test_starter_folder_is_small_documented_and_safe(starter):
    assert REF.startswith("starter:causal-lm/") and starter.is_dir()
    files = {p.name: p.stat().st_size for p in starter.iterdir()}
    assert {"CARD.md", "LICENSE-DATA.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    assert sum(files.values()) < MAX_BYTES
    assert not [n for n in files if n.endswith(tuple(models.PICKLE_SUFFIXES))]
    card = (starter / "CARD.md").read_text()
    assert "perplexity" in card and "minutes" in card
    assert "WordNet" in (starter / "LICENSE-DATA.md").read_text()
    assert CausalLMEngine.accepts(starter)
    listed = [m["ref"] for m in models.list_models(registry.get("causal-lm")) if m["source"] == "starter"]
    assert REF in listed


def test_loads_exactly_as_stored(engine, starter):
    """The fp16 file becomes float32 on the CPU with every value kept, so the model measured
    on the card is the model that runs; it has no chat template, so presets complete text."""
    import torch
    from safetensors.torch import load_file

    stored = load_file(starter / "model.safetensors")
    params = dict(engine.model.named_parameters())
    assert engine.model.dtype == torch.float32
    for name, tensor in stored.items():
        assert torch.equal(params[name].detach(), tensor.float()), name
    assert not engine.tokenizer.chat_template


def test_cli_generates_with_no_model_offline_and_remakes(tmp_path, capsys, no_network, pinned_threads):
    project = tmp_path / "P"
    argv = ["generate", "--engine", "causal-lm", "--prompt", "Names of potions in a fantasy game:\n1.",
            "--seed", "3", "--project", str(project)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "finished" and result["recipe"]["model"] == REF
    (path,) = result["outputs"]
    assert open(path, encoding="utf-8").read().strip()
    assert main(["remake", str(result["generation_id"]), "--project", str(project)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


@pytest.mark.parametrize("name, fields", [("Item names", {"subject": "potions"}),
                                          ("Creature names", {"subject": "swamp creatures"}),
                                          ("Place names", {"subject": "mountain villages"})])
def test_list_presets_give_several_names(engine, name, fields):
    preset = next(p for p in presets.load("text") if p.name == name)
    request = preset.request(chat=False, model=REF, seed=1, **fields)
    items = [o.data for o in engine.generate(request, NullEvents())]
    assert len(items) >= 3, items
    assert all(item.strip() and "\n" not in item for item in items), items
    assert sum(len(item) <= 40 for item in items) >= len(items) / 2, items  # names, not prose


def test_description_preset_writes_one_line(engine):
    preset = next(p for p in presets.load("text") if p.name == "Item description")
    request = preset.request(chat=False, model=REF, seed=1)
    (out,) = engine.generate(request, NullEvents())
    assert out.data.strip() and "\n" not in out.data
