"""What every audio engine does after its model: the post-processing steps, the Output and its
recipe, and re-processing a recorded clip (`init_audio`) without running the model at all."""
from __future__ import annotations

import time

from engines.api import Events, Output, ParamError, Request, run_batch
from engines.audio import edit


def finish(request: Request, resolved: dict, samples, rate: int, seed: int, runtime: dict,
           started: float) -> Output:
    """Apply the request's post-processing to a generated clip and describe it.

    `resolved` holds the engine's own parameters as it used them; the edit steps are added
    as given, with the output's actual sample rate and channel count, so a re-make repeats
    exactly these steps."""
    params = {**resolved, **{k: v for k, v in request.params.items() if k in edit.EDIT_NAMES}}
    audio, rate, facts = edit.apply(samples, rate, params)
    params["sample_rate"], params["channels"] = rate, int(audio.shape[1])
    recipe = request.replace(seed=seed, count=1, params=params).to_dict()
    recipe["runtime"] = {**runtime, **facts, "time_s": round(time.perf_counter() - started, 4)}
    return Output(kind="audio", data=audio, seed=seed, recipe=recipe, mime="audio/flac",
                  sample_rate=rate, duration_s=round(len(audio) / rate, 6))


def reprocess(request: Request, engine_params: tuple[str, ...], events: Events) -> list[Output]:
    """A request with `init_audio`: read that clip and run only the post-processing steps.

    The engine's own parameters would have no effect here, so they are refused rather than
    recorded as if they had one."""
    given = sorted(set(engine_params) & set(request.params))
    if given:
        raise ParamError(f"{', '.join(given)} cannot apply when re-processing a clip (init_audio): "
                         "only the post-processing steps run; leave them out")
    if request.count != 1:
        raise ParamError("re-processing a clip makes one output: use count 1")
    path = request.params["init_audio"]

    def one(seed: int, ev: Events) -> Output:
        started = time.perf_counter()
        ev.progress(0, 1)
        samples, rate = edit.read_clip(path)
        out = finish(request, {"init_audio": path}, samples, rate, seed, {"reprocessed": True}, started)
        ev.progress(1, 1)
        return out

    return run_batch(request, events, one)
