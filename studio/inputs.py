"""Input files of a request (init images, masks, reference audio): copied into the project
by content hash, so a recipe never points outside the project and re-makes find them."""
from __future__ import annotations

from engines import registry
from engines.api import Request
from studio.project import Project, ProjectError

INPUTS_DIR = "inputs/"


def _file_params(engine: type) -> list[str]:
    return [p.name for p in engine.params if p.type == "file"]


def import_inputs(request: Request, engine: type, project: Project) -> Request:
    """The request with each input file replaced by its project-relative copy."""
    params = dict(request.params)
    for name in _file_params(engine):
        value = params.get(name)
        if value and not value.startswith(INPUTS_DIR):
            params[name] = project.import_input(value)
        elif value and not project.resolve(value).is_file():
            raise ProjectError(f"{name} {value!r} is missing from the project's inputs/")
    return request.replace(params=params)


def parent_generation(request: Request, engine: type, project: Project) -> int | None:
    """The generation whose output is this request's first input file, if any (imported
    requests only): an img2img of a generated image, a re-processed clip."""
    for name in _file_params(engine):
        if request.params.get(name):
            parent = project.made_here(request.params[name])
            if parent is not None:
                return parent
    return None


def resolve_inputs(request: Request, engine: type, project: Project) -> Request:
    """The request as the engine needs it: project-relative input files made absolute."""
    params = dict(request.params)
    for name in _file_params(engine):
        if params.get(name):
            params[name] = str(project.resolve(params[name]))
    return request.replace(params=params)


def file_values(request: Request) -> dict:
    """The request's input files (project-relative once imported), by parameter name."""
    names = _file_params(registry.get(request.engine))
    return {k: v for k, v in request.params.items() if k in names}
