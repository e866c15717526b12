"""The CLI contract, end to end on a tiny real Stable Diffusion model.

Most commands run in-process through `studio.cli.main` (each sub-process pays the ML
imports); a few run as real processes for what only a process shows: the console script,
Ctrl-C and SIGKILL.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.project import Project

ASSETSMITH = str(Path(sys.executable).parent / "assetsmith")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def generate(capsys, project, model, *extra):
    code, out, err = run_cli(
        capsys, "generate", "--engine", "diffusion", "--model", model, "--prompt", "a red potion",
        "--seed", 7, "--param", "num_steps=4", "--project", project, *extra,
    )
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def made(tmp_path_factory, tiny_sd):
    """One generation through the CLI, shared by the tests that only read it."""
    project = tmp_path_factory.mktemp("cli") / "P"
    code = main(["generate", "--engine", "diffusion", "--model", str(tiny_sd), "--prompt", "a red potion",
                 "--negative", "blurry", "--seed", "7", "--param", "num_steps=4", "--param", "width=64",
                 "--param", "height=64", "--project", str(project)])
    assert code == 0
    with Project.open(project) as p:
        (generation,) = p.query()
        return project, generation.to_object()


def test_generate_equals_bare_diffusers_call_bit_for_bit(made, tiny_sd):
    import torch
    from diffusers import StableDiffusionPipeline

    project, result = made
    assert result["status"] == "finished" and result["seed"] == 7
    (path,) = result["outputs"]
    assert Path(path).is_absolute() and Path(path).is_file()
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    torch.set_num_threads(result["recipe"]["runtime"]["threads"])
    bare = pipe("a red potion", negative_prompt="blurry", num_inference_steps=4, width=64, height=64,
                generator=torch.Generator("cpu").manual_seed(7)).images[0]
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(bare))


def test_png_carries_a1111_parameters(made):
    _, result = made
    text = Image.open(result["outputs"][0]).text
    lines = text["parameters"].split("\n")
    assert lines[0] == "a red potion"
    assert lines[1] == "Negative prompt: blurry"
    assert lines[2].startswith("Steps: 4, Sampler: ")
    assert ", CFG scale: 7.5, Seed: 7, Size: 64x64, Model hash: " in lines[2]
    assert json.loads(text["assetsmith"])["seed"] == 7


def test_remake_is_identical(made, capsys):
    project, result = made
    code, out, err = run_cli(capsys, "remake", result["generation_id"], "--project", project)
    assert code == 0, err
    remade = json.loads(out)
    assert remade["identical"] is True and remade["outputs_identical"] == [True]
    assert remade["original_id"] == result["generation_id"]
    assert remade["parent_id"] == result["generation_id"]
    assert remade["generation_id"] != result["generation_id"]


def test_show_list_and_engines(made, capsys):
    project, result = made
    code, out, _ = run_cli(capsys, "show", result["generation_id"], "--project", project)
    assert code == 0 and json.loads(out)["outputs"] == result["outputs"]
    code, out, _ = run_cli(capsys, "list", "--project", project, "--search", "RED", "--json")
    assert code == 0 and result["generation_id"] in [g["generation_id"] for g in json.loads(out)]
    code, out, _ = run_cli(capsys, "list", "--project", project, "--search", "no such prompt", "--json")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_cli(capsys, "list", "--project", project)
    assert code == 0 and "a red potion" in out
    code, out, _ = run_cli(capsys, "engines", "--json")
    specs = {e["name"]: e for e in json.loads(out)}
    diffusion = specs["diffusion"]
    assert diffusion["modality"] == "image" and diffusion["takes_prompt"] is True
    params = {p["name"]: p for p in diffusion["params"]}
    assert set(params["num_steps"]) >= {"name", "type", "default", "min", "max", "choices", "help"}
    code, out, _ = run_cli(capsys, "engines")
    assert code == 0 and "num_steps" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--engine", "nope", "--project", "{p}"], "unknown engine"),
        (["generate", "--engine", "diffusion", "--model", "{m}", "--param", "num_steps=0", "--project", "{p}"],
         "num_steps"),
        (["generate", "--engine", "diffusion", "--model", "{m}", "--param", "width=100", "--project", "{p}"],
         "multiple of 8"),
        (["generate", "--engine", "diffusion", "--model", "{m}", "--param", "colour=red", "--project", "{p}"],
         "unknown parameter"),
        (["generate", "--engine", "diffusion", "--model", "{m}", "--param", "novalue", "--project", "{p}"],
         "KEY=VALUE"),
        (["generate", "--engine", "diffusion", "--model", "/no/such/model", "--project", "{p}"], "not found"),
        (["generate", "--engine", "diffusion", "--project", "{p}"], "no default model"),
        (["generate", "--engine", "diffusion", "--model", "{m}", "--count", "0", "--project", "{p}"], "count"),
        (["show", "999", "--project", "{p}"], "999"),
        (["generate", "--engine", "diffusion"], "--project"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, tiny_sd, argv, message):
    argv = [a.format(p=tmp_path / "P", m=tiny_sd) for a in argv]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_corrupt_project_db_exits_2(capsys, tmp_path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "project.db").write_bytes(b"this is not a database" * 100)
    code, _, err = run_cli(capsys, "list", "--project", tmp_path / "P")
    assert code == 2 and "project.db" in err and err.count("\n") == 1


def test_failed_job_exits_1(capsys, tmp_path, tiny_sd):
    import shutil

    broken = shutil.copytree(tiny_sd, tmp_path / "broken")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    code, out, err = run_cli(capsys, "generate", "--engine", "diffusion", "--model", broken,
                             "--project", tmp_path / "P", "--param", "num_steps=1")
    assert code == 1 and out == ""
    assert err.startswith("assetsmith: generation failed: ") and err.count("\n") == 1


# -- real processes ------------------------------------------------------------------------

def spawn(project, model, *params, count=1):
    argv = [ASSETSMITH, "generate", "--engine", "diffusion", "--model", str(model), "--prompt", "a blue gem",
            "--seed", "3", "--count", str(count), "--project", str(project)]
    for p in params:
        argv += ["--param", p]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_outputs(project, n, proc, timeout=120):
    """Wait until `n` outputs are recorded in the project database."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with sqlite3.connect(project / "project.db") as db:
                if db.execute("select count(*) from outputs").fetchone()[0] >= n:
                    return
        except sqlite3.Error:
            pass  # not created yet
        time.sleep(0.05)
    raise AssertionError("outputs were not recorded in time")


def test_console_script_ctrl_c_cancels_and_keeps_finished_outputs(tmp_path, tiny_sd):
    project = tmp_path / "P"
    proc = spawn(project, tiny_sd, "num_steps=30", count=3)
    wait_for_outputs(project, 1, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["status"] == "cancelled" and len(result["outputs"]) >= 1
    with Project.open(project) as p:
        assert p.get(result["generation_id"]).status == "cancelled"


def test_sigkill_mid_batch_loses_no_finished_output(tmp_path, tiny_sd):
    project = tmp_path / "P"
    proc = spawn(project, tiny_sd, "num_steps=8", count=6)
    wait_for_outputs(project, 2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    with Project.open(project) as p:
        generations = p.query(include_trashed=True)
        assert len(generations) == 1
        (generation,) = generations
        assert generation.status == "interrupted"
        assert generation.id in p.report.interrupted
        assert len(generation.outputs) >= 2
        assert all(o.path.is_file() for o in generation.outputs)
        assert [o.seed for o in generation.outputs] == list(range(3, 3 + len(generation.outputs)))
        assert not p.report.missing


def test_img2img_input_is_copied_into_the_project_and_remade(capsys, tmp_path, tiny_sd):
    from PIL import Image

    init = tmp_path / "elsewhere" / "Sketch.png"
    init.parent.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(init)
    project = tmp_path / "P"
    result = generate(capsys, project, tiny_sd, "--param", f"init_image={init}", "--param", "strength=0.5")
    stored = result["recipe"]["params"]["init_image"]
    assert stored.startswith("inputs/") and stored.endswith(".png")
    assert (project / stored).read_bytes() == init.read_bytes()
    assert json.loads(Image.open(result["outputs"][0]).text["assetsmith"])["params"]["init_image"] == stored
    init.unlink()  # the project's copy is what a re-make uses
    code, out, err = run_cli(capsys, "remake", result["generation_id"], "--project", project)
    assert code == 0, err
    assert json.loads(out)["identical"] is True


def test_lora_is_recorded_with_its_hash_and_remade(capsys, tmp_path, tiny_sd):
    import hashlib

    from engines.tiny_models import build_tiny_loras

    peft, _ = build_tiny_loras(tiny_sd, tmp_path / "loras")
    result = generate(capsys, tmp_path / "P", tiny_sd, "--param", f'loras=[["{peft}", 0.7]]')
    assert result["recipe"]["params"]["loras"] == [[str(peft), 0.7]]
    assert result["recipe"]["lora_hashes"] == [hashlib.sha256(peft.read_bytes()).hexdigest()]
    code, out, err = run_cli(capsys, "remake", result["generation_id"], "--project", tmp_path / "P")
    assert code == 0 and json.loads(out)["identical"] is True, err


@pytest.mark.parametrize("mode", ["inpaint", "variation", "tiling", "single-file"])
def test_every_diffusion_mode_is_remade_identically(capsys, tmp_path, tiny_sd, mode):
    rng = np.random.default_rng(2)
    model, extra = tiny_sd, []
    if mode == "inpaint":
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "init.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 16:48] = 255
        Image.fromarray(mask).save(tmp_path / "mask.png")
        extra = ["--param", f"init_image={tmp_path / 'init.png'}", "--param", f"mask_image={tmp_path / 'mask.png'}"]
    elif mode == "variation":
        extra = ["--param", "variation_seed=99", "--param", "variation_strength=0.3"]
    elif mode == "tiling":
        extra = ["--param", "tiling=xy"]
    else:
        from diffusers import StableDiffusionPipeline

        from engines.image.ldm_layout import save_single_file

        model = save_single_file(StableDiffusionPipeline.from_pretrained(tiny_sd), tmp_path / "tiny.safetensors")
        extra = ["--param", f"base_model={tiny_sd}"]
    result = generate(capsys, tmp_path / "P", model, *extra)
    code, out, err = run_cli(capsys, "remake", result["generation_id"], "--project", tmp_path / "P")
    assert code == 0 and json.loads(out)["identical"] is True, err


def test_threads_setting_is_the_default_and_a_remake_keeps_the_recorded_count(capsys, tmp_path, tiny_sd,
                                                                             monkeypatch, restore_threads):
    monkeypatch.setenv("ASSETSMITH_HOME", str(tmp_path / "home"))
    assert run_cli(capsys, "threads")[1].startswith("CPU threads: auto")
    assert run_cli(capsys, "threads", 1)[1].strip() == "CPU threads: 1"
    first = generate(capsys, tmp_path / "P", tiny_sd)
    assert first["recipe"]["runtime"]["threads"] == 1
    assert generate(capsys, tmp_path / "P", tiny_sd, "--threads", 2)["recipe"]["runtime"]["threads"] == 2
    run_cli(capsys, "threads", 2)
    code, out, err = run_cli(capsys, "remake", first["generation_id"], "--project", tmp_path / "P")
    remade = json.loads(out)
    assert code == 0 and remade["identical"] is True, err
    with Project.open(tmp_path / "P") as project:
        assert project.get(remade["generation_id"]).recipe["runtime"]["threads"] == 1
    for bad, message in (("x", "whole number or auto"), ("-1", "whole number from 0")):
        code, _, err = run_cli(capsys, "threads", bad)
        assert code == 2 and message in err and err.count("\n") == 1
    assert run_cli(capsys, "threads", "auto")[1].startswith("CPU threads: auto")


def test_a_setting_that_cannot_be_saved_says_where_and_exits_1(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("a file where the settings folder should be")
    monkeypatch.setenv("ASSETSMITH_HOME", str(home))
    code, out, err = run_cli(capsys, "threads", 2)
    assert code == 1 and err.count("\n") == 1 and f"cannot save the settings in {home}" in err
    assert home.read_text() == "a file where the settings folder should be"


def test_the_launcher_knows_every_sub_command():
    """`assetsmith X` goes to the CLI when X is one of studio.COMMANDS, else opens the window."""
    import argparse

    from studio import COMMANDS
    from studio.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == set(COMMANDS)
