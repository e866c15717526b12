"""Our diffusion engine over the bare diffusers call: same tiny model, seed and settings.

Both warm (one untimed run each first), interleaved so drift hits all alike, medians quoted,
25 steps per run so timer noise does not decide the ratio. Goal: <= 1.03 for txt2img and
img2img. Also the cost of a preview every step against none (both through our engine).
Usage: .venv/bin/python bench/bench_diffusion_overhead.py
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline  # noqa: E402
from PIL import Image  # noqa: E402

from engines.api import NullEvents, Request  # noqa: E402
from engines.image.diffusion import DiffusionEngine  # noqa: E402
from engines.tiny_models import build_tiny_sd  # noqa: E402

ROUNDS, STEPS, SIZE = 9, 25, 64


def interleaved(variants: dict) -> dict:
    for fn in variants.values():
        fn()  # warm
    times = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    folder = Path(tempfile.gettempdir()) / "assetsmith-bench"
    model = build_tiny_sd(folder / "tiny-sd")
    init_path = folder / "init.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(init_path)
    init = Image.open(init_path).convert("RGB")
    engine = DiffusionEngine()
    engine.load(str(model), "cpu")
    txt2img = StableDiffusionPipeline.from_pretrained(model)
    img2img = StableDiffusionImg2ImgPipeline.from_pretrained(model)
    for pipe in (txt2img, img2img):
        pipe.set_progress_bar_config(disable=True)

    def ours(**params):
        request = Request(engine="diffusion", prompt="a red potion", seed=1, params={"num_steps": STEPS, **params})
        return lambda: engine.generate(request, NullEvents())

    def gen():
        return torch.Generator("cpu").manual_seed(1)

    t = interleaved({
        "ours": ours(width=SIZE, height=SIZE),
        "bare": lambda: txt2img("a red potion", num_inference_steps=STEPS, width=SIZE, height=SIZE, generator=gen()),
        "ours_img2img": ours(init_image=str(init_path), strength=1.0),
        "bare_img2img": lambda: img2img("a red potion", image=init, strength=1.0, num_inference_steps=STEPS,
                                        generator=gen()),
        "ours_previews": ours(width=SIZE, height=SIZE, preview_every=1),
    })
    where = f"median of {ROUNDS}, interleaved, {STEPS} steps, {SIZE}x{SIZE}, tiny SD, cpu, {torch.get_num_threads()} threads"
    print(f"diffusion overhead, txt2img: ours {t['ours']:.3f} s / bare diffusers {t['bare']:.3f} s "
          f"= {t['ours'] / t['bare']:.3f} ({where})")
    print(f"diffusion overhead, img2img: ours {t['ours_img2img']:.3f} s / bare diffusers {t['bare_img2img']:.3f} s "
          f"= {t['ours_img2img'] / t['bare_img2img']:.3f} ({where}, strength 1)")
    print(f"previews every step: {t['ours_previews']:.3f} s / no previews {t['ours']:.3f} s "
          f"= {t['ours_previews'] / t['ours']:.3f} ({where})")


if __name__ == "__main__":
    main()
