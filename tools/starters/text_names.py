"""The text starter model, `starter:causal-lm/NAME`: a small GPT-2 that writes game names and
one-line descriptions, made from scratch by this script.

    python tools/starters/text_names.py corpus   # Debian data + our name rules -> WORK/corpus/*.jsonl
    python tools/starters/text_names.py base     # byte-level BPE on the corpus + a fresh GPT-2 -> WORK/base
    python tools/starters/text_names.py train    # the causal-lm trainer, through the harness users use
    python tools/starters/text_names.py ship     # WORK's model -> resources/models/causal-lm/NAME (+ CARD, LICENSE-DATA)
    python tools/starters/text_names.py media    # sample text of the shipped model -> docs/starters/text-samples.md
    python tools/starters/text_names.py all      # the five, in order

WORK is --work (default /tmp/assetsmith-starter-text). `train` takes --steps, --threads and
--probe (a short run to measure tokens/s); run it under `flock /tmp/assetsmith-heavy.lock` on a
shared machine. Everything is seeded: the same machine and thread count give the same model.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

NAME = "game-names"
TARGET = REPO / "resources" / "models" / "causal-lm" / NAME
SAMPLES_MD = REPO / "docs" / "starters" / "text-samples.md"

# The model: sized so a ~15-minute run on 1 CPU thread sees the corpus about once (2000 steps).
VOCAB = 4096
MODEL = dict(n_layer=4, n_head=4, n_embd=128, n_positions=512)
BLOCK = 256
# The run: every value goes to the trainer as --param (engines/train/schema.py).
TRAIN = dict(steps=2000, batch_size=8, lr=2e-3, lr_schedule="cosine", warmup_steps=100, block_size=BLOCK,
             val_fraction=0.02, eval_samples=128, eval_every=400, sample_every=400, checkpoint_every=400,
             sample_tokens=80, threads=1, seed=0)  # 1 thread: the shipped run (the thread count changes the bits)
SAMPLE_PROMPTS = ["Names of potions in a fantasy game:\n1.", "Bestiary, swamp creatures:\n1.",
                  "Map of the north, mountain villages:\n1.",
                  "Magic rings of the realm, each with its lore:\n1."]
# What the model does with no parameters (its generation_config.json): sample, as the presets do.
GENERATION = dict(do_sample=True, temperature=0.9, top_p=0.95, max_new_tokens=160)


def work_dirs(work: Path) -> dict[str, Path]:
    return {"corpus": work / "corpus", "base": work / "base", "project": work / "project"}


# -- corpus --------------------------------------------------------------------------------------
def cmd_corpus(args) -> None:
    import text_corpus

    out = work_dirs(args.work)["corpus"]
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    counts = text_corpus.build(out, seed=0, scale=args.scale)
    size = sum(f.stat().st_size for f in out.glob("*.jsonl"))
    print(json.dumps({"corpus": str(out), "documents": counts, "bytes": size,
                      "seconds": round(time.perf_counter() - start, 1)}))


# -- base ----------------------------------------------------------------------------------------
def corpus_texts(corpus: Path):
    for path in sorted(corpus.glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]


def cmd_base(args) -> None:
    """A byte-level BPE trained on the corpus, and a GPT-2 with fresh weights from seed 0."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    dirs = work_dirs(args.work)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus_texts(dirs["corpus"]), vocab_size=VOCAB, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                        unk_token="<|endoftext|>", model_max_length=MODEL["n_positions"])
    config = GPT2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        **MODEL)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT2LMHeadModel(config)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                               **GENERATION)
    out = dirs["base"]
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"base": str(out), "parameters": params, "vocab": len(tokenizer), **MODEL}))


# -- train ---------------------------------------------------------------------------------------
def cmd_train(args) -> None:
    """Train through the harness (studio.training, as `assetsmith train` does); the run lands in
    WORK/project/runs/, the model as project:NAME. With --budget-s, a short probe run first
    measures tokens/s here and now, and the steps are sized so the real run fits the budget."""
    params = {**TRAIN, "base": str(work_dirs(args.work)["base"]), "sample_prompts": SAMPLE_PROMPTS}
    if args.threads:
        params["threads"] = args.threads
    if args.probe or args.budget_s:
        probe = _train(args.work, {**params, "steps": args.probe or PROBE_STEPS, "eval_every": 0, "sample_every": 0,
                                   "checkpoint_every": args.probe or PROBE_STEPS, "eval_samples": 8},
                       f"{NAME}-probe-{time.strftime('%H%M%S')}")
        if not args.budget_s:
            return
        params["steps"] = budget_steps(args.budget_s, probe, params)
    if args.steps:
        params["steps"] = args.steps
    quarter = max(1, params["steps"] // 4)
    params.update(eval_every=quarter, sample_every=quarter, checkpoint_every=quarter,
                  warmup_steps=min(TRAIN["warmup_steps"], params["steps"] // 10))
    _train(args.work, params, NAME)


PROBE_STEPS = 24


def budget_steps(budget_s: float, probe: dict, params: dict) -> int:
    """Steps that fit `budget_s` of wall time at the probe's speed: its fixed cost (start-up,
    tokenising, export) once, four evaluations and sample sets more, 10% to spare."""
    tokens_per_step = params["batch_size"] * params["block_size"]
    step_s = tokens_per_step / probe["tokens_per_s"]
    fixed = probe["wall_s"] - probe["steps"] * step_s
    extra = 4 * params["eval_samples"] * params["block_size"] / (3 * probe["tokens_per_s"]) + 3 * 10.0
    steps = int(0.9 * (budget_s - fixed - extra) / step_s)
    print(json.dumps({"budget_s": budget_s, "probe_tokens_per_s": probe["tokens_per_s"], "fixed_s": round(fixed, 1),
                      "steps": steps}), flush=True)
    if steps < 50:
        raise SystemExit(f"only {steps} steps fit {budget_s} s here now: the machine is too busy")
    return steps


def _train(work: Path, params: dict, name: str) -> dict:
    from studio import training
    from studio.project import Project

    project = Project.open(work_dirs(work)["project"])  # created when missing
    root = project.root
    project.close()
    if (root / "models" / name).exists():
        shutil.rmtree(root / "models" / name)  # a new run replaces the last model of this name
    start = time.perf_counter()
    run = training.TrainingProcess.start(root, "causal-lm", work_dirs(work)["corpus"], params, name)
    steps: list[dict] = []
    last = {}
    for event in run.events():
        last = event
        kind = event.get("event")
        if kind == "step":
            steps.append(event)
            if event["step"] % 50 == 0:
                print(json.dumps({"step": event["step"], "loss": round(event["losses"]["loss"], 4),
                                  "s": round(time.perf_counter() - start, 1)}), flush=True)
        elif kind != "checkpoint":
            print(json.dumps({k: v for k, v in event.items() if k not in ("params", "report")}), flush=True)
    wall = time.perf_counter() - start
    if last.get("event") != "registered":
        raise SystemExit(f"training did not finish: {last}")
    summary = _summary(run.folder, wall, steps)
    (run.folder / "starter-summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)
    return summary


def _summary(run_dir: Path, wall: float, steps: list[dict]) -> dict:
    config = json.loads((run_dir / "config.json").read_text())
    report = json.loads((run_dir / "data" / "report.json").read_text())
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    evals = [e for e in events if e["event"] == "eval"]
    p = {**TRAIN, **config["params"]}
    tokens_per_step = p["batch_size"] * p["block_size"]
    # Stepping speed between the first and the last step event (start-up and export left out);
    # evaluation and sample pauses inside count, as they do in a run.
    timed = steps[1:]
    span = (steps[-1]["time"] - steps[0]["time"]) if len(steps) > 1 else 0.0
    return {"run": run_dir.name, "wall_s": round(wall, 1), "steps": p["steps"],
            "tokens_per_s": round(tokens_per_step * len(timed) / span, 1) if span else None,
            "tokens_seen": tokens_per_step * p["steps"], "corpus_tokens": report.get("tokens"),
            "documents": report["train"] + report["val"],
            "epochs": round(tokens_per_step * p["steps"] / max(1, report["tokens"]["train"]), 2),
            "evals": [{"step": e["step"], **{k: round(v, 4) for k, v in e["metrics"].items()}} for e in evals],
            "threads": p["threads"], "params": {k: v for k, v in p.items() if k not in ("sample_prompts",)}}


# -- ship ----------------------------------------------------------------------------------------
def latest_run(project: Path, name: str) -> Path:
    runs = []
    for folder in (project / "runs").iterdir() if (project / "runs").is_dir() else []:
        try:
            config = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if config.get("name") == name and (folder / "starter-summary.json").is_file():
            runs.append(folder)
    if not runs:
        raise SystemExit(f"no finished run named {name} in {project}: run `train` first")
    return max(runs, key=lambda f: f.name)


def cmd_ship(args) -> None:
    """The trained model, in fp16 safetensors, with its card and data licences, into resources/."""
    import torch
    from safetensors.torch import load_file, save_file

    dirs = work_dirs(args.work)
    model_dir = dirs["project"] / "models" / NAME
    run_dir = latest_run(dirs["project"], NAME)
    summary = json.loads((run_dir / "starter-summary.json").read_text())
    tmp = TARGET.with_name(f".{NAME}-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for f in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(model_dir / f, tmp / f)
    # fp16 halves the file; the engine loads it into its own dtype (float32 on the CPU), which
    # holds every fp16 value exactly, so what is measured below is what users run.
    weights = load_file(model_dir / "model.safetensors")
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()}, tmp / "model.safetensors",
              metadata={"format": "pt"})
    (tmp / "model.safetensors").chmod(0o644)
    config = json.loads((tmp / "config.json").read_text())
    config["dtype"] = "float16"
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    measured = evaluate_shipped(tmp, run_dir)
    summary["shipped"] = {**measured, "parameters": sum(v.numel() for v in weights.values())}
    (tmp / "LICENSE-DATA.md").write_text(LICENSE_DATA)
    (tmp / "CARD.md").write_text(card(summary))
    if TARGET.exists():
        shutil.rmtree(TARGET)
    tmp.rename(TARGET)
    sizes = {f.name: f.stat().st_size for f in sorted(TARGET.iterdir())}
    print(json.dumps({"shipped": str(TARGET), "bytes": sum(sizes.values()), "files": sizes, **measured}))


def evaluate_shipped(folder: Path, run_dir: Path) -> dict:
    """Validation loss and perplexity of the shipped weights, loaded by the text engine's own
    code, on the run's held-out blocks (documents never trained on)."""
    import torch
    import torch.nn.functional as F
    from safetensors.numpy import load_file

    from engines.text.causal_lm import CausalLMEngine

    engine = CausalLMEngine()
    torch.set_num_threads(2)
    engine.load(str(folder), "cpu")
    data = load_file(str(run_dir / "data" / "dataset.safetensors"))
    val = torch.from_numpy(data["val"]).long()
    summed, count = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(val), 16):
            ids, mask = val[i:i + 16, 0], val[i:i + 16, 1].bool()
            labels = ids.masked_fill(~mask, -100)[:, 1:]
            logits = engine.model(input_ids=ids).logits[:, :-1]
            summed += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
                                      reduction="sum").item()
            count += int((labels != -100).sum())
    loss = summed / count
    return {"val_blocks": len(val), "val_tokens": count, "val_loss": round(loss, 4),
            "val_perplexity": round(math.exp(loss), 2)}


LICENSE_DATA = """# Data this model was trained on

Only the weights ship; the data stays in the Debian packages it comes from, and
`tools/starters/text_names.py corpus` rebuilds the corpus from them.

| Source | Debian package | Licence | Used for |
|---|---|---|---|
| WordNet 3.0 noun glosses (artifacts, animals, foods, places, objects, plants, substances) | `wordnet-base` | WordNet 3.0 licence (below) | "Name: description" lines, item/creature/plant/place descriptions, lists of real animal, plant and thing names |
| The Devil's Dictionary, Ambrose Bierce (1911) | `dict-devil` | public domain (copyright expired) | witty one-line definitions |
| Webster's Second International word list (`web2`) | `miscfiles` | public domain (the 1934 copyright has elapsed, per its README) | made-up names that are real words are dropped |
| SCOWL word list (`american-english`) | `wamerican` | SCOWL licence: use, copy, modify, distribute and sell permitted with the copyright notice (Copyright 2000-2011 Kevin Atkinson) | as above |
| Our own syllable and template rules (`tools/starters/namegen.py`) | — | MIT, as Assetsmith | item, creature and place names in fantasy, sci-fi and cute styles; item lore; NPC lines; ad slogans |

## WordNet 3.0 licence

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.

Permission to use, copy, modify and distribute this software and database and its
documentation for any purpose and without fee or royalty is hereby granted, provided that you
agree to comply with the following copyright notice and statements, including the disclaimer,
and that the same appear on ALL copies of the software, database and documentation, including
modifications that you make for internal use or for distribution.

THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION,
PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANTABILITY OR FITNESS FOR
ANY PARTICULAR PURPOSE OR THAT THE USE OF THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION
WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR OTHER RIGHTS.

The name of Princeton University or Princeton may not be used in advertising or publicity
pertaining to distribution of the software and/or database. Title to copyright in this
software, database and any associated documentation shall at all times remain with Princeton
University and LICENSEE agrees to preserve same.
"""


def card(s: dict) -> str:
    p, shipped = s["params"], s["shipped"]
    evals = "\n".join(f"| {e['step']} | {e['val_loss']:.3f} | {e['perplexity']:.2f} |" for e in s["evals"])
    return f"""# {NAME}: a tiny GPT-2 for game names and one-line descriptions

`starter:causal-lm/{NAME}` is the text engine's default model: it ships with Assetsmith, so the
Text workspace and `assetsmith generate --engine causal-lm` work with no download. It is a
{MODEL['n_layer']}-layer GPT-2 ({MODEL['n_embd']} wide, {MODEL['n_head']} heads, a {VOCAB}-token byte-level BPE) trained
from scratch by `tools/starters/text_names.py` on the corpus below.

## What it is good for

It **continues text**; it does not follow instructions (it has no chat template, so the
presets give it their completion prompt). It writes, in the shape of its corpus:

| Preset (completion prompt) | What it was trained to write |
|---|---|
| Item names (`Names of potions in a fantasy game:\\n1.`) | a numbered list of made-up item names; any kind: swords, rings, staffs, tomes, blasters, starships, candies ... and `fantasy`, `sci-fi` or `cute` |
| Creature names (`Bestiary, swamp creatures:\\n1.`) | creature names (swamp, forest, cave, sea, desert, mountain, undead, dragons, spirits, alien creatures, robots, cute pets, slimes; real birds, fish, snakes, insects) |
| Place names (`Map of the north, mountain villages:\\n1.`) | towns, dungeons, forests, kingdoms, taverns, islands, castles, planets, space stations, cozy villages |
| Item names with descriptions (`Magic rings of the realm, each with its lore:\\n1.`) | `Name: one-line lore` items |
| Item description (`Item: a potion that lets you breathe underwater.\\nDescription:`) | one or two sentences of flavour text |
| NPC dialogue line, Ad slogans | short lines recombined from a small set of our own templates: usable, repetitive |

Names are new combinations of the corpus's syllables and words. This build is small ({shipped['parameters'] / 1e6:.1f} M
parameters, {s['epochs']} epochs, see Training): lists mostly stay on their subject, but a name
can repeat or come out doubled ("Hollow Hollow Stars"), invented words turn up in sentences,
and how many names a list gets varies from seed to seed. Descriptions and dialogue lines are whole
sentences recombined from the corpus's templates: usable, and repetitive across seeds. Re-roll
the seed and keep the good ones. Anything outside these shapes (questions, stories, code) gives
text-shaped noise: choose a real model (File → Models…) for that.

## Data

{s['documents']:,} documents, {s['corpus_tokens']['train'] + s['corpus_tokens']['val']:,} tokens, written by `text_names.py corpus` as JSON lines:
lists of made-up names and item lore from our own syllable and template rules
(`tools/starters/namegen.py`), WordNet 3.0 noun glosses as descriptions and lists of real
things, animals and plants, the Devil's Dictionary, and small template sets of NPC lines and ad
slogans. Sources and licences: `LICENSE-DATA.md`.

## Training

Through the same harness and `causal-lm` trainer users run (`assetsmith train --engine
causal-lm`): {p['steps']} steps of {p['batch_size']} blocks of {p['block_size']} tokens ({s['tokens_seen']:,} tokens,
{s['epochs']} epochs), AdamW, learning rate {p['lr']} with {p['warmup_steps']} warm-up steps and a cosine decay,
no dropout, seed {p['seed']}, {p['threads']} CPU thread{'s' if p['threads'] > 1 else ''}.

- Training time here (2-core CPU, {p['threads']} thread{'s' if p['threads'] > 1 else ''}): **{s['wall_s'] / 60:.1f} minutes** wall for the whole run
  ({s['tokens_per_s']:,.0f} tokens/s while stepping).
- Held out: {p['val_fraction']:.0%} of the documents ({s['corpus_tokens']['val']:,} tokens), never trained on.

As the run went (the trainer's evaluation: the first {p['eval_samples']} held-out blocks):

| step | validation loss | perplexity |
|---:|---:|---:|
{evals}

Shipped weights (fp16, loaded by the text engine in float32 on the CPU) on all
{shipped['val_blocks']} held-out blocks ({shipped['val_tokens']:,} tokens): loss **{shipped['val_loss']:.3f}**, perplexity
**{shipped['val_perplexity']:.2f}**. The held-out documents come from the same generators and
sources as the training ones, so this says how well it learnt the corpus's shapes, not how good
its names are.

## Make it again, or train it longer

Everything is seeded, so the same machine and thread count make the same model. The last
quarter of this run lowered the validation loss by only {s['evals'][-2]['val_loss'] - s['evals'][-1]['val_loss']:.3f}: more steps of this
model help little now; a wider model (`MODEL` in the script) is the next thing to try.
At the speed above, every 1000 steps take about {1000 * p['batch_size'] * p['block_size'] / s['tokens_per_s'] / 60:.0f} minutes here:

```sh
python tools/starters/text_names.py corpus
python tools/starters/text_names.py base
flock /tmp/assetsmith-heavy.lock python tools/starters/text_names.py train --steps {p['steps']}
python tools/starters/text_names.py ship && python tools/starters/text_names.py media
```

(`.venv/bin/python` in a checkout.) Or continue from this model on your own text:
`assetsmith train --engine causal-lm --base starter:causal-lm/{NAME} --data FOLDER --project P`.
"""


# -- media ---------------------------------------------------------------------------------------
MEDIA = [("Item names", {"subject": "potions"}, 3), ("Creature names", {"subject": "swamp creatures"}, 3),
         ("Place names", {"subject": "mountain villages"}, 3),
         ("Item names with descriptions", {"subject": "magic rings"}, 3),
         ("Item description", {"subject": "a potion that lets you breathe underwater"}, 3),
         ("NPC dialogue line", {"subject": "a grumpy blacksmith greeting the player"}, 3)]


def cmd_media(args) -> None:
    """Real output of the shipped model for a few presets, through the text engine."""
    import torch

    from engines.api import NullEvents
    from engines.text.causal_lm import CausalLMEngine
    from studio import presets

    torch.set_num_threads(2)
    engine = CausalLMEngine()
    engine.load(str(TARGET), "cpu")
    by_name = {p.name: p for p in presets.load("text")}
    parts = [f"# Sample text of `starter:causal-lm/{NAME}`\n",
             "Made by `python tools/starters/text_names.py media`: the text presets' completion prompts "
             "(the starter has no chat template), seeds 1, 2, 3, the presets' own settings; nothing picked "
             "or edited. List presets give one output per item; the prompt is in **bold**.\n"]
    for preset_name, fields, seeds in MEDIA:
        preset = by_name[preset_name]
        request = preset.request(chat=False, model=f"starter:causal-lm/{NAME}", seed=1, **fields)
        parts.append(f"## {preset_name}\n\n**`{request.prompt!r}`**\n")
        for seed in range(1, seeds + 1):
            outputs = engine.generate(request.replace(seed=seed, count=1), NullEvents())
            if preset.mode == "list":
                parts.append(f"seed {seed}: " + " · ".join(o.data for o in outputs) + "\n")
            else:
                parts.append(f"seed {seed}: {outputs[0].data.strip()}\n")
    SAMPLES_MD.parent.mkdir(parents=True, exist_ok=True)
    SAMPLES_MD.write_text("\n".join(parts))
    print(SAMPLES_MD.read_text())
    readme_block(engine, by_name)


def readme_block(engine, by_name: dict) -> None:
    """The README's short sample (between its text-samples markers): three list presets, seed 3."""
    from engines.api import NullEvents

    lines = []
    for preset_name, fields, _ in MEDIA[:3]:
        request = by_name[preset_name].request(chat=False, seed=3, **fields)
        items = [o.data for o in engine.generate(request, NullEvents())]
        lines.append(f"{request.prompt.splitlines()[0]}  " + " · ".join(items[:8]))
    readme = REPO / "README.md"
    text = readme.read_text()
    start, end = "<!-- text-samples: made by tools/starters/text_names.py media -->", "<!-- /text-samples -->"
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} ... {end} block to fill")
    block = start + "\n```text\n" + "\n".join(lines) + "\n```\n" + end
    readme.write_text(text[:text.index(start)] + block + text[text.index(end) + len(end):])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("corpus", "base", "train", "ship", "media", "all"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/assetsmith-starter-text"))
    parser.add_argument("--scale", type=float, default=1.0, help="corpus: share of the generated documents")
    parser.add_argument("--steps", type=int, help="train: steps (default %d)" % TRAIN["steps"])
    parser.add_argument("--threads", type=int, help="train: CPU threads (default %d)" % TRAIN["threads"])
    parser.add_argument("--probe", type=int, metavar="STEPS", help="train: a short run of STEPS to measure tokens/s")
    parser.add_argument("--budget-s", type=float, help="train: probe first, then as many steps as fit this wall time")
    args = parser.parse_args(argv)
    commands = {"corpus": cmd_corpus, "base": cmd_base, "train": cmd_train, "ship": cmd_ship, "media": cmd_media}
    for name in (commands if args.command == "all" else [args.command]):
        commands[name](args)


if __name__ == "__main__":
    main()
