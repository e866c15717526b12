"""Text training on the harness (lora-text and causal-lm), on the tiny GPT-2 and tiny folders
in all three formats: the data report, the token blocks, learning, exact resume, and what the
runs write loads in the text engine (adapter through `loras`, whole model as a model)."""
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_train import events, final_state, new_run, run_in_process  # noqa: E402

from engines.api import EngineError, NullEvents, ParamError, Request  # noqa: E402
from engines.data import DataError  # noqa: E402
from engines.text.causal_lm import CausalLMEngine  # noqa: E402
from engines.train import schema, text_data  # noqa: E402

pytestmark = pytest.mark.usefixtures("restore_threads")

LORE = ("The red potion heals the drinker. The blue potion restores mana. The green potion cures poison. "
        "Every alchemist in the valley sells them at dawn. ")


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """All three formats, with the faults a real folder has."""
    folder = tmp_path_factory.mktemp("data") / "lore"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "potions.txt").write_text(LORE * 3)
    (folder / "notes" / "copy of potions.txt").write_text(LORE * 3)  # an exact duplicate
    (folder / "swords.md").write_text("# Swords\n\nA sharp blade forged in dragon fire, sold by the smith.\n")
    (folder / "pairs.jsonl").write_text("\n".join([
        json.dumps({"prompt": "Name a potion:", "completion": " Elixir of Dawn"}),
        "{not json",
        json.dumps({"title": "a row of another shape"}),
        "",
        json.dumps({"prompt": "Name a sword:", "completion": " Dragonfang"}),
        json.dumps({"prompt": "Name a potion:", "completion": " Elixir of Dawn"}),  # duplicate row
    ]) + "\n")
    (folder / "chat.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": "Describe a shield."},
        {"role": "assistant", "content": "An oak shield rimmed with iron."}]}) + "\n")
    (folder / "latin1.txt").write_bytes("café au lait".encode("latin-1"))  # not UTF-8
    (folder / "empty.md").write_text("")
    (folder / "cover.png").write_bytes(b"\x89PNG\r\n")
    return folder


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    """Three blocks: each batch is the whole set."""
    folder = tmp_path_factory.mktemp("data") / "overfit"
    folder.mkdir()
    (folder / "a.txt").write_text("The red potion heals the drinker. The blue potion restores mana. "
                                  "The green potion cures poison.")
    (folder / "b.txt").write_text("Gold coins, silver rings and a copper key.")
    return folder


def text_params(base, **extra):
    return {"base": str(base), "block_size": 32, "batch_size": 4, "threads": 1, "sample_tokens": 8,
            "sample_every": 0, "eval_every": 0, "checkpoint_every": 100, "lr": 1e-2, **extra}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_gpt2, texts):
    """A lora-text run through the CLI (a child process, JSON lines), registered in a project:
    (project root, run folder, the CLI's events)."""
    from studio import cli

    root = tmp_path_factory.mktemp("projects") / "P.assetsmith"
    params = text_params(tiny_gpt2, steps=6, sample_every=6, eval_every=3, val_fraction=0.3)
    argv = ["train", "--engine", "lora-text", "--base", params.pop("base"), "--data", str(texts),
            "--project", str(root), "--name", "lore", *(f"--param={k}={v}" for k, v in params.items())]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return root, root / "runs" / lines[0]["run_id"], lines


@pytest.fixture(scope="module")
def adapter(trained):
    return trained[1]


def test_the_scan_reports_every_file_row_and_duplicate(texts, tiny_gpt2, tiny_chat):
    report = text_data.scan(texts, {"base": str(tiny_gpt2), "val_fraction": 0.2})
    assert report["kept"] == ["chat.jsonl:1", "pairs.jsonl:1", "pairs.jsonl:5", "swords.md",
                              "notes/copy of potions.txt"]  # a folder's files, then its folders, sorted
    assert report["duplicates"] == [
        {"file": "pairs.jsonl:6", "duplicate_of": "pairs.jsonl:1", "kind": "exact", "distance": 0},
        {"file": "notes/potions.txt", "duplicate_of": "notes/copy of potions.txt", "kind": "exact", "distance": 0}]
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["cover.png"] == "not a .txt, .md or .jsonl file"
    assert reasons["empty.md"] == "empty file"
    assert reasons["latin1.txt"].startswith("not UTF-8 text (byte 0xe9")
    assert reasons["pairs.jsonl:2"].startswith("line 2: not valid JSON")
    assert reasons["pairs.jsonl:3"].startswith("line 3: unknown row shape (keys: title)")
    assert report["documents"] == {"text": 2, "completion": 2, "chat": 1}
    assert report["train"] + report["val"] == 5 and report["val"] == 1
    assert set(report["train_files"]) | set(report["val_files"]) == set(report["kept"])
    assert report["chat_format"] == "plain"  # the tiny GPT-2 has no chat template
    assert report["summary"] == ("5 documents kept (4 train, 1 validation), 3 files skipped, 2 lines skipped, "
                                 "2 duplicates removed")
    assert text_data.scan(texts, {"base": str(tiny_chat)})["chat_format"] == "template"
    # The scanner the schema names is this one, and the Train workspace can call it without torch.
    assert schema.scan("lora-text", texts, {"base": str(tiny_gpt2)})["kept"] == report["kept"]
    code = ("import sys; from engines.train import schema; schema.scan('causal-lm', sys.argv[1], {}); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code, str(texts)], check=True, cwd=Path(__file__).parent.parent)


def test_nothing_usable_is_a_data_error(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match=r"no usable text in .*1 file skipped, 0 duplicates"):
        text_data.scan(tmp_path, {})
    with pytest.raises(DataError, match="does not exist"):
        text_data.scan(tmp_path / "nowhere", {})


def test_packing_fills_blocks_and_truncation_masks_prompt_and_padding(tiny_gpt2, texts):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    docs, _ = text_data.read_documents(texts, {})
    packed, info = text_data.blocks(docs, tokenizer, 16, packing=True)
    assert packed.shape == (info["blocks"], 2, 16) and packed.dtype.name == "int32"
    assert info["blocks"] == -(-info["tokens"] // 16)  # every token kept, the last block padded
    eos = tokenizer.eos_token_id
    assert (packed[:, 0] == eos).sum() >= len(docs)  # an end-of-text after every document
    one_each, info = text_data.blocks(docs, tokenizer, 32, packing=False)
    assert one_each.shape == (len(docs), 2, 32) and info["truncated"] >= 1
    pair = next(i for i, d in enumerate(docs) if d.kind == "completion")
    prompt = len(tokenizer(docs[pair].prompt)["input_ids"])
    completion = len(tokenizer(docs[pair].text, add_special_tokens=False)["input_ids"]) + 1  # + EOS
    ids, mask = one_each[pair]
    assert mask.tolist() == [0] * prompt + [1] * completion + [0] * (32 - prompt - completion)
    assert ids[prompt + completion - 1] == eos


def test_chat_rows_use_the_chat_template_when_the_base_has_one(tiny_gpt2, tiny_chat):
    from transformers import AutoTokenizer

    messages = ({"role": "user", "content": "Describe a shield."},
                {"role": "assistant", "content": "An oak shield."})
    assert text_data.render_chat(messages, AutoTokenizer.from_pretrained(tiny_chat)) == (
        "<|user|>Describe a shield.\n<|assistant|>An oak shield.\n")
    assert text_data.render_chat(messages, AutoTokenizer.from_pretrained(tiny_gpt2)) == (
        "user: Describe a shield.\nassistant: An oak shield.")


def test_a_lora_run_reports_samples_and_exports_a_peft_adapter(adapter, tiny_gpt2):
    log = events(adapter)
    data = next(e for e in log if e["event"] == "data")
    assert data["kept"] == 5 and data["skipped"] == 5 and data["duplicates"] == 2
    assert data["summary"].endswith("blocks of 32 tokens (packed)")
    evals = [e for e in log if e["event"] == "eval"]
    assert len(evals) == 2 and all(e["metrics"]["perplexity"] > 1 for e in evals)
    (sample,) = [e for e in log if e["event"] == "sample"]
    text = (adapter / sample["path"]).read_text()
    assert sample["path"] == "samples/step-00000006.txt" and text.count("### prompt") == 3
    model = adapter / "model"
    assert sorted(p.name for p in model.iterdir()) == ["adapter_config.json", "adapter_model.safetensors",
                                                       "model.json"]
    info = json.loads((model / "model.json").read_text())
    assert info["format"] == "lora-text" and info["base"] == str(tiny_gpt2) and info["target_modules"] == ["c_attn"]
    assert info["base_model"] == {"model_type": "gpt2", "vocab_size": 1000, "hidden_size": 64, "num_layers": 2}


def test_the_adapter_changes_the_text_engine_and_never_leaks(adapter, tiny_gpt2, pinned_threads):
    engine = CausalLMEngine()
    engine.load(str(tiny_gpt2), "cpu")

    def text(**params):
        request = Request(engine="causal-lm", prompt="The red potion", seed=5,
                          params={"max_new_tokens": 12, "temperature": 1.0, **params})
        return engine.generate(request, NullEvents())[0]

    plain = text().data
    folder = str(adapter / "model")
    with_lora = text(loras=[[folder, 1.0]])
    assert with_lora.data != plain
    assert with_lora.recipe["params"]["loras"] == [[folder, 1.0]]
    # The adapter's file names the same adapter; weight 0 is the plain model; nothing stays behind.
    assert text(loras=[[folder + "/adapter_model.safetensors", 1.0]]).data == with_lora.data
    assert text(loras=[[folder, 0.0]]).data == plain
    assert text().data == plain
    assert not any("lora" in name for name, _ in engine.model.named_modules())


def test_project_adapter_is_recorded_by_reference_and_hash_and_remakes(trained, tiny_gpt2, capsys):
    from studio import cli, models

    root, _, lines = trained
    assert lines[0]["event"] == "started" and lines[-1]["event"] == "registered"
    ref = lines[-1]["model"]
    assert ref == "project:lore"
    (listed,) = [m for m in models.discover(root) if m.ref == ref]
    assert listed.kind == "lora" and listed.engines == ("causal-lm",) and listed.family == "gpt2"
    argv = ["generate", "--engine", "causal-lm", "--model", str(tiny_gpt2), "--prompt", "The blue potion",
            "--seed", "3", "--threads", "1", "--param", "max_new_tokens=10", "--param", "temperature=1.0",
            "--param", f'loras=[["{ref}", 0.8]]', "--project", str(root)]
    assert cli.main(argv) == 0
    made = json.loads(capsys.readouterr().out)
    recipe = made["recipe"]
    assert recipe["params"]["loras"] == [[ref, 0.8]]
    assert recipe["lora_hashes"] == [models.content_hash(root / "models" / "lore")]
    assert cli.main(["remake", str(made["generation_id"]), "--project", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


@pytest.mark.parametrize("engine, extra", [
    # A LoRA on the attention alone barely moves a random 64-wide model's logits: every linear layer.
    ("lora-text", {"lr": 1e-2, "dropout": 0.0, "target_modules": ["all-linear"]}),
    ("causal-lm", {"lr": 3e-3}),
])
def test_loss_falls_on_a_tiny_set_it_can_overfit(tmp_path, tiny_gpt2, overfit, engine, extra):
    folder = new_run(tmp_path, engine, overfit, **text_params(tiny_gpt2, steps=12, eval_every=3, val_fraction=0.0,
                                                              **extra))
    assert run_in_process(folder) == "finished"
    evals = [e for e in events(folder) if e["event"] == "eval"]
    losses = [e["metrics"]["val_loss"] for e in evals]
    assert {e["split"] for e in evals} == {"train"}  # nothing held out: the loss on what it learns
    assert len(losses) == 4 and all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.95 * losses[0]


@pytest.mark.parametrize("engine, extra", [
    ("lora-text", {"dropout": 0.2, "packing": False, "gradient_accumulation": 2, "target_modules": ["c_attn,c_proj"]}),
    ("causal-lm", {"lr_schedule": "cosine", "warmup_steps": 2}),
])
def test_stop_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_gpt2, texts, engine, extra):
    params = text_params(tiny_gpt2, steps=6, lr=1e-3, val_fraction=0.2, **extra)
    whole = new_run(tmp_path / "a", engine, texts, **params)
    assert run_in_process(whole) == "finished"
    parts = new_run(tmp_path / "b", engine, texts, **params)
    assert run_in_process(parts, stop_after=3) == "stopped"
    assert run_in_process(parts, resume=True) == "finished"
    a, b = final_state(whole), final_state(parts)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [[e["losses"]["loss"] for e in events(f) if e["event"] == "step"] for f in (whole, parts)]
    assert losses[0] == losses[1] and len(losses[0]) == 6


def test_a_full_weights_run_exports_a_model_the_text_engine_loads(tmp_path, tiny_gpt2, texts, pinned_threads):
    folder = new_run(tmp_path, "causal-lm", texts, **text_params(tiny_gpt2, steps=3, lr=1e-3))
    assert run_in_process(folder) == "finished"
    model = folder / "model"
    assert CausalLMEngine.accepts(model)
    assert {"config.json", "model.safetensors", "tokenizer.json", "model.json"} <= {p.name for p in model.iterdir()}
    assert json.loads((model / "model.json").read_text())["format"] == "causal-lm"

    def text(path):
        engine = CausalLMEngine()
        engine.load(str(path), "cpu")
        request = Request(engine="causal-lm", prompt="The red potion", seed=1, params={"max_new_tokens": 10})
        return engine.generate(request, NullEvents())[0].data

    assert text(model) != text(tiny_gpt2)


def test_bad_text_runs_are_refused_clearly(tmp_path, tiny_gpt2, texts, adapter):
    from engines.tiny_models import build_tiny_gpt2

    with pytest.raises(ParamError, match="needs the base model"):
        schema.resolve("lora-text", {})
    with pytest.raises(ParamError, match="block_size must be at least 8"):
        schema.resolve("causal-lm", {"base": str(tiny_gpt2), "block_size": 4})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no usable text"):
        run_in_process(new_run(tmp_path / "e", "lora-text", empty, **text_params(tiny_gpt2, steps=1)))
    with pytest.raises(ParamError, match="longer than tiny-gpt2's context of 256 tokens"):
        run_in_process(new_run(tmp_path / "c", "causal-lm", texts, **text_params(tiny_gpt2, steps=1, block_size=512)))
    with pytest.raises(ParamError, match="multiple of gradient_accumulation"):
        run_in_process(new_run(tmp_path / "g", "causal-lm", texts,
                               **text_params(tiny_gpt2, steps=1, batch_size=3, gradient_accumulation=2)))
    encoder = tmp_path / "bert"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    with pytest.raises(EngineError, match="not a causal language model .*BertForMaskedLM"):
        run_in_process(new_run(tmp_path / "b", "lora-text", texts, **text_params(encoder, steps=1)))
    # An adapter on a model of another size: a clear error, and the model is left as it was.
    other = build_tiny_gpt2(tmp_path / "wider-gpt2", n_embd=32)
    engine = CausalLMEngine()
    engine.load(str(other), "cpu")
    request = Request(engine="causal-lm", prompt="Hi", seed=0, params={"max_new_tokens": 3,
                                                                       "loras": [[str(adapter / "model"), 1.0]]})
    with pytest.raises(EngineError, match=r"trained for another model \(hidden_size 64 \(this model: 32\)\)"):
        engine.generate(request, NullEvents())
    # One from elsewhere (no model.json): peft's own shape check, and nothing left in the model.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (foreign / name).write_bytes((adapter / "model" / name).read_bytes())
    with pytest.raises(EngineError, match="does not fit this model"):
        engine.generate(request.replace(params={"loras": [[str(foreign), 1.0]]}), NullEvents())
    assert not any("lora" in name for name, _ in engine.model.named_modules())
    with pytest.raises(ParamError, match="not a peft adapter folder"):
        engine.generate(request.replace(params={"loras": [[str(tiny_gpt2), 1.0]]}), NullEvents())


def test_lora_references_resolve_to_what_each_engine_loads(tmp_path):
    """project:NAME is the adapter folder for text; a diffusion LoRA's folder gives its file."""
    import numpy as np
    from safetensors.numpy import save_file

    from studio import models

    text, pixels = tmp_path / "models" / "lore", tmp_path / "models" / "pixel"
    for folder, weights in ((text, "adapter_model.safetensors"), (pixels, "pytorch_lora_weights.safetensors")):
        folder.mkdir(parents=True)
        save_file({"w": np.zeros(2, np.float32)}, folder / weights)
    (pixels / "model.json").write_text(json.dumps({"format": "lora-diffusion",
                                                   "files": {"diffusers": "pytorch_lora_weights.safetensors"}}))
    assert models.resolve_lora("project:lore", tmp_path) == text
    assert models.resolve_lora("project:pixel", tmp_path) == pixels / "pytorch_lora_weights.safetensors"
    assert models.resolve_lora("some/file.safetensors", tmp_path) == Path("some/file.safetensors")
    with pytest.raises(models.ModelError, match="not found"):
        models.resolve_lora("project:nothing", tmp_path)
    with pytest.raises(models.ModelError, match="no project is open"):
        models.resolve_lora("project:lore", None)
