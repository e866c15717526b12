"""Text LoRA training: seconds per step of our lora-text trainer on the harness (token blocks
from the prepared dataset, the loss mask, per-step events) over the plain peft loop in
bench/lora_text_reference.py: the same small GPT-2, batch, rank and block size; both warm,
timed between the first and the last step's end, interleaved rounds, medians. Goal <= 1.05.
Usage: .venv/bin/python bench/bench_lora_text.py [--rounds 5] [--steps 20]
"""
import argparse
import statistics
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lora_text_reference  # noqa: E402
from bench_gan_train import timed_run  # noqa: E402  (a harness run, timing each step)
from engines.tiny_models import build_tiny_gpt2  # noqa: E402

BATCH, BLOCK, RANK = 8, 128, 8
SMALL_GPT2 = {"n_layer": 4, "n_embd": 256, "n_head": 4, "vocab_size": 4000}  # ~4.5M parameters


def per_step(ends: list[float]) -> float:
    return (ends[-1] - ends[0]) / (len(ends) - 1)


def ours(model: Path, data: Path, workdir: Path, steps: int, round_: int) -> float:
    params = {"base": str(model), "steps": steps, "batch_size": BATCH, "block_size": BLOCK, "rank": RANK,
              "val_fraction": 0.0, "checkpoint_every": 10_000, "sample_every": 0, "eval_every": 0, "eval_samples": 1,
              "sample_tokens": 1, "sample_prompts": ["a"], "threads": torch.get_num_threads()}
    return per_step(timed_run(workdir, round_, "lora-text", data, params))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    model = build_tiny_gpt2(Path(tempfile.gettempdir()) / "assetsmith-bench" / "small-gpt2-4x256", **SMALL_GPT2)
    with tempfile.TemporaryDirectory(prefix="assetsmith-bench-lora-text-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        data.mkdir()
        for f in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[15:23]:  # any local text
            (data / f"{f.stem}.txt").write_text(f.read_text(encoding="utf-8", errors="replace"), encoding="utf-8")
        ours_s, ref_s = [], []
        for r in range(args.rounds):
            ours_s.append(ours(model, data, workdir, args.steps, r))
            ref_s.append(per_step(lora_text_reference.train(str(model), args.steps, BATCH, BLOCK, RANK)))
            torch.set_num_threads(threads)
        o, b = statistics.median(ours_s), statistics.median(ref_s)
        print(f"text LoRA training: ours {o * 1e3:.1f} ms/step / plain peft loop {b * 1e3:.1f} ms/step "
              f"= {o / b:.3f} (median of {args.rounds}, interleaved, {args.steps} steps each, GPT-2 "
              f"{SMALL_GPT2['n_layer']}x{SMALL_GPT2['n_embd']}, batch {BATCH}, block {BLOCK}, rank {RANK}, cpu, "
              f"{threads} threads; goal <= 1.05)")
        print("  rounds (ms/step): ours " + " ".join(f"{x * 1e3:.0f}" for x in ours_s)
              + " / plain " + " ".join(f"{x * 1e3:.0f}" for x in ref_s))


if __name__ == "__main__":
    main()
