"""Records a job's outputs into a project the moment each is made.

The recipe of an output is the engine's (its own seed, count 1, every parameter resolved)
plus what only the runner knows: the portable model reference and its hash, the thread
count, library versions and the parent generation.
"""
from __future__ import annotations

from pathlib import Path

from engines.api import Output
from studio import inputs, metadata, models
from studio.jobs import Job
from studio.project import GenerationWriter, Project


def output_recipe(job: Job, output: Output) -> dict:
    recipe = dict(output.recipe)
    # The engine saw input files as absolute paths; the recipe keeps their place in the project.
    recipe["params"] = {**recipe.get("params", {}), **inputs.file_values(job.request)}
    runtime = {k: v for k, v in job.runtime.items() if k not in ("model_hash", "model_name")}
    recipe.update(
        model=job.request.model,
        model_hash=job.runtime.get("model_hash"),
        model_name=job.runtime.get("model_name"),
        runtime={**runtime, **output.recipe.get("runtime", {})},
        parent_id=job.parent_id,
    )
    if recipe["params"].get("loras"):  # LoRAs are models: recorded by reference and content, like the model
        loaded = (job.engine_request or job.request).params["loras"]
        recipe["params"]["loras"] = job.request.params["loras"]
        recipe["lora_hashes"] = [models.content_hash(Path(file)) for file, _ in loaded]
    return recipe


class ProjectSink:
    """A JobSink that writes into a project (crash-safe order: see studio/project.py)."""

    def __init__(self, project: Project, audio_format: str = "flac"):
        self.project = project
        self.audio_format = audio_format
        self._writers: dict[int, GenerationWriter] = {}

    def output(self, job: Job, output: Output) -> None:
        recipe = output_recipe(job, output)
        writer = self._writers.get(job.id)
        if writer is None:
            # The generation's recipe: this output's, with the batch's first seed and count.
            generation = {**recipe, "seed": job.request.seed, "count": job.request.count}
            writer = self._writers[job.id] = self.project.writer(generation, parent_id=job.parent_id)
        encoded = metadata.encode(output, recipe, self.audio_format)
        writer.add(
            index=len(job.outputs),
            seed=output.seed,
            kind=output.kind,
            ext=encoded.ext,
            data=encoded.data,
            sidecar=encoded.sidecar,
            content_sha256=encoded.content_hash,
            recipe=recipe,
            mime=output.mime,
            width=output.width,
            height=output.height,
            sample_rate=output.sample_rate,
            duration_s=output.duration_s,
        )

    def end(self, job: Job) -> dict | None:
        """The generation object, or None when nothing was made (nothing is recorded)."""
        writer = self._writers.pop(job.id, None)
        if writer is None:
            return None
        generation = writer.finish(job.state, job.error)
        return generation.to_object() if generation is not None else None
