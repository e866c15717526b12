"""Our diffusion engine over the bare diffusers call: same tiny model, seed and settings.

Both warm (one untimed run each first), interleaved A/B so drift hits both alike, medians
quoted, 25 steps per run so timer noise does not decide the ratio. Goal: <= 1.03.
Usage: .venv/bin/python bench/bench_diffusion_overhead.py
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from diffusers import StableDiffusionPipeline  # noqa: E402

from engines.api import NullEvents, Request  # noqa: E402
from engines.image.diffusion import DiffusionEngine  # noqa: E402
from engines.tiny_models import build_tiny_sd  # noqa: E402

ROUNDS, STEPS, SIZE = 9, 25, 64


def main() -> None:
    model = build_tiny_sd(Path(tempfile.gettempdir()) / "assetsmith-bench" / "tiny-sd")
    engine = DiffusionEngine()
    engine.load(str(model), "cpu")
    pipe = StableDiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    request = Request(engine="diffusion", prompt="a red potion", seed=1,
                      params={"num_steps": STEPS, "width": SIZE, "height": SIZE})

    def ours():
        return engine.generate(request, NullEvents())[0].data

    def bare():
        return pipe("a red potion", num_inference_steps=STEPS, width=SIZE, height=SIZE,
                    generator=torch.Generator("cpu").manual_seed(1)).images[0]

    ours(), bare()  # warm both
    times = {"ours": [], "bare": []}
    for _ in range(ROUNDS):
        for name, fn in (("ours", ours), ("bare", bare)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    o, b = statistics.median(times["ours"]), statistics.median(times["bare"])
    print(f"diffusion overhead: ours {o:.3f} s / bare diffusers {b:.3f} s = {o / b:.3f} "
          f"(median of {ROUNDS}, interleaved, {STEPS} steps, {SIZE}x{SIZE}, tiny SD, cpu, "
          f"{torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
