"""GAN training images/s: our harness over a plain DCGAN loop, and generation latency.

Training: `engines.train.harness.run` (the code a training run executes: batches from the
prepared dataset, augmentation call, trainer step, stop check, one JSON event per step) with
the GAN set up as DCGAN (64x64 RGB, ngf = ndf = 64, nz = 100, batch 64, batch norm in the
discriminator, no augmentation, no moving average of the generator) over
bench/dcgan_reference.py, a plain loop written after pytorch/examples' dcgan/main.py with
random tensors as data. Same threads. Images/s are
timed from the end of step 1 to the end of the last (step 1 warms up), rounds interleaved,
medians quoted. Goal: ratio >= 1.0.

Generation: latency of one image through `GanEngine.generate` (schema check, seeded latent,
uint8 conversion, recipe) over calling the same generator module on the same latent.
Usage: .venv/bin/python bench/bench_gan_train.py [--rounds N] [--steps N]
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import dcgan_reference  # noqa: E402
from engines.api import NullEvents, Request  # noqa: E402
from engines.image import gan  # noqa: E402
from engines.image.gan import GanEngine  # noqa: E402
from engines.tiny_models import build_tiny_gan  # noqa: E402
from engines.train import harness  # noqa: E402

BATCH, SIZE, WIDTH, NZ = 64, 64, 64, 100


class TimedEmitter(harness.Emitter):
    """The harness's own emitter (it writes events.jsonl), noting when each step ended."""

    def __init__(self, run_dir, run_id):
        super().__init__(run_dir, run_id, stdout=None)
        self.step_ends = []

    def __call__(self, event, **fields):
        if event == "step":
            self.step_ends.append(time.perf_counter())
        return super().__call__(event, **fields)


def timed_run(workdir: Path, round_: int, engine: str, data: Path, params: dict) -> list[float]:
    """One training run through the harness in this process; when each step ended."""
    run_dir = workdir / f"run-{round_}"
    run_dir.mkdir()
    config = {"run_id": run_dir.name, "engine": engine, "data": str(data), "params": params}
    (run_dir / "config.json").write_text(json.dumps(config))
    emit = TimedEmitter(run_dir, run_dir.name)
    try:
        harness.run(run_dir, config, emit=emit)
    finally:
        emit.close()
    return emit.step_ends


def images_per_s(ends: list[float]) -> float:
    return (len(ends) - 1) * BATCH / (ends[-1] - ends[0])


def ours(data: Path, workdir: Path, steps: int, round_: int) -> float:
    params = {"steps": steps, "batch_size": BATCH, "resolution": SIZE, "g_width": WIDTH, "d_width": WIDTH,
              "latent_dim": NZ, "d_norm": "batch", "g_ema": 0.0, "flips": False, "val_fraction": 0.0,
              "near_duplicate_distance": 0,
              "checkpoint_every": 10_000, "sample_every": 0, "eval_every": 0, "eval_samples": 2,
              "threads": torch.get_num_threads()}
    return images_per_s(timed_run(workdir, round_, "gan", data, params))


def reference(steps: int) -> float:
    return images_per_s(dcgan_reference.train(steps, BATCH, SIZE, NZ, WIDTH))


def generation_latency(workdir: Path, rounds: int = 31) -> tuple[float, float]:
    model = build_tiny_gan(workdir / "gen-model", resolution=SIZE, width=WIDTH, latent_dim=NZ)
    engine = GanEngine()
    engine.load(str(model), "cpu")
    module = engine.generator
    request = Request(engine="gan", seed=3)
    z = gan.latent(3, NZ)

    def bare():
        with torch.inference_mode():
            return module(z)

    times = {"ours": [], "bare": []}
    for fn in (lambda: engine.generate(request, NullEvents()), bare):
        fn()
    for _ in range(rounds):
        for name, fn in (("ours", lambda: engine.generate(request, NullEvents())), ("bare", bare)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["ours"]), statistics.median(times["bare"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="assetsmith-bench-gan-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        for i in range(4 * BATCH):  # random images, as the reference's random tensors
            Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(data / f"{i:04d}.png")
        ours_ips, ref_ips = [], []
        for r in range(args.rounds):
            ours_ips.append(ours(data, workdir, args.steps, r))
            ref_ips.append(reference(args.steps))
            torch.set_num_threads(threads)
        o, b = statistics.median(ours_ips), statistics.median(ref_ips)
        where = (f"median of {args.rounds}, interleaved, {args.steps} steps each, DCGAN {SIZE}x{SIZE} ngf=ndf={WIDTH} "
                 f"batch {BATCH}, cpu, {threads} threads")
        print(f"GAN training: ours {o:.1f} img/s / plain DCGAN loop {b:.1f} img/s = {o / b:.3f} ({where})")
        lat_ours, lat_bare = generation_latency(workdir)
        print(f"GAN generation latency per image: ours {lat_ours * 1e3:.2f} ms / bare generator call "
              f"{lat_bare * 1e3:.2f} ms = {lat_ours / lat_bare:.3f} (median of 31, {SIZE}x{SIZE}, ngf={WIDTH}, cpu, "
              f"{threads} threads)")


if __name__ == "__main__":
    main()
