"""Diffusion LoRA training: seconds per step of our trainer on the harness (data batches,
captions, per-step events) over the plain loop in bench/lora_reference.py (after diffusers'
train_text_to_image_lora.py): the same tiny SD, batch, rank and resolution; both warm, timed
between the first and the last step's end, interleaved rounds, medians. Goal <= 1.05.
Usage: .venv/bin/python bench/bench_lora_train.py [--rounds 5] [--steps 12]
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import lora_reference  # noqa: E402
from bench_gan_train import timed_run  # noqa: E402  (a harness run, timing each step)
from engines.tiny_models import build_tiny_sd  # noqa: E402

BATCH, SIZE, RANK = 2, 64, 4


def per_step(ends: list[float]) -> float:
    return (ends[-1] - ends[0]) / (len(ends) - 1)


def ours(model: Path, data: Path, workdir: Path, steps: int, round_: int) -> float:
    params = {"base": str(model), "steps": steps, "batch_size": BATCH, "resolution": SIZE, "rank": RANK,
              "val_fraction": 0.0, "near_duplicate_distance": 0, "checkpoint_every": 10_000, "sample_every": 0,
              "eval_every": 0, "eval_samples": 1, "sample_steps": 1, "kohya_export": False,
              "threads": torch.get_num_threads()}
    return per_step(timed_run(workdir, round_, "lora-diffusion", data, params))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    model = build_tiny_sd(Path(tempfile.gettempdir()) / "assetsmith-bench" / "tiny-sd")
    with tempfile.TemporaryDirectory(prefix="assetsmith-bench-lora-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        for i in range(4 * BATCH):
            Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(data / f"sprite_{i}.png")
        ours_s, ref_s = [], []
        for r in range(args.rounds):
            ours_s.append(ours(model, data, workdir, args.steps, r))
            ref_s.append(per_step(lora_reference.train(str(model), args.steps, BATCH, SIZE, RANK)))
            torch.set_num_threads(threads)
        o, b = statistics.median(ours_s), statistics.median(ref_s)
        print(f"diffusion LoRA training: ours {o * 1e3:.1f} ms/step / plain diffusers-style loop {b * 1e3:.1f} ms/step "
              f"= {o / b:.3f} (median of {args.rounds}, interleaved, {args.steps} steps each, tiny SD {SIZE}x{SIZE}, "
              f"batch {BATCH}, rank {RANK}, cpu, {threads} threads; goal <= 1.05)")


if __name__ == "__main__":
    main()
