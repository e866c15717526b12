"""The text engine against bare transformers generate(), on tiny real GPT-2 models."""
import json

import pytest
import torch

from engines.api import Cancelled, EngineError, NullEvents, ParamError, Request
from engines.text.causal_lm import CausalLMEngine
from engines.text.lists import list_items, parse_list


class Events(NullEvents):
    def __init__(self, cancel_after=None):
        self.previews, self.steps, self.outputs, self.cancel_after = [], [], [], cancel_after

    def preview(self, text):
        self.previews.append(text)

    def progress(self, step, total):
        self.steps.append((step, total))

    def cancelled(self):
        return self.cancel_after is not None and len(self.steps) >= self.cancel_after

    def output(self, output):
        self.outputs.append(output)


@pytest.fixture(scope="module")
def engine(tiny_gpt2):
    e = CausalLMEngine()
    e.load(str(tiny_gpt2), "cpu")
    yield e
    e.unload()


@pytest.fixture(scope="module")
def bare(tiny_gpt2):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_gpt2), AutoTokenizer.from_pretrained(tiny_gpt2)


def text(engine, events=None, seed=3, count=1, prompt="A red potion", **params):
    return engine.generate(Request(engine="causal-lm", prompt=prompt, seed=seed, count=count, params=params),
                           events or Events())


def bare_text(bare, seed, prompt="A red potion", **kwargs):
    model, tok = bare
    inputs = tok(prompt, return_tensors="pt")
    torch.manual_seed(seed)
    out = model.generate(**inputs, **kwargs)
    return tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.filterwarnings("ignore:Using the model-agnostic default")
def test_no_params_equals_bare_generate(engine, bare):
    (out,) = text(engine)
    assert out.data == bare_text(bare, 3)
    assert out.recipe["params"] == {"max_new_tokens": 20, "temperature": 0.0, "mode": "text"}


def test_sampling_equals_bare_generate_with_the_same_seed(engine, bare):
    outs = text(engine, count=2, temperature=0.9, top_k=40, top_p=0.95, max_new_tokens=25)
    assert [o.seed for o in outs] == [3, 4]
    assert outs[0].data == bare_text(bare, 3, do_sample=True, temperature=0.9, top_k=40, top_p=0.95,
                                     max_new_tokens=25)
    assert outs[1].data == bare_text(bare, 4, do_sample=True, temperature=0.9, top_k=40, top_p=0.95,
                                     max_new_tokens=25)
    assert outs[0].data != outs[1].data
    (again,) = text(engine, seed=4, temperature=0.9, top_k=40, top_p=0.95, max_new_tokens=25)
    assert again.data == outs[1].data  # any candidate re-made alone from its own seed


def test_streaming_order_equals_the_final_text(engine):
    events = Events()
    (out,) = text(engine, events, temperature=1.0, max_new_tokens=30)
    assert events.previews[-1] == out.data
    assert all(b.startswith(a[:-1]) for a, b in zip(events.previews, events.previews[1:]))
    assert [s for s, _ in events.steps] == list(range(1, len(events.steps) + 1))


def test_stop_strings_cut_the_text(engine):
    free = text(engine, temperature=1.0, max_new_tokens=60, seed=5)[0].data
    stop = free[10:13]
    assert stop.strip()
    (stopped,) = text(engine, temperature=1.0, max_new_tokens=60, seed=5, stop=[stop])
    assert stopped.data == free[:free.find(stop)]
    assert stopped.recipe["runtime"]["tokens"] < 60


def test_cancel_drops_the_candidate_in_progress_and_keeps_finished_ones(engine):
    events = Events(cancel_after=30)
    with pytest.raises(Cancelled):
        text(engine, events, count=3, temperature=1.0, max_new_tokens=20)
    assert len(events.outputs) == 1


def test_list_mode_gives_one_output_per_item(engine):
    outs = text(engine, mode="list", temperature=1.0, max_new_tokens=40)
    assert outs and all(o.kind == "text" for o in outs)
    assert [o.recipe["item"] for o in outs] == list(range(len(outs)))
    assert all(o.seed == 3 for o in outs)


def test_chat_model_uses_its_template(tiny_chat):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    engine = CausalLMEngine()
    engine.load(str(tiny_chat), "cpu")
    (out,) = engine.generate(Request(engine="causal-lm", prompt="Name a potion", seed=1,
                                     params={"system_prompt": "You name fantasy items.", "max_new_tokens": 12}),
                             NullEvents())
    model, tok = AutoModelForCausalLM.from_pretrained(tiny_chat), AutoTokenizer.from_pretrained(tiny_chat)
    inputs = tok.apply_chat_template([{"role": "system", "content": "You name fantasy items."},
                                      {"role": "user", "content": "Name a potion"}],
                                     add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert inputs["input_ids"].shape[1] > len(tok("Name a potion")["input_ids"]) + 5
    torch.manual_seed(1)
    expected = model.generate(**inputs, max_new_tokens=12)
    assert out.data == tok.decode(expected[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert out.recipe["runtime"]["chat_template"] is True


@pytest.mark.parametrize("params, message", [
    ({"temperature": -1}, "temperature must be at least 0"),
    ({"top_p": 2}, "top_p must be at most 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
    ({"system_prompt": "Be terse."}, "no chat template"),
    ({"mode": "table"}, "mode must be one of"),
])
def test_bad_inputs(engine, params, message):
    with pytest.raises(ParamError, match=message):
        text(engine, **params)


def test_empty_prompt_and_missing_model(engine, tmp_path):
    with pytest.raises(ParamError, match="prompt is empty"):
        text(engine, prompt="   ")
    with pytest.raises(EngineError, match="not a transformers model folder"):
        CausalLMEngine().load(str(tmp_path), "cpu")


def test_accepts_causal_lm_folders_only(tiny_gpt2, tiny_sd):
    assert CausalLMEngine.accepts(tiny_gpt2) and not CausalLMEngine.accepts(tiny_sd)


@pytest.mark.parametrize("raw, items", [
    ("1. Elixir of Dawn\n2. Moonwater\n\n3) Ember Draught", ["Elixir of Dawn", "Moonwater", "Ember Draught"]),
    ("Here are some names:\n- Frostvine Tonic\n* Ashen Brew\n• Starlit Philter\nHope you like them!",
     ["Frostvine Tonic", "Ashen Brew", "Starlit Philter"]),
    ("(1) **Gloomcap** — a dark mushroom tea\n#2: Sunpetal", ["Gloomcap — a dark mushroom tea", "Sunpetal"]),
    ('Sure! ["Red Vial", "Blue Vial", ""] done', ["Red Vial", "Blue Vial"]),
    (json.dumps([{"name": "Dragonsbane", "description": "cures burns"}]), ["Dragonsbane: cures burns"]),
    ("Dusk Ale\n\nMarsh Mead\n", ["Dusk Ale", "Marsh Mead"]),
    ("[not json, just brackets]\n1. Real Item", ["Real Item"]),
    ("", []),
])
def test_parse_list_on_awkward_model_output(raw, items):
    assert parse_list(raw) == items


def test_list_items_after_a_completion_prompt():
    # The first item's marker is the prompt's last line; the model writes the rest.
    prompt = "Names of potions in a fantasy game:\n1."
    assert list_items(prompt, " Elixir of Dawn\n2. Moonwater\n3. Ember") == ["Elixir of Dawn", "Moonwater", "Ember"]
    assert list_items(prompt, " Elixir of Dawn\n2. Moonwater\n3. Ember", cut_off=True) == ["Elixir of Dawn",
                                                                                            "Moonwater"]
    assert list_items(prompt, " Elixir of Dawn\n2. Moonwater\n", cut_off=True) == ["Elixir of Dawn", "Moonwater"]
    assert list_items("12 potion names", "1. Red Vial\n2. Blue Vial") == ["Red Vial", "Blue Vial"]
    assert list_items("A list:\n-", " Dusk Ale\n- Marsh Mead") == ["Dusk Ale", "Marsh Mead"]


# -- through the project and the CLI ------------------------------------------------------

def test_cli_text_generation_remake_and_export(tmp_path, tiny_gpt2, capsys):
    import csv

    from studio.cli import main

    project = tmp_path / "P"
    argv = ["generate", "--engine", "causal-lm", "--model", str(tiny_gpt2), "--prompt", "Potion names:\n1.",
            "--seed", "11", "--count", "2", "--param", "temperature=0.8", "--param", "max_new_tokens=30",
            "--param", "mode=list", "--project", str(project)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "finished" and result["outputs"]
    first = result["outputs"][0]
    assert first.endswith(".txt") and json.load(open(first[:-4] + ".json"))["seed"] == 11
    assert main(["remake", str(result["generation_id"]), "--project", str(project)]) == 0
    remade = json.loads(capsys.readouterr().out)
    assert remade["identical"] is True and len(remade["outputs"]) == len(result["outputs"])
    for fmt in ("txt", "json", "csv"):
        assert main(["export", str(result["generation_id"]), "--out", str(tmp_path / f"names.{fmt}"),
                     "--project", str(project)]) == 0
    texts = [open(p, encoding="utf-8").read() for p in result["outputs"]]
    rows = list(csv.DictReader(open(tmp_path / "names.csv", encoding="utf-8")))
    assert [r["text"] for r in rows] == texts
    assert {r["seed"] for r in rows} == {"11", "12"}  # list items share their candidate's seed
    assert [r["text"] for r in json.load(open(tmp_path / "names.json"))] == texts
    capsys.readouterr()
    assert main(["export", "--out", str(tmp_path / "x.docx"), "--project", str(project)]) == 2
    assert "export format must be one of" in capsys.readouterr().err


def test_presets_are_data_and_make_valid_requests():
    from engines.api import check_request
    from studio import presets

    loaded = presets.load("text")
    assert len(loaded) >= 5 and len({p.name for p in loaded}) == len(loaded)
    for preset in loaded:
        for chat in (True, False):
            request = preset.request(chat=chat, seed=1)
            assert "{" not in request.prompt and request.prompt.strip()
            check_request(CausalLMEngine, request)
    names = next(p for p in loaded if p.name == "Item names")
    assert "12 names for rings" in names.request(chat=True, subject="rings").prompt
    with pytest.raises(presets.PresetError, match="needs a value"):
        presets.Preset("x", "", "text", "{missing}", "{missing}").request(chat=True)
