"""The engine protocol: schema validation, request round trips, batches, the registry."""
import json
import subprocess
import sys

import pytest

from engines import registry
from engines.api import Cancelled, NullEvents, Output, Param, ParamError, Request, run_batch, validate

SCHEMA = (
    Param("num_steps", "int", 50, min=1, max=500),
    Param("guidance_scale", "float", 7.5, min=0, max=50),
    Param("width", "int", None, min=64, max=4096, multiple_of=8),
    Param("scheduler", "choice", None, choices=("Euler", "Euler a")),
    Param("tiling", "bool", False),
    Param("stop", "strings", None),
    Param("loras", "loras", None),
)


def test_validate_converts_and_checks():
    assert validate(SCHEMA, {"num_steps": 20.0, "guidance_scale": 7, "stop": "END"}) == {
        "num_steps": 20, "guidance_scale": 7.0, "stop": ["END"]}
    assert validate(SCHEMA, {"loras": [["a.safetensors", 1]]}) == {"loras": [["a.safetensors", 1.0]]}
    assert validate(SCHEMA, {"width": None}) == {}


@pytest.mark.parametrize("params, message", [
    ({"num_steps": 0}, "num_steps must be at least 1, got 0"),
    ({"num_steps": 2.5}, "num_steps must be a whole number"),
    ({"num_steps": True}, "num_steps must be a whole number"),
    ({"guidance_scale": "high"}, "guidance_scale must be a number"),
    ({"guidance_scale": float("nan")}, "finite"),
    ({"width": 100}, "width must be a multiple of 8, got 100"),
    ({"width": 8192}, "width must be at most 4096"),
    ({"scheduler": "DDIM"}, "scheduler must be one of 'Euler', 'Euler a'; got 'DDIM'"),
    ({"tiling": "yes"}, "tiling must be true or false"),
    ({"loras": [["a.safetensors"]]}, "[file, weight]"),
    ({"colour": "red"}, "unknown parameter 'colour'"),
])
def test_validate_refuses_bad_values_with_clear_messages(params, message):
    with pytest.raises(ParamError) as err:
        validate(SCHEMA, params)
    assert message in str(err.value)


def test_request_round_trips_through_json_and_is_frozen():
    r = Request(engine="diffusion", model="m", prompt="p", negative_prompt="n", seed=5, count=2,
                params={"num_steps": 3})
    again = Request.from_dict(json.loads(json.dumps({**r.to_dict(), "runtime": {"device": "cpu"}})))
    assert again == r
    with pytest.raises(Exception):
        r.seed = 6
    with pytest.raises(ParamError, match="count"):
        Request(engine="x", count=0)
    with pytest.raises(ParamError, match="seed"):
        Request(engine="x", seed=-1)


def test_run_batch_uses_seed_plus_i_and_hands_each_output_over_at_once():
    handed = []

    class Events(NullEvents):
        def output(self, output):
            handed.append(output.seed)

        def cancelled(self):
            return len(handed) == 2

    def make_one(seed, events):
        return Output(kind="text", data=str(seed), seed=seed, recipe={})

    with pytest.raises(Cancelled):
        run_batch(Request(engine="x", seed=10, count=4), Events(), make_one)
    assert handed == [10, 11]


def test_registry_finds_engines_through_entry_points():
    assert "diffusion" in registry.names()
    engine = registry.get("diffusion")
    assert engine.name == "diffusion" and engine.modality == "image"
    with pytest.raises(ParamError, match="unknown engine 'nope'; available engines: .*diffusion"):
        registry.get("nope")


def test_registry_reads_the_entry_points_importlib_metadata_reads():
    from importlib.metadata import entry_points

    assert registry._entry_points() == {ep.name: ep.value for ep in entry_points(group=registry.GROUP)}


def test_registry_takes_the_first_installed_copy_of_a_package_and_skips_what_it_cannot_read(tmp_path,
                                                                                            monkeypatch):
    def install(folder, dist, text):
        (folder / dist).mkdir(parents=True)
        if text is not None:
            (folder / dist / "entry_points.txt").write_text(text)

    first, second = tmp_path / "first", tmp_path / "second"
    install(first, "Cool_Engines-1.0.dist-info",
            "# a comment\n[console_scripts]\ncool = cool:main\n\n[assetsmith.engines]\n"
            "cool = engines.api : Engine [gpu]\nnested=engines.api:Request.from_dict\n")
    install(first, "plain-2.0.dist-info", None)  # no entry points at all
    install(second, "cool.engines-0.9.dist-info", "[assetsmith.engines]\nold = engines.api:Engine\n")  # shadowed
    install(second, "legacy-1.0-py3.11.egg-info", "[assetsmith.engines]\nlegacy = engines.api:Output\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "gone"), str(first), str(second)])
    registry._entry_points.cache_clear()
    try:
        from engines.api import Engine

        assert registry._entry_points() == {"cool": "engines.api : Engine [gpu]",
                                            "nested": "engines.api:Request.from_dict",
                                            "legacy": "engines.api:Output"}
        assert registry._load("engines.api : Engine [gpu]") is Engine
        assert registry._load("engines.api:Request.from_dict") == Request.from_dict
        assert registry._load("engines.api:Output") is Output
        with pytest.raises(ParamError, match="whose name is"):  # loads, but is no engine of that name
            registry.get("legacy")
    finally:
        registry._entry_points.cache_clear()


def test_core_and_launcher_import_neither_torch_nor_qt():
    code = ("import sys, studio.cli, studio.jobs, studio.project, engines.registry, ui.__main__; "
            "from engines import registry; registry.get('diffusion'); "
            "bad = [m for m in ('torch', 'diffusers', 'transformers', 'PySide6') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
