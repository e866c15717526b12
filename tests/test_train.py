"""The training harness: in-process for the exactness of resume, as a child process for
stop, kill and the CLI, each on a tiny folder and a handful of 32 px steps."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_data import shape_image  # noqa: E402

from engines.api import NullEvents, ParamError, Request  # noqa: E402
from engines.image.gan import GanEngine  # noqa: E402
from engines.train import checkpoint, harness, schema  # noqa: E402
from studio import training  # noqa: E402
from studio.project import Project  # noqa: E402

TINY_GAN = {"resolution": 32, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 4, "threads": 1,
            "eval_samples": 8}
TINY_VAE = {"resolution": 32, "width": 8, "latent_dim": 8, "batch_size": 4, "threads": 1, "eval_samples": 8}


pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "sprites"
    folder.mkdir()
    for i in range(10):
        shape_image(i, 40, "RGBA").save(folder / f"s{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


def new_run(root: Path, engine: str, data: Path, **params) -> Path:
    return training.create_run(root, engine, data, params)


def run_in_process(folder: Path, resume=False, stop_after=None):
    config = harness.read_config(folder)
    emit = harness.Emitter(folder, config["run_id"], stdout=None)
    try:
        return harness.run(folder, config, resume=resume, emit=emit,
                           should_stop=lambda: stop_after is not None and emit.step >= stop_after)
    finally:
        emit.close()


def events(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def final_state(folder: Path) -> dict:
    tensors, _ = checkpoint.load(checkpoint.latest(folder / "checkpoints"))
    return tensors


@pytest.mark.parametrize("engine, params", [("gan", TINY_GAN), ("vae", TINY_VAE)])
def test_few_steps_write_events_samples_checkpoints_and_a_model(tmp_path, images, engine, params):
    folder = new_run(tmp_path, engine, images, steps=4, checkpoint_every=2, sample_every=2, keep_checkpoints=1,
                     val_fraction=0.2, **params)
    assert run_in_process(folder) == "finished"
    log = events(folder)
    kinds = [e["event"] for e in log]
    assert kinds[:2] == ["started", "data"] and kinds[-1] == "finished"
    assert [e["step"] for e in log if e["event"] == "step"] == [1, 2, 3, 4]
    assert kinds.count("sample") == 2 and kinds.count("checkpoint") == 2 and kinds.count("eval") == 1
    data = log[1]
    assert data["kept"] == 10 and data["skipped"] == 1 and data["train"] == 8 and data["val"] == 2
    report = json.loads((folder / "data" / "report.json").read_text())
    assert report["skipped"][0]["file"] == "broken.png"
    assert [p.name for p in checkpoint.complete(folder / "checkpoints")] == ["step-00000004"]  # keeps 1
    assert (folder / "samples" / "step-00000004.png").is_file()
    metrics = log[-1]["metrics"]
    assert metrics["feature_net"] == "assetsmith-randconv-v1" and "not published Inception" in metrics["note"]
    assert np.isfinite(metrics["fid"]) and np.isfinite(metrics["kid"])
    if engine == "vae":
        assert 0 < metrics["psnr"] and -1 <= metrics["ssim"] <= 1 and metrics["mse"] > 0
    model = json.loads((folder / "model" / "model.json").read_text())
    assert model["format"] == f"assetsmith-{engine}" and model["trained"]["steps"] == 4
    assert model["config"]["channels"] == 3 and model["config"]["resolution"] == 32


@pytest.mark.parametrize("engine, params", [("gan", {**TINY_GAN, "diffaug": True, "d_norm": "spectral",
                                                     "upsample": "resize"}),
                                            ("vae", TINY_VAE)])
def test_stop_then_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, images, engine, params):
    common = dict(steps=7, checkpoint_every=100, sample_every=0, eval_every=0, crops=True, color_jitter=0.1,
                  channels=4, **params)
    whole = new_run(tmp_path / "a", engine, images, **common)
    assert run_in_process(whole) == "finished"
    parts = new_run(tmp_path / "b", engine, images, **common)
    assert run_in_process(parts, stop_after=3) == "stopped"
    assert [e["event"] for e in events(parts)][-2:] == ["checkpoint", "stopped"]
    assert run_in_process(parts, resume=True) == "finished"
    resumed = events(parts)
    started = [e for e in resumed if e["event"] == "started"]
    assert [s["resumed"] for s in started] == [False, True] and started[1]["step"] == 3
    assert [e["step"] for e in resumed if e["event"] == "step"] == list(range(1, 8))
    a, b = final_state(whole), final_state(parts)
    assert a.keys() == b.keys()
    for key in a:  # weights, optimiser moments, RNG states, data order
        assert torch.equal(a[key], b[key]), key
    weights = "generator.safetensors" if engine == "gan" else "vae.safetensors"
    assert (whole / "model" / weights).read_bytes() == (parts / "model" / weights).read_bytes()
    if engine == "gan":  # the setting reached the model
        assert json.loads((whole / "model" / "model.json").read_text())["config"]["upsample"] == "resize"


@pytest.mark.parametrize("g_ema", [0.9, 0.0])
def test_the_gan_exports_the_moving_average_of_its_generator(tmp_path, images, g_ema):
    from safetensors.torch import load_file

    folder = new_run(tmp_path, "gan", images, steps=6, checkpoint_every=100, sample_every=0, eval_every=0,
                     g_ema=g_ema, **TINY_GAN)
    assert run_in_process(folder) == "finished"
    exported, state = load_file(folder / "model" / "generator.safetensors"), final_state(folder)
    last = {k[len("G."):]: v for k, v in state.items() if k.startswith("G.")}
    average = {k[len("G_ema."):]: v for k, v in state.items() if k.startswith("G_ema.")}
    if not g_ema:
        assert not average and all(torch.equal(exported[k], last[k]) for k in last)
        return
    assert exported.keys() == average.keys() == last.keys()
    assert all(torch.equal(exported[k], average[k]) for k in average)
    weight = next(k for k in last if k.endswith("weight") and last[k].dim() == 4)
    assert not torch.equal(average[weight], last[weight])  # an average, not the last step


def test_the_moving_average_ramps_up_then_keeps_its_decay():
    from engines.train.gan_trainer import GanTrainer

    trainer = GanTrainer(schema.resolve("gan", {**TINY_GAN, "g_ema": 0.99}), "cpu", torch.Generator().manual_seed(0))
    with torch.no_grad():
        for ema in trainer.G_ema.parameters():
            ema.zero_()
        for current in trainer.G.parameters():
            current.fill_(1.0)
    trainer._update_ema()  # the first update: decay (1 + 1) / (10 + 1)
    first = next(trainer.G_ema.parameters())
    assert torch.allclose(first, torch.full_like(first, 1 - 2 / 11))
    trainer.ema_updates = 10_000  # late in a run: the set decay
    trainer._update_ema()
    assert torch.allclose(first, torch.full_like(first, (1 - 2 / 11) * 0.99 + 0.01))


def test_bad_parameters_and_folders_are_refused_before_a_child_starts(tmp_path, images):
    with pytest.raises(ParamError, match="resolution must be 32, 64 or 128"):
        new_run(tmp_path, "gan", images, resolution=48)
    with pytest.raises(ParamError, match="unknown parameter"):
        new_run(tmp_path, "gan", images, stepz=3)
    with pytest.raises(ParamError, match="no trainer for engine"):
        new_run(tmp_path, "diffusion", images)
    with pytest.raises(ParamError, match="data folder"):
        new_run(tmp_path, "gan", tmp_path / "nowhere")
    with pytest.raises(ParamError, match="model name"):
        training.create_run(tmp_path, "gan", images, {}, name="../escape")
    with pytest.raises(training.TrainingError, match="no training run"):
        training.TrainingProcess.resume(tmp_path, "20990101-000000-abcdef")


def test_a_run_without_threads_takes_the_threads_setting(tmp_path, images, monkeypatch):
    """One default for the window, the CLI and training; the run's config keeps the count."""
    from studio import settings

    monkeypatch.setenv("ASSETSMITH_HOME", str(tmp_path / "home"))
    config = lambda folder: json.loads((folder / "config.json").read_text())["params"]  # noqa: E731
    assert "threads" not in config(new_run(tmp_path / "a", "gan", images))  # automatic: the child's torch decides
    settings.set_threads(1)
    assert config(new_run(tmp_path / "b", "gan", images))["threads"] == 1
    assert config(new_run(tmp_path / "c", "gan", images, threads=2))["threads"] == 2


def test_stop_then_resume_in_child_processes_registers_the_model(tmp_path, images):
    root = tmp_path / "p.assetsmith"
    Project.open(root).close()
    run = training.TrainingProcess.start(root, "gan", images, {**TINY_GAN, "steps": 40, "checkpoint_every": 1000,
                                                               "sample_every": 0, "eval_every": 0}, name="sprites")
    seen = []
    for event in run.events():
        seen.append(event)
        if event["event"] == "step" and event["step"] == 2:
            assert run.stop(timeout=60) == 0, (run.folder / "stderr.log").read_text()[-4000:]
    assert seen[-1]["event"] == "stopped" and seen[-2]["event"] == "checkpoint"
    described = training.describe_run(run.folder)
    assert described["state"] == "stopped" and described["step"] >= 2 and described["model"] is None

    again = training.TrainingProcess.resume(root, run.run_id)
    seen = list(again.events())
    assert [e["event"] for e in seen][-2:] == ["finished", "registered"]
    assert seen[-1]["model"] == "project:sprites" and again.returncode == 0
    assert (root / "models" / "sprites" / "generator.safetensors").is_file()
    (listed,) = training.list_runs(root)
    assert listed["state"] == "finished" and listed["model"] == "project:sprites" and listed["step"] == 40
    with pytest.raises(training.TrainingError, match="has finished"):
        training.TrainingProcess.resume(root, run.run_id)
    engine = GanEngine()
    engine.load(str(root / "models" / "sprites"), "cpu")
    (out,) = engine.generate(Request(engine="gan", seed=1), NullEvents())
    assert out.data.shape == (32, 32, 3)


def test_a_killed_trainer_leaves_the_project_openable_and_the_run_resumable(tmp_path, images):
    root = tmp_path / "p.assetsmith"
    with Project.open(root) as project:
        project_ok = project.report.ok()
    assert project_ok
    run = training.TrainingProcess.start(root, "vae", images, {**TINY_VAE, "steps": 10_000, "checkpoint_every": 2,
                                                               "sample_every": 0, "eval_every": 0})
    for event in run.events():
        if event["event"] == "checkpoint":
            run.kill()  # SIGKILL: no goodbye, maybe half a line
            break
    run.process.stdout.close()
    with Project.open(root) as project:
        assert project.report.ok()
    described = training.describe_run(run.folder)
    assert described["state"] == "interrupted" and described["step"] >= 2
    assert not training.is_running(run.folder)
    assert checkpoint.latest(run.folder / "checkpoints") is not None
    assert not (root / "models").exists() or not any((root / "models").iterdir())


def test_cli_trains_to_a_project_model_in_json_lines(tmp_path, images, capsys):
    from studio import cli

    root = tmp_path / "p.assetsmith"
    params = [f"--param={k}={v}" for k, v in {**TINY_GAN, "steps": 3, "sample_every": 0, "eval_every": 0}.items()]
    code = cli.main(["train", "--engine", "gan", "--data", str(images), "--project", str(root), "--name", "icons",
                     *params])
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "started" and lines[-1] == {**lines[-1], "event": "registered", "model": "project:icons"}
    run_id = lines[0]["run_id"]
    assert cli.main(["train", "--list", "--project", str(root)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["run_id"] == run_id and listed["state"] == "finished"
    assert cli.main(["train", "--resume", run_id, "--project", str(root)]) == 2
    assert "has finished; its model is project:icons" in capsys.readouterr().err
    assert cli.main(["train", "--engine", "gan", "--data", str(images), "--project", str(root),
                     "--param", "resolution=48"]) == 2
    assert "resolution must be" in capsys.readouterr().err
    shutil.rmtree(root / "runs" / run_id / "model")  # the registered copy is the project's own
    assert (root / "models" / "icons" / "model.json").is_file()


def test_two_processes_train_data_parallel_under_accelerate_launch(tmp_path, images):
    """The multi-GPU path, on two CPU processes: accelerate's launcher starts the same harness
    twice, the gradients are averaged (checked: both hold the same weights at each checkpoint,
    or the run fails), stop and resume keep the process count, and the model lands."""
    root = tmp_path / "p.assetsmith"
    Project.open(root).close()
    params = {**TINY_GAN, "steps": 6, "processes": 2, "device": "cpu", "checkpoint_every": 2,
              "sample_every": 0, "eval_every": 0}
    run = training.TrainingProcess.start(root, "gan", images, params, name="both")
    assert run.processes == 2 and "accelerate.commands.launch" in run.process.args
    seen = []
    for event in run.events():
        seen.append(event)
        if event["event"] == "step" and event["step"] == 3:
            assert run.stop(timeout=60) == 0, (run.folder / "stderr.log").read_text()[-4000:]
    kinds = [e["event"] for e in seen]
    assert seen[0]["event"] == "started" and seen[0]["processes"] == 2, (kinds, (run.folder / "stderr.log").read_text())
    assert kinds.count("started") == 1 and kinds[-1] == "stopped" and "checkpoint" in kinds  # one voice: the lead's
    again = training.TrainingProcess.resume(root, run.run_id)
    assert again.processes == 2
    seen = list(again.events())
    assert [e["event"] for e in seen][-2:] == ["finished", "registered"], (run.folder / "stderr.log").read_text()
    assert seen[0]["processes"] == 2 and seen[-1]["model"] == "project:both"
    engine = GanEngine()
    engine.load(str(root / "models" / "both"), "cpu")
    (out,) = engine.generate(Request(engine="gan", seed=1), NullEvents())
    assert out.data.shape == (32, 32, 3)
