"""`assetsmith models`: list, pull (progress, errors, Ctrl-C then resume), import, convert, remove.

In-process through `studio.cli.main` with the fake Hub on 127.0.0.1 (tests/hubfake.py); the
Ctrl-C test runs the real console script, since only a process shows a SIGINT."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hubfake
from hubfake import FakeHub, big_safetensors, fake_sd, gpt2_files, put_in_hf_cache, write_safetensors
from studio import downloads, models, settings
from studio.cli import main
from studio.project import Project

env, online = hubfake.env, hubfake.online  # fixtures
ASSETSMITH = str(Path(sys.executable).parent / "assetsmith")
ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    code = main(["models", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return code, out, err


def record(project: Project, model: str) -> int:
    """A finished generation whose recipe names `model`, as the job runner records one."""
    recipe = {"engine": "diffusion", "model": model, "prompt": "a potion", "negative_prompt": "", "seed": 1}
    writer = project.writer(recipe)
    writer.add(index=0, seed=1, kind="image", ext="png", data=b"png", recipe=recipe, content_sha256="c0")
    return writer.finish("finished").id


# -- list ------------------------------------------------------------------------------------------

def test_list_json_table_engine_filter_and_project(env, tmp_path, tiny_gpt2, capsys):
    _, cache = env
    fake_sd(models.library_dir() / "my-sd")
    put_in_hf_cache(cache, "tester/gpt2", tiny_gpt2)
    project = tmp_path / "P"
    write_safetensors(project / "models" / "mine.safetensors", ["model.diffusion_model.x"])

    code, out, err = run_cli(capsys, "list", "--json", "--project", project)
    assert code == 0, err
    rows = {m["ref"]: m for m in json.loads(out)}
    assert rows["tester/gpt2"]["engines"] == ["causal-lm"] and rows["tester/gpt2"]["source"] == "huggingface"
    assert rows["project:mine.safetensors"]["kind"] == "checkpoint"
    sd = rows[str((models.library_dir() / "my-sd").resolve())]
    assert (sd["family"], sd["engines"], sd["source"]) == ("sd1", ["diffusion"], "library")

    code, out, _ = run_cli(capsys, "list", "--json", "--engine", "causal-lm")
    assert code == 0 and [m["ref"] for m in json.loads(out) if m["source"] != "starter"] == ["tester/gpt2"]

    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["reference", "type", "engines", "family", "size", "source", "licence"]
    gpt2 = next(line for line in lines if line.startswith("tester/gpt2"))
    assert gpt2.split()[:4] == ["tester/gpt2", "model", "causal-lm", "gpt2"] and "huggingface" in gpt2
    assert "KB" in gpt2

    code, _, err = run_cli(capsys, "list", "--engine", "nope")
    assert code == 2 and "no engine 'nope'" in err
    code, _, err = run_cli(capsys, "list", "--project", tmp_path / "missing")
    assert code == 2 and "no project at" in err and not (tmp_path / "missing").exists()


def test_list_mentions_unfinished_downloads(online, tiny_gpt2, capsys):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        with pytest.raises(downloads.Cancelled):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint, cancelled=lambda: True)
    code, out, err = run_cli(capsys, "list")
    assert code == 0 and "tester/gpt2" not in out
    assert "unfinished download of tester/gpt2: `assetsmith models pull tester/gpt2` resumes it" in err


# -- pull ------------------------------------------------------------------------------------------

def test_pull_prints_progress_and_the_model(online, tiny_gpt2, capsys):
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        code, out, err = run_cli(capsys, "pull", "tester/gpt2", "--engine", "causal-lm", "--endpoint", hub.endpoint)
    assert code == 0, err
    result = json.loads(out)
    assert result["ref"] == "tester/gpt2" and result["engines"] == ["causal-lm"]
    assert result["path"] == str(cache / "models--tester--gpt2" / "snapshots" / hub.commit)
    lines = err.splitlines()
    assert "file(s)" in lines[0] and "licence mit" in lines[0] and "left on the Hub: pytorch_model.bin" in lines[0]
    assert lines[-1].startswith("tester/gpt2: ") and "(100%)" in lines[-1] and "/s" in lines[-1]
    assert sum(r.startswith("GET /api/models/") for r in hub.requests) == 1  # the plan shown is the plan pulled


def test_progress_line_redraws_on_a_terminal():
    import io

    from studio.cli_models import _ProgressLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = _ProgressLine(out)
    bar.update(downloads.Progress("a/b", "model.safetensors", 250_000_000, 1_000_000_000, 5e6, 150.0))
    bar.update(downloads.Progress("a/b", "model.safetensors", 260_000_000, 1_000_000_000, 5e6, 148.0))  # too soon
    bar.update(downloads.Progress("a/b", "config.json", 1_000_000_000, 1_000_000_000, 5e6, 0.0))  # the end: always
    bar.close()
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and out.getvalue().endswith("\n")
    assert frames[0].startswith("a/b: 250.0 MB / 1.0 GB (25%)  5.0 MB/s  ETA 2 min 30 s  model.safetensors")
    assert frames[1].startswith("a/b: 1.0 GB / 1.0 GB (100%)") and "ETA" not in frames[1]


def test_pull_dry_run_downloads_nothing(online, tiny_gpt2, capsys):
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        code, out, err = run_cli(capsys, "pull", "tester/gpt2", "--dry-run", "--endpoint", hub.endpoint)
    assert code == 0, err
    the_plan = json.loads(out)
    assert the_plan["skipped"] == ["pytorch_model.bin"] and the_plan["total_bytes"] > 0
    assert not any(r.startswith("GET /tester") for r in hub.requests)
    assert not (cache / "models--tester--gpt2").exists()


def test_pull_for_an_engine_that_cannot_load_it_fails(online, tiny_gpt2, capsys):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        code, out, err = run_cli(capsys, "pull", "tester/gpt2", "--engine", "diffusion", "--endpoint", hub.endpoint)
    assert code == 1
    assert "engine 'diffusion' cannot load tester/gpt2 (it fits: causal-lm)" in err
    assert json.loads(out)["ref"] == "tester/gpt2"  # downloaded all the same: say where it is


def test_pull_errors_are_one_clear_line(online, tiny_gpt2, capsys):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        code, out, err = run_cli(capsys, "pull", "tester/missing", "--endpoint", hub.endpoint)
        assert code == 1 and out == ""
        assert err.startswith("assetsmith: no model tester/missing on http://127.0.0.1") and "Traceback" not in err
        code, _, err = run_cli(capsys, "pull", "./here", "--endpoint", hub.endpoint)
        assert code == 2 and "not a Hub repository id" in err
        code, _, err = run_cli(capsys, "pull", "tester/gpt2", "--engine", "nope", "--endpoint", hub.endpoint)
        assert code == 2 and "no engine 'nope'" in err
    assert not any("/resolve/" in r for r in hub.requests)  # no file was asked for


def test_pull_in_offline_mode_says_so_and_makes_no_connection(env, monkeypatch, capsys):
    import socket

    tried = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: tried.append(a) or 1 / 0)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    code, out, _ = run_cli(capsys, "offline", "on")
    assert code == 0 and out.strip() == "offline mode: on" and settings.load()["offline"] is True
    code, out, err = run_cli(capsys, "pull", "tester/gpt2")
    assert code == 1 and "offline mode is on (it is on in preferences)" in err
    assert "`assetsmith models offline off`" in err and tried == []
    code, out, _ = run_cli(capsys, "offline", "off")
    assert out.strip() == "offline mode: off" and settings.offline() is False
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = run_cli(capsys, "offline")
    assert out.strip() == "offline mode: on (HF_HUB_OFFLINE=1 decides, whatever the preference says)"


def test_ctrl_c_cancels_a_pull_cleanly_and_the_same_command_resumes(online, tiny_gpt2, capsys):
    _, cache = online
    big = big_safetensors(cache.parent / "big.safetensors", 3 << 20)
    files = {"model.safetensors": big.read_bytes(), "config.json": (tiny_gpt2 / "config.json").read_bytes()}
    with FakeHub("tester/big", files) as hub:
        hub.chunk_delay = 0.05  # 64 KB every 50 ms: a few seconds for the file
        environment = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(cache), "NO_PROXY": "127.0.0.1"}
        environment.pop("HF_HUB_OFFLINE", None)
        proc = subprocess.Popen([ASSETSMITH, "models", "pull", "tester/big"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=environment, cwd=ROOT)
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if line.startswith("tester/big: ") and "%" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=30)
        err = "".join(lines) + rest
        assert proc.returncode == 130, err
        assert "download of tester/big cancelled; what arrived is kept: run the same command to resume" in err
        assert "Traceback" not in err and out == ""
        [partial] = (cache / "models--tester--big" / "blobs").glob("*.incomplete")
        kept = partial.stat().st_size
        assert 0 < kept < len(files["model.safetensors"])
        assert "tester/big" not in {m.ref for m in models.discover()}

        hub.chunk_delay = 0
        code, out, err = run_cli(capsys, "pull", "tester/big", "--endpoint", hub.endpoint)
        assert code == 0, err
        assert hub.ranges and int(hub.ranges[-1].split("=")[1].rstrip("-")) >= kept  # resumed, not restarted
    path = Path(json.loads(out)["path"])
    assert (path / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert downloads.pending() == []


# -- import, convert -------------------------------------------------------------------------------

def test_import_copy_link_name_and_project(env, tmp_path, capsys):
    f = write_safetensors(tmp_path / "dream.safetensors", ["model.diffusion_model.x"])
    code, out, err = run_cli(capsys, "import", f)
    assert code == 0, err
    info = json.loads(out)
    assert info["source"] == "library" and info["kind"] == "checkpoint" and not info["linked"]
    assert "copied" in err and (models.library_dir() / "dream.safetensors").is_file()

    code, out, err = run_cli(capsys, "import", f, "--link", "--name", "dream-link.safetensors")
    assert code == 0, err
    assert json.loads(out)["linked"] and (models.library_dir() / "dream-link.safetensors").is_symlink()
    assert "linked" in err

    code, _, err = run_cli(capsys, "import", f)
    assert code == 2 and "already in" in err and "--name" in err

    project = tmp_path / "P"
    Project.open(project).close()
    code, out, err = run_cli(capsys, "import", f, "--project", project)
    assert code == 0 and json.loads(out)["ref"] == "project:dream.safetensors"
    assert (project / "models" / "dream.safetensors").is_file()


def test_import_refuses_a_pickle_and_names_the_convert_command(env, tmp_path, capsys):
    f = tmp_path / "old.ckpt"
    f.write_bytes(b"\x80\x04pickle")
    code, out, err = run_cli(capsys, "import", f)
    assert code == 2 and out == ""
    assert "pickle" in err and f"assetsmith models convert {f}" in err
    assert not models.library_dir().exists() or not any(models.library_dir().iterdir())


def test_convert_then_import(env, tmp_path, capsys):
    import torch

    src = tmp_path / "old.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.w": torch.ones(2, 3)}, "global_step": 7}, src)
    code, out, err = run_cli(capsys, "convert", src)
    assert code == 0, err
    report = json.loads(out)
    [written] = report["files"]
    assert written["target"] == str(tmp_path / "old.safetensors") and written["tensors"] == 1
    assert written["dropped"] == ["global_step"]
    assert "wrote" in err and "1 tensors" in err and "global_step" in err
    code, out, err = run_cli(capsys, "import", tmp_path / "old.safetensors")
    assert code == 0 and json.loads(out)["family"] == "sd1"
    code, _, err = run_cli(capsys, "convert", src)
    assert code == 2 and "already exists" in err


# -- remove ----------------------------------------------------------------------------------------

def test_remove_shows_space_and_users_and_needs_force(env, tmp_path, capsys):
    info = models.import_model(write_safetensors(tmp_path / "used.safetensors", ["model.diffusion_model.x"]))
    project = tmp_path / "P"
    with Project.open(project) as p:
        first, second = record(p, info.ref), record(p, info.ref)
        record(p, "other-model")

    code, out, err = run_cli(capsys, "remove", info.ref, "--project", project, "--dry-run")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["removed"] is False and plan["size_bytes"] == info.size_bytes and plan["used_by"] == 2
    assert sorted(plan["used_ids"]) == [first, second]
    assert f"frees {downloads.human_size(info.size_bytes)}" in err
    assert f"used by 2 generation(s) of {project.resolve()}: {second}, {first}" in err
    assert info.path.is_file()

    code, out, err = run_cli(capsys, "remove", info.ref, "--project", project)
    assert code == 2 and "used by 2 generation(s)" in err and "--force" in err
    assert info.path.is_file()

    code, out, err = run_cli(capsys, "remove", info.ref, "--project", project, "--force")
    assert code == 0, err
    assert json.loads(out)["removed"] is True and json.loads(out)["freed_bytes"] == info.size_bytes
    assert not info.path.exists() and "removed" in err


def test_remove_without_project_a_link_and_refusals(env, tmp_path, capsys):
    f = write_safetensors(tmp_path / "x.safetensors", ["lora_unet_x"])
    models.import_model(f, link=True)
    link = models.library_dir() / "x.safetensors"
    code, out, err = run_cli(capsys, "remove", str(link))
    assert code == 0, err
    assert "frees 0 B (a link: the files it points at stay)" in err and "no --project given" in err
    assert not link.is_symlink() and f.is_file()

    code, _, err = run_cli(capsys, "remove", "nobody/nothing")
    assert code == 2 and "no model 'nobody/nothing'" in err
    settings.add_model_folder(tmp_path)
    code, _, err = run_cli(capsys, "remove", str(f))
    assert code == 2 and "your own model folder" in err and f.is_file()
    code, _, err = run_cli(capsys, "remove", str(f), "--project", tmp_path / "missing")
    assert code == 2 and "no project at" in err and not (tmp_path / "missing").exists()


def test_folders_add_list_and_remove_an_a1111_folder(env, tmp_path, capsys):
    a1111 = tmp_path / "stable-diffusion-webui" / "models" / "Stable-diffusion"
    write_safetensors(a1111 / "dreamshaper.safetensors", ["model.diffusion_model.x", "cond_stage_model.transformer.y"])
    code, out, err = run_cli(capsys, "folders", "add", a1111.parent)
    assert code == 0 and out.strip() == str(a1111.parent.resolve()), err
    code, out, _ = run_cli(capsys, "list", "--json")
    (found,) = [m for m in json.loads(out) if m["path"] == str((a1111 / "dreamshaper.safetensors").resolve())]
    assert "diffusion" in found["engines"]  # found in place, not copied
    code, _, err = run_cli(capsys, "folders", "add", tmp_path / "nowhere")
    assert code == 2 and "is not a folder" in err
    code, out, _ = run_cli(capsys, "folders", "remove", a1111.parent)
    assert code == 0 and out.strip() == ""
