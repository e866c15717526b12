"""Loading a single-file checkpoint (one original-layout .safetensors, converted to diffusers'
layout as it loads) over loading the same weights from a diffusers folder, through our
engine's first generation (1 step, so the load dominates), for the tiny SD and the tiny SDXL.
Reference: the engine on the diffusers folder of the same pipeline, measured in the same run,
interleaved, medians. No goal: it tells what the conversion costs.
Usage: .venv/bin/python bench/bench_single_file.py
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diffusers import DiffusionPipeline  # noqa: E402

from engines.api import NullEvents, Request  # noqa: E402
from engines.image.diffusion import DiffusionEngine  # noqa: E402
from engines.image.ldm_layout import save_single_file  # noqa: E402
from engines.tiny_models import build_tiny_sd, build_tiny_sdxl  # noqa: E402

ROUNDS = 7


def first_image(model: Path, **params) -> float:
    start = time.perf_counter()
    engine = DiffusionEngine()
    engine.load(str(model), "cpu")
    engine.generate(Request(engine="diffusion", prompt="a red potion", seed=1, params={"num_steps": 1, **params}),
                    NullEvents())
    return time.perf_counter() - start


def main() -> None:
    folder = Path(tempfile.gettempdir()) / "assetsmith-bench"
    for name, build in (("tiny SD", build_tiny_sd), ("tiny SDXL", build_tiny_sdxl)):
        model = build(folder / name.replace(" ", "-").lower())
        single = folder / f"{model.name}.safetensors"
        if not single.exists():
            save_single_file(DiffusionPipeline.from_pretrained(model), single)
        first_image(model), first_image(single, base_model=str(model))  # warm
        times = {"single": [], "folder": []}
        for _ in range(ROUNDS):
            times["single"].append(first_image(single, base_model=str(model)))
            times["folder"].append(first_image(model))
        s, f = statistics.median(times["single"]), statistics.median(times["folder"])
        print(f"single-file load, {name}: {s:.3f} s / diffusers folder {f:.3f} s = {s / f:.2f} "
              f"(load + 1-step generation, median of {ROUNDS}, interleaved, cpu)")


if __name__ == "__main__":
    main()
