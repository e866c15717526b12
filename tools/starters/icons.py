"""What the image starter scripts (gan_icons.py, vae_icons.py) share: the training data, a run
through the app's own training harness, the shipped model folder and the README's sample grid.

The data is our own: 64x64 RGBA game-item icons (potions, gems, coins, swords, shields, hearts,
keys, mushrooms) drawn by `sprites.py` beside this script, in the style of inventory icons.
Procedural items replaced the Noto emoji of the first starters (2026-12-01): 1,248 emoji of a
thousand different subjects were too varied for a small GAN or VAE to learn in an hour of
CPU, and its samples stayed colourful blobs; eight kinds of item with strong, consistent
silhouettes and endless variation in colour and proportion are learnt recognisably. The data
stays in the work folder (outside the repository); only the trained weights, model.json,
CARD.md and LICENSE-DATA.md ship.

Training is `studio.training.TrainingProcess`, the same child process (`python -m engines.train
RUN_DIR`) that `assetsmith train` and the Train workspace start: no loop of its own here.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the app's packages import
sys.path.insert(0, str(Path(__file__).resolve().parent))
import sprites  # noqa: E402  (beside this script)

PER_KIND = 500  # icons of each kind: 4,000 in all
DEFAULT_WORK = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "assetsmith-starters"
# One CPU thread for training and the sample grids: on this busy shared 2-core machine two
# threads made trainer steps 4-10x slower than one (OpenMP waits for a thread that another
# process holds; bench/README.md saw the same for the audio engines).
THREADS = 1


def items_folder(work: Path, size: int = 64) -> Path:
    """The item icons in work/items-SIZE/ (drawn once; sprites.py keeps a marker beside it)."""
    return sprites.sprite_folder(work / f"items-{size}", per_kind=PER_KIND, size=size, seed=0)


# -- training, through the app's harness --------------------------------------------------------

def train(engine: str, data: Path, params: dict, work: Path, name: str, seconds: float | None = None) -> dict:
    """One run in the work project (work/project/runs/RUN_ID/), to the end or, with `seconds`,
    stopped after that long (a throughput measurement). Returns what it measured."""
    from studio import training

    project = work / "project"
    project.mkdir(parents=True, exist_ok=True)
    name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    run = training.TrainingProcess.start(project, engine, data, {**params, "threads": THREADS}, name)
    print(f"run {run.folder}", file=sys.stderr)
    start = time.perf_counter()
    first_step = None  # a measurement times the steps, not the start-up and data preparation
    speeds, last, metrics, data_summary, stopping = [], None, {}, None, False
    for event in run.events():
        kind = event.get("event")
        if kind == "step":
            speeds.append(event["images_per_s"])
            first_step = first_step or time.perf_counter()
            if event["step"] % 50 == 0:
                print(f"  step {event['step']}: {_fmt(event['losses'])}, {event['images_per_s']} img/s", file=sys.stderr)
            if seconds is not None and not stopping and time.perf_counter() - first_step > seconds:
                (run.folder / "stop").touch()  # the harness's own stop: it saves and exits
                stopping = True
        elif kind == "data":
            data_summary = event["summary"]
            print(f"  data: {data_summary}", file=sys.stderr)
        elif kind == "eval":
            metrics = event["metrics"]
            print(f"  eval at step {event['step']}: {_fmt(metrics)}", file=sys.stderr)
        elif kind == "failed":
            sys.exit(f"training failed: {event['error']} (see {run.folder}/stderr.log)")
        last = event
    wall = time.perf_counter() - start
    stepping = (time.perf_counter() - first_step) if first_step else 0.0
    steady = [s for s in speeds[5:] if s] or [s for s in speeds if s]  # the first steps warm up
    result = {"run": str(run.folder), "engine": engine, "params": params, "threads": THREADS,
              "steps": last.get("step") if last else 0, "wall_s": round(wall, 1),
              "from_first_step_s": round(stepping, 1),
              "images_per_s": round(statistics.median(steady), 1) if steady else None,
              "data": data_summary, "metrics": metrics, "state": (last or {}).get("event")}
    (run.folder / "starter-run.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


def steps_for(engine: str, data: Path, params: dict, work: Path, name: str, minutes: float,
              seconds: float = 25.0) -> int:
    """How many steps of these settings fit `minutes` of wall time now: a short run of the same
    settings is timed (shared machines vary by several times from one hour to the next), and
    the run's start-up, data preparation and evaluation are left room for."""
    probe = train(engine, data, {**params, "steps": 10**6, "sample_every": 0}, work, name + "-measure", seconds)
    rate = probe["steps"] / probe["from_first_step_s"]  # steps/s, checkpoints and all
    setup = probe["wall_s"] - probe["from_first_step_s"]
    steps = int((minutes * 60 - setup - 30) * rate * 0.7) // 50 * 50  # 30 % and 30 s to spare: loads vary
    print(f"{rate:.3f} steps/s ({rate * params['batch_size']:.0f} img/s) -> {steps} steps in {minutes} min",
          file=sys.stderr)
    if steps < 50:
        sys.exit("the machine is too busy to train anything useful in that time; try later or give more minutes")
    return steps


def _fmt(values: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
                     if not isinstance(v, str))


def latest_run(work: Path, engine: str, name: str) -> dict:
    """What `train` recorded of the newest finished run of this starter."""
    found = []
    for record in (work / "project" / "runs").glob("*/starter-run.json"):
        result = json.loads(record.read_text())
        config = json.loads((record.parent / "config.json").read_text())
        if result["state"] == "registered" and result["engine"] == engine and config["name"].startswith(name + "-"):
            found.append((record.parent.name, result))
    if not found:
        sys.exit(f"no finished {engine} run of {name} in {work}/project/runs: run the train sub-command first")
    return max(found)[1]


def real_floor(data: Path, channels: int, seed: int = 0) -> dict:
    """FID/KID between the training and validation images themselves: the best a generator
    could score in this feature space with this many images (the figures' floor)."""
    import numpy as np

    from engines.data import DataOptions, prepare, to_tensor
    from engines.train import evaluate

    dataset = prepare(data, DataOptions(resolution=64, channels=channels, split_seed=seed))
    # As many training images as the evaluation generates, drawn at random: the training list is
    # in file order, and its first 256 were all coins (a floor of 0.41, where a random 256 give 0.08).
    chosen = np.random.default_rng(seed).permutation(len(dataset.train))[:256]
    return evaluate.fid_kid(to_tensor(dataset.val), to_tensor(dataset.train[chosen]))


# -- the shipped folder -------------------------------------------------------------------------

def ship(run: dict, engine: str, name: str, card: str, licence: str) -> Path:
    """resources/models/ENGINE/NAME/: the run's finished model (model.json + weights, as the
    harness exported it) with CARD.md and LICENSE-DATA.md, replaced whole."""
    model = Path(run["run"]) / "model"
    target = REPO / "resources" / "models" / engine / name
    tmp = target.with_name(f".tmp-{name}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model, tmp)
    (tmp / "CARD.md").write_text(card)
    (tmp / "LICENSE-DATA.md").write_text(licence)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    for f in sorted(target.iterdir()):
        print(f"  {f.relative_to(REPO)}  {f.stat().st_size / 1e6:.2f} MB", file=sys.stderr)
    return target


def card_sections(run: dict, floor: dict, script: str, weights: str, sizing: str, extra_rows: str = "") -> str:
    """The parts of a CARD.md both image starters have: training time, evaluation, files.
    `sizing` says how the shipped run's step count was chosen (one or more sentences)."""
    m, steps = run["metrics"], run["steps"]
    hour = int(steps * 3600 / run["wall_s"]) // 100 * 100
    size = (Path(run["run"]) / "model" / weights).stat().st_size / 1e6
    return f"""## Training time (measured here)

{run['wall_s'] / 60:.1f} minutes wall for {steps} steps on a shared 2-core CPU, {_threads(run)}
({run['images_per_s']} training images/s, median of the steps), including the start-up, the data
preparation, the sample grids and the final evaluation. {sizing} The same run again (same
settings, seed, thread count):

    python {script} all --steps {steps}

Train longer for better results: the issue's budget of 60 minutes here is about {hour} steps
(`python {script} all --steps {hour}`, or `--minutes 60`).

## Evaluation

On the {m.get('real')} held-out validation images against {m.get('fake')} generated ones, in the
app's own labelled feature space (`{m.get('feature_net')}`, engines/train/evaluate.py: a fixed
random convolutional network; **not comparable with published Inception FID**, compare runs of
this app only):

| | FID | KID |
|---|---|---|
| this model | {m['fid']:.2f} | {m['kid']:.4f} ± {m['kid_std']:.4f} |
| floor: training images against the validation images | {floor['fid']:.2f} | {floor['kid']:.4f} ± {floor['kid_std']:.4f} |
{extra_rows}
## Files

`model.json` (the config and what the run recorded: parameters, data summary, metrics) and
`{weights}` ({size:.1f} MB, float32, exactly as the harness exported them).
"""


def _threads(run: dict) -> str:
    n = run["threads"]
    return "one thread (faster than two on this busy machine)" if n == 1 else f"{n} threads"


LICENCE = """# Training data of this model

The model was trained on {count} 64x64 RGBA game-item icons ({kinds}; {per_kind} of each),
drawn for it by `tools/starters/sprites.py` in this repository (seed {seed}), and on nothing
else. The drawings are procedural, made by our own code from no other artwork: they and this
model are dedicated to the public domain (CC0 1.0,
https://creativecommons.org/publicdomain/zero/1.0/). No image of the set ships with the model:
only the trained weights.

The data was made and the model trained by `{script}` in this repository.
"""


def licence_text(script: str, data: Path) -> str:
    done = json.loads(data.with_name(data.name + ".json").read_text())
    return LICENCE.format(count=done["count"], kinds=", ".join(sprites.KINDS), per_kind=done["per_kind"],
                          seed=done["seed"], script=script)


# -- the README's sample grid -------------------------------------------------------------------

def sample_grid(engine_name: str, ref: str, out: Path, seeds: range, columns: int = 8, scale: int = 2) -> Path:
    """Outputs of the shipped model (through the engine, as a generation makes them), seeds in
    order, on a light checkerboard that shows their transparency, upscaled for the README."""
    from PIL import Image

    from engines.api import NullEvents, Request

    engine = _loaded(engine_name, ref)
    outputs = engine.generate(Request(engine=engine_name, model=ref, seed=seeds.start, count=len(seeds)),
                              NullEvents())
    _grid([Image.fromarray(o.data) for o in outputs], out, columns, scale)
    print(f"{out.relative_to(REPO)}: {len(outputs)} samples of {ref}, seeds {seeds.start}-{seeds.stop - 1}",
          file=sys.stderr)
    return out


def _loaded(engine_name: str, ref: str):
    """The engine with the shipped model loaded, on the CPU, as a generation loads it."""
    from engines import devices, registry
    from studio import models

    devices.set_threads(THREADS)
    engine_cls = registry.get(engine_name)
    engine = engine_cls()
    engine.load(str(models.resolve(ref, engine_cls).path), "cpu")
    return engine


def data_grid(data: Path, out: Path, per_kind: int = 4, columns: int = 8, scale: int = 2) -> Path:
    """The first training icons of each kind, shown as the sample grids are (what the models learnt from)."""
    from PIL import Image

    _grid([Image.open(data / f"{kind}-{i:04d}.png") for kind in sprites.KINDS for i in range(per_kind)],
          out, columns, scale)
    print(f"{out.relative_to(REPO)}: {per_kind} training icons of each kind", file=sys.stderr)
    return out


def _grid(tiles: list, out: Path, columns: int, scale: int) -> None:
    """Tiles in rows on a light checkerboard that shows their transparency, upscaled (nearest)."""
    from PIL import Image

    side, gap = tiles[0].width, 4
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGBA", (columns * (side + gap) + gap, rows * (side + gap) + gap), (255, 255, 255, 255))
    for i, tile in enumerate(tiles):
        x, y = gap + (i % columns) * (side + gap), gap + (i // columns) * (side + gap)
        sheet.paste(_checkerboard(side), (x, y))
        sheet.alpha_composite(tile.convert("RGBA"), (x, y))
    sheet = sheet.convert("RGB").resize((sheet.width * scale, sheet.height * scale), Image.Resampling.NEAREST)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)


def reconstruction_strip(ref: str, run: dict, out: Path, count: int = 8, scale: int = 2) -> Path:
    """Held-out validation icons (top row) and the VAE's reconstructions of them through
    `init_image` (bottom row), as the engine makes them."""
    from PIL import Image

    from engines.api import NullEvents, Request

    engine = _loaded("vae", ref)
    report = json.loads((Path(run["run"]) / "data" / "report.json").read_text())
    files = report["val_files"][::max(1, len(report["val_files"]) // count)][:count]
    folder = Path(report["folder"])
    originals = [Image.open(folder / name) for name in files]
    remade = [Image.fromarray(engine.generate(Request(engine="vae", model=ref, seed=0,
                                                      params={"init_image": str(folder / name)}),
                                              NullEvents())[0].data) for name in files]
    _grid(originals + remade, out, len(files), scale)
    print(f"{out.relative_to(REPO)}: {len(files)} validation images and their reconstructions", file=sys.stderr)
    return out


def _checkerboard(side: int, cell: int = 8):
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[:side, :side] // cell
    shade = np.where((yy + xx) % 2 == 0, 250, 226).astype(np.uint8)
    return Image.fromarray(np.stack([shade] * 3 + [np.full_like(shade, 255)], axis=-1), "RGBA")


# -- the scripts' command line ------------------------------------------------------------------

def main(argv: list[str] | None, engine: str, name: str, script: str, params: dict, steps: int, card,
         doc: str) -> int:
    """The sub-commands of one starter script (its docstring lists them)."""
    parser = argparse.ArgumentParser(prog=script, description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    parser.add_argument("command", choices=("data", "measure", "train", "ship", "media", "all"))
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="data and runs (outside the repo)")
    parser.add_argument("--steps", type=int, default=steps, help=f"training steps (shipped: {steps})")
    parser.add_argument("--minutes", type=float, default=None,
                        help="instead of --steps: as many steps as fit this many minutes now (timed first)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the measure run")
    args = parser.parse_args(argv)
    data = items_folder(args.work)
    if args.command == "measure":
        train(engine, data, {**params, "steps": 10**6, "sample_every": 0}, args.work, name + "-measure",
              seconds=args.seconds)
    if args.command in ("train", "all"):
        count = steps_for(engine, data, params, args.work, name, args.minutes) if args.minutes else args.steps
        train(engine, data, {**params, "steps": count}, args.work, name)
    if args.command in ("ship", "all"):
        run = latest_run(args.work, engine, name)
        floor = real_floor(data, params["channels"], params["seed"])
        ship(run, engine, name, card(run, floor), licence_text(script, data))
    if args.command in ("media", "all"):
        media = REPO / "docs" / "starters"
        data_grid(data, media / "items64-data.png")  # the same file from either script
        sample_grid(engine, f"starter:{engine}/{name}", media / f"{engine}-{name}.png", range(0, 32))
        if engine == "vae":
            reconstruction_strip(f"starter:{engine}/{name}", latest_run(args.work, engine, name),
                                 media / f"{engine}-{name}-reconstructions.png")
    return 0
