"""Tokens per second through our text engine over the bare transformers generate() call.

Same model, prompt, seed and settings; both warm, interleaved, medians. Two models: the
tiny test GPT-2 and a GPT-2-small-sized one (124M parameters, random weights). For the
latter, also its tokens/s against the memory-bandwidth limit: every token reads all the
weights once, so weights bytes / copy bandwidth bounds the time per token.
Usage: .venv/bin/python bench/bench_text_generate.py
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from engines.api import NullEvents, Request  # noqa: E402
from engines.text.causal_lm import CausalLMEngine  # noqa: E402
from engines.tiny_models import build_tiny_gpt2  # noqa: E402

PROMPT = "Names of potions in a fantasy game:\n1."
SETTINGS = {"temperature": 0.8, "top_k": 50, "max_new_tokens": 64}


def measure(folder: Path, rounds: int) -> tuple[float, float, float]:
    engine = CausalLMEngine()
    engine.load(str(folder), "cpu")
    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    inputs = tok(PROMPT, return_tensors="pt")
    request = Request(engine="causal-lm", prompt=PROMPT, seed=1, params=SETTINGS)

    def ours() -> float:
        start = time.perf_counter()
        (out,) = engine.generate(request, NullEvents())
        return out.recipe["runtime"]["tokens"] / (time.perf_counter() - start)

    def bare() -> float:
        start = time.perf_counter()
        torch.manual_seed(1)
        with torch.inference_mode():
            out = model.generate(**inputs, do_sample=True, temperature=0.8, top_k=50, max_new_tokens=64,
                                 pad_token_id=tok.eos_token_id)
        return (out.shape[1] - inputs["input_ids"].shape[1]) / (time.perf_counter() - start)

    ours(), bare()  # warm both
    rates = {"ours": [], "bare": []}
    for _ in range(rounds):
        rates["ours"].append(ours())
        rates["bare"].append(bare())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return statistics.median(rates["ours"]), statistics.median(rates["bare"]), weight_bytes


def copy_bandwidth() -> float:
    """Bytes per second moved by a large memory copy (read + write), best of 5."""
    a = np.ones(64 * 2**20, dtype=np.float32)  # 256 MiB
    b = np.empty_like(a)
    best = min(_timed(lambda: np.copyto(b, a)) for _ in range(5))
    return 2 * a.nbytes / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    root = Path(tempfile.gettempdir()) / "assetsmith-bench"
    tiny = build_tiny_gpt2(root / "tiny-gpt2")
    small = build_tiny_gpt2(root / "gpt2-small-random", n_layer=12, n_embd=768, n_head=12, vocab_size=50257)
    threads = torch.get_num_threads()
    o, b, _ = measure(tiny, rounds=21)
    print(f"text engine, tiny GPT-2: ours {o:.0f} tok/s / bare generate {b:.0f} tok/s = {o / b:.3f} "
          f"(median of 21, interleaved, 64 new tokens, sampling, cpu, {threads} threads)")
    o, b, weights = measure(small, rounds=7)
    print(f"text engine, GPT-2-small-sized (124M): ours {o:.1f} tok/s / bare generate {b:.1f} tok/s = {o / b:.3f} "
          f"(median of 7, interleaved, 64 new tokens, sampling, cpu, {threads} threads)")
    bandwidth = copy_bandwidth()
    limit = bandwidth / weights
    print(f"GPT-2-small-sized on this CPU: {o:.1f} tok/s / memory-bandwidth limit {limit:.1f} tok/s = {o / limit:.3f} "
          f"({weights / 1e6:.0f} MB of fp32 weights per token, copy bandwidth {bandwidth / 1e9:.1f} GB/s)")


if __name__ == "__main__":
    main()
