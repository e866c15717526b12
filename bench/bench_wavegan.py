"""WaveGAN generation latency and training clips/s, each against a named reference.

Generation: the latency of one clip through `WaveGanEngine.generate` (schema check, seeded
latent, the edit pass that measures the peak, the recipe) over calling the same generator
module on the same latent; a generator of the starter's size (16 kHz, 8192 samples, d = 8,
random weights built here), warm, interleaved, medians.

Training: clips/s of our harness (`engines.train.harness.run`: rows from the prepared dataset,
trainer step with phase shuffle and polarity augmentation, stop check, one JSON event per step)
over a plain loop of the same networks and loss (the same modules, Adam, non-saturating loss,
phase shuffle; random tensors as data, no harness); the same threads; timed from the end of
step 1 to the end of the last, rounds interleaved, medians. Goal: ratio >= 0.97.

Usage: .venv/bin/python bench/bench_wavegan.py [--rounds N] [--steps N]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench_gan_train import timed_run  # noqa: E402
from engines.api import NullEvents, Request  # noqa: E402
from engines.audio import wavegan  # noqa: E402
from engines.audio.wavegan import WaveGanEngine  # noqa: E402
from engines.image.gan import latent  # noqa: E402
from engines.tiny_models import build_tiny_wavegan  # noqa: E402

RATE, LENGTH, WIDTH, NZ, BATCH = 16000, 8192, 8, 100, 16


def clips_per_s(ends: list[float]) -> float:
    return (len(ends) - 1) * BATCH / (ends[-1] - ends[0])


def ours(data: Path, workdir: Path, steps: int, round_: int) -> float:
    params = {"steps": steps, "batch_size": BATCH, "sample_rate": RATE, "length": LENGTH, "g_width": WIDTH,
              "d_width": WIDTH, "latent_dim": NZ, "val_fraction": 0.0, "checkpoint_every": 10_000,
              "sample_every": 0, "eval_every": 0, "eval_samples": 2, "threads": torch.get_num_threads()}
    return clips_per_s(timed_run(workdir, round_, "wavegan", data, params))


def reference(steps: int) -> float:
    """A plain training loop of the same networks and loss, on random tensors."""
    config = wavegan.WaveGanConfig(sample_rate=RATE, length=LENGTH, latent_dim=NZ, g_width=WIDTH, d_width=WIDTH)
    gen = torch.Generator().manual_seed(0)
    G, D = wavegan.build_generator(config), wavegan.build_discriminator(config)
    wavegan.init_weights(G, gen)
    wavegan.init_weights(D, gen)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.9))
    ends = []
    for _ in range(steps):
        real = torch.rand(BATCH, 1, LENGTH, generator=gen) * 2 - 1
        signs = torch.randint(0, 2, (BATCH, 1, 1), generator=gen) * 2 - 1
        fake = G(torch.randn(BATCH, NZ, generator=gen))
        loss_d = F.softplus(-D(real * signs, gen)).mean() + F.softplus(D(fake.detach() * signs, gen)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(fake * signs, gen)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        ends.append(time.perf_counter())
    return clips_per_s(ends)


def generation_latency(workdir: Path, rounds: int = 31) -> tuple[float, float]:
    model = build_tiny_wavegan(workdir / "gen-model", sample_rate=RATE, length=LENGTH, width=WIDTH, latent_dim=NZ)
    engine = WaveGanEngine()
    engine.load(str(model), "cpu")
    module = engine.generator
    request = Request(engine="wavegan", seed=3)
    z = latent(3, NZ)

    def bare():
        with torch.inference_mode():
            return module(z)

    def mine():
        return engine.generate(request, NullEvents())

    assert np.array_equal(mine()[0].data[:, 0], bare()[0, 0].numpy())  # the same clip on both sides
    times = {"ours": [], "bare": []}
    for _ in range(rounds):
        for name, fn in (("ours", mine), ("bare", bare)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["ours"]), statistics.median(times["bare"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine two threads wait on each other)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threads = args.threads
    with tempfile.TemporaryDirectory(prefix="assetsmith-bench-wavegan-") as tmp:
        workdir = Path(tmp)
        lat_ours, lat_bare = generation_latency(workdir)
        print(f"WaveGAN generation latency per clip: ours {lat_ours * 1e3:.2f} ms / bare generator call "
              f"{lat_bare * 1e3:.2f} ms = {lat_ours / lat_bare:.3f} (median of 31, interleaved, {LENGTH} samples "
              f"at {RATE // 1000} kHz, d={WIDTH}, cpu, {threads} threads)", flush=True)
        data = workdir / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        for i in range(4 * BATCH):  # noise bursts, as the reference's random tensors
            burst = rng.uniform(-1, 1, LENGTH) * np.exp(-np.arange(LENGTH) / (500 + 50 * i))
            soundfile.write(data / f"{i:03d}.wav", burst.astype(np.float32), RATE, subtype="FLOAT")
        ours_cps, ref_cps = [], []
        for r in range(args.rounds):
            ours_cps.append(ours(data, workdir, args.steps, r))
            ref_cps.append(reference(args.steps))
            torch.set_num_threads(threads)
        o, b = statistics.median(ours_cps), statistics.median(ref_cps)
        print(f"WaveGAN training: ours {o:.1f} clips/s / plain loop {b:.1f} clips/s = {o / b:.3f} (median of "
              f"{args.rounds}, interleaved, {args.steps} steps each, {LENGTH} samples, d={WIDTH}, batch {BATCH}, "
              f"cpu, {threads} threads)")


if __name__ == "__main__":
    main()
