""""Use this model now": a finished run's model, handed to the workspace that generates with
it (what goes where: studio/trained_models.py). A model of its own engine (GAN, VAE, a
language model, WaveGAN) fills that engine's model field; an adapter (a LoRA) sets the base
model and joins the engine's `loras` (or its `adapter`)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from engines.api import ParamError
from studio import trained_models, training


def hand_over(project_root: Path, run: dict, open_workspace: Callable) -> tuple[bool, str]:
    """(done, what to tell the user). `open_workspace(engine)` builds and shows the tab that
    generates with `engine`, or gives None when there is none."""
    try:
        use = trained_models.how_to_use(project_root, run["engine"], run["model"])
    except (training.TrainingError, ParamError) as exc:
        return False, str(exc)
    engine, adapter = use["engine"], use.get("adapter")
    workspace = open_workspace(engine)
    if workspace is None:
        return False, (f"The model {run['model']} is in the project; no tab generates with {engine} yet: "
                       f"`assetsmith generate --engine {engine} --model {run['model']}`")
    workspace.set_engine(engine)
    if use.get("model"):
        workspace.model.setText(str(use["model"]))
    if adapter:
        kinds = {p.name: p.type for p in workspace.engine.params}
        loras = next((name for name, kind in kinds.items() if kind == "loras"), None)
        if loras is not None:  # a list of [file, weight]: added to those already chosen
            workspace.params.editor(loras).add(adapter, 1.0)
        elif "adapter" in kinds:  # one adapter file or folder
            workspace.params.set_value("adapter", adapter)
        else:
            return False, f"The {engine} engine takes no adapter; the adapter is {adapter}"
    what = f"{run['model']} (a LoRA on {use['model']})" if adapter else run["model"]
    return True, f"{what} is set in the {engine} workspace"
