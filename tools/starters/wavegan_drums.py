"""The `wavegan` starter model, `starter:wavegan/drums`: drum hits and short one-shots.

    .venv/bin/python tools/starters/wavegan_drums.py data            # install + gather the CC0 clips, show the report
    .venv/bin/python tools/starters/wavegan_drums.py probe [--seconds 30]   # training throughput here
    flock /tmp/assetsmith-heavy.lock .venv/bin/python tools/starters/wavegan_drums.py train [--steps N]
    .venv/bin/python tools/starters/wavegan_drums.py media           # docs/starters/wavegan-drums.png

Data: the CC0 samples of Debian's `sonic-pi-samples` (only the files its copyright file lists
under "License: CC0"; the others are MIT, and are left out) of the one-shot kinds (kicks, drums,
electronic hits, percussion, snares, tabla, a few effects), and the CC0 Audiophob kit of
`hydrogen-drumkits`, installed with apt-get when missing. The clips are gathered into a folder
(WORK/data) and trained on through the same code a user's run goes through
(studio.training -> python -m engines.train, as `assetsmith train --engine wavegan` does); the
finished model, a CARD.md and a LICENSE-DATA.md are written into resources/models/wavegan/drums/.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

NAME = "drums"
TARGET = REPO / "resources" / "models" / "wavegan" / NAME
MEDIA = REPO / "docs" / "starters" / "wavegan-drums.png"
SONIC_PI = Path("/usr/share/sonic-pi/samples")
SONIC_PI_COPYRIGHT = Path("/usr/share/doc/sonic-pi-samples/copyright")
HYDROGEN_KIT = Path("/usr/share/hydrogen/data/drumkits/Audiophob")
HYDROGEN_COPYRIGHT = Path("/usr/share/doc/hydrogen-drumkits/copyright")
PACKAGES = ("sonic-pi-samples", "hydrogen-drumkits")
# Sonic Pi's one-shot kinds; loops, ambient drones, bass notes and guitar chords are not one-shots.
ONE_SHOT_PREFIXES = ("bd_", "drum_", "elec_", "perc_", "sn_", "tabla_", "misc_", "vinyl_")
# The model: 8192 samples at 16 kHz (0.51 s, half the paper's 16384) holds nearly every hit of
# the set whole (median ~0.35 s; longer tails are faded out at the cut) at half the paper's cost
# per step. One thread: on the shared 2-core machine a 25 s probe trained 102 clips/s with 1
# thread and 15.8 with 2 (OpenMP's threads wait on each other whenever another process is busy).
SETTINGS = {"sample_rate": 16000, "length": 8192, "latent_dim": 100, "g_width": 8, "d_width": 8,
            "batch_size": 16, "seed": 0, "threads": 1, "val_fraction": 0.1, "eval_samples": 64,
            "checkpoint_every": 500, "keep_checkpoints": 1}
RUN_OVERHEAD_S = 60  # a run's start-up, data preparation, evaluations and export, besides its steps


def work_folder(args) -> Path:
    return Path(args.work).expanduser().resolve()


# -- data ---------------------------------------------------------------------------------------
def ensure_packages() -> None:
    missing = [p for p, path in zip(PACKAGES, (SONIC_PI_COPYRIGHT, HYDROGEN_COPYRIGHT)) if not path.is_file()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"the CC0 samples come from Debian packages: sudo apt-get install {' '.join(missing)}")
    print(f"installing {' '.join(missing)} with apt-get ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def debian_stanzas(path: Path) -> list[dict]:
    """The paragraphs of a machine-readable Debian copyright file, as {field: value}."""
    stanzas = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip()
                fields[key] = value.strip()
        if fields:
            stanzas.append(fields)
    return stanzas


def sonic_pi_cc0() -> list[dict]:
    """The Sonic Pi samples the copyright file licenses as CC0, with their author and source.
    A file is taken only where a stanza naming it exactly says CC0 (the catch-all `Files: *`
    stanza is MIT)."""
    found = []
    for stanza in debian_stanzas(SONIC_PI_COPYRIGHT):
        if stanza.get("License", "").split("\n")[0].strip() != "CC0":
            continue
        for pattern in stanza.get("Files", "").split():
            name = Path(pattern).name
            if pattern.startswith("etc/samples/") and "*" not in pattern and (SONIC_PI / name).is_file():
                source = stanza.get("Source") or next(
                    (w for w in stanza.get("Copyright", "").split() if w.startswith("http")), "")
                found.append({"file": name, "copyright": stanza.get("Copyright", "").split("\n")[0],
                              "source": source.split()[0] if source else "", "license": "CC0-1.0"})
    return found


def audiophob_cc0() -> list[dict]:
    """The Audiophob kit's samples, when hydrogen-drumkits' copyright file still says CC0 for it."""
    kit = next((s for s in debian_stanzas(HYDROGEN_COPYRIGHT) if "Audiophob" in s.get("Files", "")), None)
    if kit is None or kit.get("License", "").split("\n")[0].strip() != "CC0":
        return []
    return [{"file": p.name, "copyright": kit.get("Copyright", ""), "source": "hydrogen-drumkits, Audiophob kit",
             "license": "CC0-1.0"} for p in sorted(HYDROGEN_KIT.glob("*.wav"))]


def gather(work: Path) -> tuple[Path, list[dict]]:
    """Copy the CC0 one-shots into WORK/data (sonic-pi/, audiophob/); returns the folder and
    what is in it."""
    ensure_packages()
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    rows = []
    for row in sonic_pi_cc0():
        if row["file"].startswith(ONE_SHOT_PREFIXES):
            rows.append({**row, "path": f"sonic-pi/{row['file']}", "package": "sonic-pi-samples"})
    rows += [{**row, "path": f"audiophob/{row['file']}", "package": "hydrogen-drumkits"} for row in audiophob_cc0()]
    for row in rows:
        source = (SONIC_PI if row["package"] == "sonic-pi-samples" else HYDROGEN_KIT) / row["file"]
        (data / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, data / row["path"])
    return data, rows


def cmd_data(args) -> int:
    from engines.train import schema

    data, rows = gather(work_folder(args))
    report = schema.scan("wavegan", data, schema.resolve("wavegan", SETTINGS))
    print(json.dumps({"folder": str(data), "files": len(rows), "summary": report["summary"],
                      "skipped": report["skipped"], "duplicates": report["duplicates"]}, indent=1))
    return 0


# -- training -----------------------------------------------------------------------------------
def train(work: Path, data: Path, params: dict, stop_after_s: float | None = None, quiet: bool = False):
    """One run through studio.training (the child process users' runs are); returns its
    folder and events."""
    from studio import training
    from studio.project import Project

    project = work / ("probe.assetsmith" if stop_after_s else "starter.assetsmith")
    shutil.rmtree(project, ignore_errors=True)
    Project.open(project).close()
    run = training.TrainingProcess.start(project, "wavegan", data, params, name=NAME)
    seen, first_step = [], None
    for event in run.events():
        seen.append(event)
        kind = event["event"]
        if kind == "step":
            first_step = first_step or time.time()
            if stop_after_s and time.time() - first_step >= stop_after_s:
                run.stop()
            elif not quiet and event["step"] % 50 == 0:
                print(f"step {event['step']}/{params['steps']}  {event['losses']}", file=sys.stderr, flush=True)
        elif kind in ("eval", "failed", "data") and not quiet:
            print(json.dumps(event), file=sys.stderr, flush=True)
    if seen and seen[-1]["event"] == "failed":
        sys.exit(f"training failed: {seen[-1]['error']}")
    return project, run.folder, seen


def throughput(events: list[dict], batch: int) -> float:
    """Clips per second over the steps after the first (which warms up)."""
    steps = [e for e in events if e["event"] == "step"]
    if len(steps) < 3:
        return float("nan")
    return (len(steps) - 1) * batch / (steps[-1]["time"] - steps[0]["time"])


def probe(work: Path, data: Path, overrides: dict, seconds: float, budget_minutes: float) -> dict:
    """Train for `seconds` with the starter's settings and say how many steps fit the budget
    (less what a run spends besides its steps: start-up, data, evaluations, export)."""
    params = {**SETTINGS, **overrides, "steps": 1_000_000, "sample_every": 0, "eval_every": 0}
    project, _, events = train(work, data, params, stop_after_s=seconds, quiet=True)
    shutil.rmtree(project, ignore_errors=True)
    rate = throughput(events, params["batch_size"])
    steps_per_s = rate / params["batch_size"]
    return {"seconds": seconds, "clips_per_s": round(rate, 2), "steps_per_s": round(steps_per_s, 3),
            "steps_in_budget": int((budget_minutes * 60 - RUN_OVERHEAD_S) * steps_per_s),
            "settings": {k: params[k] for k in ("length", "g_width", "d_width", "batch_size", "threads")}}


def cmd_probe(args) -> int:
    work = work_folder(args)
    data, _ = gather(work)
    print(json.dumps(probe(work, data, parse(args.param), args.seconds, args.budget_minutes)))
    return 0


def reference_distances(run_folder: Path, params: dict) -> dict:
    """What the run's figure is to be read against: real training clips against the same held-out
    clips (the floor a perfect model would reach), and the untrained generator (the start)."""
    import torch
    from safetensors.numpy import load_file

    from engines import devices
    from engines.train import audio_eval, schema
    from engines.train.wavegan_trainer import WaveGanTrainer

    arrays = load_file(run_folder / "data" / "dataset.safetensors")
    train_clips, val = arrays["train"], arrays["val"]
    devices.set_threads(params["threads"])
    real = audio_eval.logmel_distance(val, train_clips, params["sample_rate"])["frechet_logmel"]
    resolved = schema.resolve("wavegan", params)
    generator = torch.Generator("cpu").manual_seed(resolved["seed"])  # as the harness starts a run
    torch.manual_seed(resolved["seed"])
    untrained = WaveGanTrainer(resolved, "cpu", generator).evaluate(torch.from_numpy(val), resolved["seed"])
    return {"real_train_vs_val": real, "untrained": untrained["frechet_logmel"]}


def cmd_train(args) -> int:
    work = work_folder(args)
    data, rows = gather(work)
    steps, measured = args.steps, None
    if steps is None:  # sized to the time budget by a short run first
        measured = probe(work, data, parse(args.param), args.probe_seconds, args.budget_minutes)
        print(json.dumps({"probe": measured}), file=sys.stderr, flush=True)
        steps = max(1, measured["steps_in_budget"])
    params = {**SETTINGS, "steps": steps, "sample_every": max(1, steps // 4), "eval_every": max(1, steps // 4),
              **parse(args.param)}
    started = time.time()
    project, run_folder, events = train(work, data, params)
    wall = time.time() - started
    first = next(e for e in events if e["event"] == "started")
    done = next(e for e in events if e["event"] == "finished")
    evals = [(e["step"], e["metrics"]) for e in events if e["event"] == "eval"]
    data_event = next(e for e in events if e["event"] == "data")
    refs = reference_distances(run_folder, params)
    tmp = TARGET.with_name(f".tmp-{NAME}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("model.json", "generator.safetensors"):
        shutil.copyfile(project / "models" / NAME / name, tmp / name)
    report = json.loads((run_folder / "data" / "report.json").read_text())
    facts = {"train_s": done["time"] - first["time"], "wall_s": wall, "clips_per_s": throughput(events, params["batch_size"]),
             "steps": done["step"], "evals": evals, "refs": refs, "data": data_event, "report": report,
             "params": first["params"], "rows": rows, "threads": first["threads"], "probe": measured,
             "command": " ".join(["tools/starters/wavegan_drums.py", *sys.argv[1:]])}
    (work / "facts.json").write_text(json.dumps(facts, indent=1))  # `card` re-renders CARD.md from it
    (tmp / "CARD.md").write_text(card(facts))
    (tmp / "LICENSE-DATA.md").write_text(license_data(rows, report))
    shutil.rmtree(TARGET, ignore_errors=True)
    tmp.rename(TARGET)
    shutil.copyfile(run_folder / "samples" / f"step-{done['step']:08d}.wav", work / "last-sample.wav")
    print(json.dumps({"model": str(TARGET), "train_s": round(facts["train_s"], 1), "final": evals[-1][1],
                      "references": refs, "sample": str(work / "last-sample.wav")}))
    return 0


def cmd_card(args) -> int:
    """Write CARD.md again from the last run's facts (after an edit of its text), without training."""
    facts = json.loads((work_folder(args) / "facts.json").read_text())
    (TARGET / "CARD.md").write_text(card(facts, TARGET / "generator.safetensors"))
    return 0


def card(f: dict, weights_file: Path | None = None) -> str:
    p = f["params"]
    last_step, last = f["evals"][-1]
    curve = ", ".join(f"step {s}: {m['frechet_logmel']:.0f}" for s, m in f["evals"])
    weights = (weights_file or TARGET.parent / f".tmp-{NAME}" / "generator.safetensors").stat().st_size
    settings = ", ".join(f"{k}={p[k]}" for k in ("sample_rate", "length", "latent_dim", "g_width", "d_width",
                                                   "phase_shuffle", "diffaug", "batch_size", "lr", "beta1", "beta2",
                                                   "normalize", "seed", "threads"))
    sized = (f" The step count was sized to the time budget by a {f['probe']['seconds']:g} s run first "
             f"({f['probe']['clips_per_s']} clips/s)." if f["probe"] else "")
    longer = " ".join(f"--param {k}={p[k]}" for k in ("sample_rate", "length", "g_width", "d_width", "batch_size",
                                                      "threads"))
    threads = f"{f['threads']} thread" + ("s" if f["threads"] != 1 else "")
    return f"""# starter:wavegan/drums

A WaveGAN (Donahue et al., "Adversarial Audio Synthesis", 2019; `engines/audio/wavegan.py`) that
makes **drum hits, percussion and short one-shot effects**: {p['length']} samples at
{p['sample_rate'] // 1000} kHz mono ({p['length'] / p['sample_rate']:.2f} s) per clip, chosen by the seed; count,
variation seed and strength, truncation and every audio post-processing step (trim, fades, loudness,
sample rate, channels) apply. What to expect from a model this small, trained for minutes on a
2-core CPU: kick- and tom-like decaying low tones, snare- and hat-like noise bursts, clicks, and now
and then a long noisy cymbal-like wash; lo-fi and grainy, not a polished sample library. Some seeds
end with a faint artefact in the last few milliseconds (around -40 dBFS): `--param fade_out_s=0.02`
removes it. Not good for: music, loops, speech, anything longer than {p['length'] / p['sample_rate']:.2f} s.

```sh
assetsmith generate --engine wavegan --seed 5 --count 4 --project P
assetsmith generate --engine wavegan --seed 5 --param variation_seed=6 --param variation_strength=0.2 --project P
```

## Data

{f['data']['summary']}, after the scan of `engines/train/audio_data.py` (mono,
resampled to {p['sample_rate']} Hz, leading silence cut, cut or padded to the clip length, peak-normalised
to -1 dBFS). {len(f['rows'])} files gathered: the CC0 one-shots of Debian's `sonic-pi-samples` (files whose
stanza in its copyright file says `License: CC0`, with the prefixes {', '.join(ONE_SHOT_PREFIXES)}) and the
CC0 Audiophob kit of `hydrogen-drumkits`. Every file, its author and source, and why a file was not
used: [LICENSE-DATA.md](LICENSE-DATA.md).

## Training

`{f['command']}`, under `flock /tmp/assetsmith-heavy.lock`, through `studio.training`
(the child process every user's run is, as `assetsmith train --engine wavegan` starts it).{sized}
{f['steps']} steps of {p['batch_size']} clips in **{f['train_s'] / 60:.1f} minutes** on this machine's CPU
({threads}, {f['clips_per_s']:.1f} clips/s; a shared 2-core development machine, where one thread trained
about six times faster than two), non-saturating loss, spectral-norm discriminator with phase shuffle.
Settings: {settings}. Generator weights: {weights / 1e6:.1f} MB.

To train longer (the same data and settings, more steps):

```sh
.venv/bin/python tools/starters/wavegan_drums.py data   # gathers the clips into /tmp/assetsmith-starters/wavegan-drums/data
assetsmith train --engine wavegan --data /tmp/assetsmith-starters/wavegan-drums/data --project P --name drums-long \\
    {longer} --param steps=20000
```

or `tools/starters/wavegan_drums.py train --steps 20000` to rebuild this folder.

## Evaluation

Fréchet distance between log-mel-spectrogram frame statistics (64 mel bands in dB, floored at -80 dB;
512-sample frames; plain numpy, `engines/train/audio_eval.py`) of {last['fake']} generated clips and the
{last['real']} held-out real clips: **{last['frechet_logmel']:.0f}** at step {last_step} (lower is closer). To read it
against: the untrained generator scores {f['refs']['untrained']:.0f}, and the {f['report']['train']} real training clips
against the same held-out clips {f['refs']['real_train_vs_val']:.0f} (what a model that made real drums would reach).
During training: {curve} (a GAN's figure moves about from one evaluation to the next).
**Not comparable to published FAD**, which uses VGGish embeddings: compare runs of this app only.
"""


def license_data(rows: list[dict], report: dict) -> str:
    why = {s["file"]: f"no: {s['reason']}" for s in report["skipped"]}
    why.update({d["file"]: f"no: duplicate of {d['duplicate_of']}" for d in report["duplicates"]})
    lines = ["# Training data of starter:wavegan/drums", "",
             "All clips are CC0 1.0 (public domain dedication), as the Debian packages' copyright files",
             "state: `/usr/share/doc/sonic-pi-samples/copyright` (one stanza per sample; only the samples",
             "its stanzas license as CC0 were used: the others in the package are MIT and were left out)",
             "and `/usr/share/doc/hydrogen-drumkits/copyright` (the Audiophob kit: \"This work is licensed",
             "under the Creative Commons 0 License\"). Only the trained weights ship; the sounds stay in",
             "the packages. CC0 asks no attribution; the authors are listed with thanks.", "",
             "| file | package | author | source | licence | used |", "|---|---|---|---|---|---|"]
    for row in rows:
        used = why.get(row["path"], "yes")
        lines.append(f"| {row['file']} | {row['package']} | {row['copyright']} | {row['source']} | "
                     f"{row['license']} | {used} |")
    return "\n".join(lines) + "\n"


# -- media --------------------------------------------------------------------------------------
def cmd_media(args) -> int:
    """Waveforms of a few generated sounds (seeds 0..N-1) as a PNG for the README."""
    import numpy as np
    from PIL import Image, ImageDraw

    from engines import devices
    from engines.api import NullEvents, Request
    from engines.audio.wavegan import WaveGanEngine
    from studio.player import peaks

    devices.set_threads(2)
    engine = WaveGanEngine()
    engine.load(str(TARGET), "cpu")
    outputs = engine.generate(Request(engine="wavegan", seed=args.seed, count=args.count), NullEvents())
    cols, panel_w, panel_h, pad, label = 2, 400, 110, 12, 18
    rows = (len(outputs) + cols - 1) // cols
    image = Image.new("RGB", (cols * (panel_w + pad) + pad, rows * (panel_h + label + pad) + pad), (30, 30, 30))
    draw = ImageDraw.Draw(image)
    for i, out in enumerate(outputs):
        x0 = pad + (i % cols) * (panel_w + pad)
        y0 = pad + (i // cols) * (panel_h + label + pad)
        draw.text((x0, y0), f"seed {out.seed}  {out.duration_s:.2f} s  {out.sample_rate} Hz", fill=(200, 200, 200))
        top, mid = y0 + label, y0 + label + panel_h / 2
        draw.rectangle([x0, top, x0 + panel_w - 1, top + panel_h - 1], fill=(22, 22, 22))
        draw.line([x0, mid, x0 + panel_w - 1, mid], fill=(70, 70, 70))
        for c, (lo, hi) in enumerate(peaks(out.data, panel_w)):
            draw.line([x0 + c, mid - hi * panel_h / 2, x0 + c, mid - lo * panel_h / 2], fill=(110, 190, 255))
    MEDIA.parent.mkdir(parents=True, exist_ok=True)
    image.save(MEDIA, optimize=True)
    print(json.dumps({"png": str(MEDIA.relative_to(REPO)), "seeds": [o.seed for o in outputs],
                      "peak_dbfs": [round(float(20 * np.log10(np.abs(o.data).max() + 1e-9)), 1) for o in outputs]}))
    return 0


def parse(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/assetsmith-starters/wavegan-drums", help="work folder (data, runs)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("data", help="install and gather the CC0 clips; print the data report")
    probe = sub.add_parser("probe", help="train for a few seconds and report the throughput")
    probe.add_argument("--seconds", type=float, default=30.0)
    probe.add_argument("--budget-minutes", type=float, default=12.0)
    probe.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    train_p = sub.add_parser("train", help="train the starter and write resources/models/wavegan/drums/")
    train_p.add_argument("--steps", type=int, help="training steps (default: as many as fit --budget-minutes, "
                         "measured by a --probe-seconds run first)")
    train_p.add_argument("--budget-minutes", type=float, default=11.0)
    train_p.add_argument("--probe-seconds", type=float, default=30.0)
    train_p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("card", help="write CARD.md again from the last run's facts")
    media = sub.add_parser("media", help="draw the waveforms of a few generated sounds into docs/starters/")
    media.add_argument("--seed", type=int, default=0)
    media.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    return {"data": cmd_data, "probe": cmd_probe, "train": cmd_train, "card": cmd_card,
            "media": cmd_media}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
