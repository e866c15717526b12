"""Second generation with the same model over the first, through the job runner.

The first job loads the pipeline; the second must find it in the engine cache. Reference:
the first (cold) job measured in the same run. Repeated with a fresh runner each round,
medians quoted. Usage: .venv/bin/python bench/bench_engine_cache.py
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engines.api import Request  # noqa: E402
from engines.tiny_models import build_tiny_sd  # noqa: E402
from studio.jobs import JobRunner  # noqa: E402

ROUNDS, STEPS = 7, 20


def timed_job(runner, model) -> float:
    start = time.perf_counter()
    job = runner.submit(Request(engine="diffusion", model=str(model), prompt="a red potion", seed=1,
                                params={"num_steps": STEPS}), device="cpu")
    job.wait()
    assert job.state == "finished", job.error
    return time.perf_counter() - start


def main() -> None:
    model = build_tiny_sd(Path(tempfile.gettempdir()) / "assetsmith-bench" / "tiny-sd")
    timed_job(JobRunner(), model)  # warm the imports and the file cache once
    first, second = [], []
    for _ in range(ROUNDS):
        runner = JobRunner()
        first.append(timed_job(runner, model))
        second.append(timed_job(runner, model))
        runner.shutdown()
    f, s = statistics.median(first), statistics.median(second)
    print(f"engine cache: second generation {s:.3f} s / first generation (loads the model) {f:.3f} s "
          f"= {s / f:.3f} (median of {ROUNDS}, {STEPS} steps, 64x64, tiny SD, cpu)")


if __name__ == "__main__":
    main()
