"""The Train workspace in the real window: scan a folder, train a tiny GAN in a real child
process, watch the loss curves and sample grids, stop, close mid-run, resume to the end."""
import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

sys.path.insert(0, str(Path(__file__).parent))
from test_data import shape_image  # noqa: E402

from studio import training  # noqa: E402
from studio.project import Project  # noqa: E402
from ui.gc_guard import GuiThreadGC  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402

TINY_GAN = {"resolution": 32, "g_width": 8, "d_width": 8, "latent_dim": 16, "batch_size": 4, "threads": 1,
            "eval_samples": 8, "eval_every": 0}
RUN_S = 120_000  # ms: a child imports torch first, slowly on a busy machine


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "sprites"
    folder.mkdir()
    for i in range(10):
        shape_image(i, 40, "RGBA").save(folder / f"s{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    shutil.copy(folder / "s3.png", folder / "z-copy.png")
    return folder


@pytest.fixture
def project_root(tmp_path):
    return tmp_path / "P.assetsmith"


@pytest.fixture
def open_window(qtbot, project_root, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)  # no modal dialogs in tests
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    collector = GuiThreadGC()
    opened = []

    def make():
        project = Project.open(project_root)
        main = MainWindow(project)
        qtbot.addWidget(main)
        main.show()
        main.tabs.setCurrentWidget(main.train)
        opened.append((main, project))
        return main

    yield make
    for main, project in opened:
        main.close()
        project.close()
    collector.stop()


def settings(train, images, name, **params):
    train.folder.setText(str(images))
    train.name.setText(name)
    for key, value in {**TINY_GAN, **params}.items():
        train.params().set_value(key, value)


def test_scan_report_and_errors_in_words(qtbot, open_window, images, tmp_path, project_root):
    train = open_window().train
    train.folder.setText(str(images))
    train.scan()
    qtbot.waitUntil(lambda: train.last_report is not None, timeout=30_000)
    assert train.report_summary.text().startswith("12 files: 10 kept, 1 skipped, 1 duplicate")
    details = train.report.toPlainText()
    assert "broken.png — not an image" in details or "broken.png — corrupt" in details
    assert "z-copy.png — same pixels as s3.png" in details and "Kept (10)" in details
    assert "Data: 12 files" in train.status.text()

    train.folder.setText(str(tmp_path / "nowhere"))
    train.scan()
    qtbot.waitUntil(lambda: "does not exist" in train.status.text(), timeout=30_000)
    assert "Cannot train on this folder" in train.status.text() and "d9534f" in train.status.styleSheet()
    assert train.report.toPlainText() == ""

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a picture")
    train.folder.setText(str(empty))
    train.scan()
    qtbot.waitUntil(lambda: "no usable images" in train.status.text(), timeout=30_000)
    assert "notes.txt — not an image" in train.report.toPlainText()  # why, even when nothing is usable
    train.folder.clear()
    train.start()
    assert "Choose a data folder" in train.status.text() and not train.busy()

    # A run the trainer refuses (its config is damaged): the child's own reason, in words.
    broken = training.runs_folder(project_root) / "20990101-000000-abcdef"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{not json")
    train.resume(broken.name)
    qtbot.waitUntil(lambda: not train.busy(), timeout=RUN_S)
    assert train.outcome["event"] == "failed" and train.progress.format() == "failed"
    assert "Cannot train:" in train.status.text() and "config.json is not valid JSON" in train.status.text()
    qtbot.waitUntil(lambda: train.run_list.tree.topLevelItemCount() == 1 and train.run_list.tree.topLevelItem(0)
                    .text(0).startswith("cannot list the runs"), timeout=30_000)
    assert train.start_button.isEnabled() and not train.resume_button.isEnabled()


def test_train_watch_stop_close_and_resume_to_a_registered_model(qtbot, open_window, images, project_root):
    """One run through three child processes (each imports torch: the slow part): started,
    stopped with the button, resumed, stopped by closing the window, resumed in a new window."""
    steps = 150
    window = open_window()
    train = window.train
    settings(train, images, "sprites", steps=steps, sample_every=20, checkpoint_every=1000)
    train.start()
    assert train.busy() and not train.start_button.isEnabled()
    qtbot.waitUntil(lambda: train._step >= 2, timeout=RUN_S)
    assert train.stop_button.isEnabled()
    train.stop()  # returns at once; the trainer saves and exits on its own
    assert not train.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not train.busy(), timeout=RUN_S)
    assert train.outcome["event"] == "stopped", train.status.text()
    stopped_at = train._step
    assert 2 <= stopped_at < steps and "Stopped at step" in train.status.text()
    for name in ("loss_d", "loss_g", "d_real", "d_fake"):  # one curve per name in the step events
        assert train.plot.points(name) == stopped_at, name
    (run,) = training.list_runs(project_root)
    assert run["state"] == "stopped"
    qtbot.waitUntil(lambda: train.chosen_run() == run["run_id"], timeout=30_000)
    assert train.resume_button.isEnabled()

    train.resume()
    qtbot.waitUntil(lambda: train._step > stopped_at + 1, timeout=RUN_S)
    assert train.plot.steps("loss_g")[:stopped_at] == list(range(1, stopped_at + 1))  # the curve so far
    window.close()  # asks (patched: yes), then the trainer saves a checkpoint and stops
    (run,) = training.list_runs(project_root)
    assert run["state"] == "stopped" and not training.is_running(training.run_dir(project_root, run["run_id"]))

    window = open_window()  # the project opened again: the run is offered and finishes
    train = window.train
    offered = []
    train.model_ready.connect(lambda engine, ref: offered.append((engine, ref)))
    qtbot.waitUntil(lambda: train.chosen_run() == run["run_id"], timeout=30_000)
    train.resume()
    qtbot.waitUntil(lambda: train.sample.has_sample(), timeout=RUN_S)  # shown as soon as one is written
    qtbot.waitUntil(lambda: not train.busy(), timeout=RUN_S)
    assert train.outcome["event"] == "finished", train.status.text()
    assert train.plot.steps("loss_g") == list(range(1, steps + 1))  # every step once, across three children
    assert train.plot.points("loss_g") == steps
    qtbot.waitUntil(lambda: train.sample.caption.text().startswith(f"step {steps}"))  # read off the GUI thread
    assert train.sample.image.has_image()
    assert train.progress.value() == steps and "finished" in train.progress.format()
    assert offered == [("gan", "project:sprites")] and train.model_ref == "project:sprites"
    assert "project:sprites" in train.status.text() and "project:sprites" in window.statusBar().currentMessage()
    # The GAN is one of the Image tab's engines, and its model picker lists the finished model.
    image = window.image
    assert [image.engine_choice.itemData(i) for i in range(image.engine_choice.count())] == ["diffusion", "gan", "vae"]
    image.engine_choice.setCurrentIndex(image.engine_choice.findData("gan"))
    dialog = image.get_more_models()
    qtbot.waitUntil(lambda: "project:sprites" in dialog.visible_refs(), timeout=30_000)
    dialog.reject()
    image.engine_choice.setCurrentIndex(image.engine_choice.findData("diffusion"))
    window.tabs.setCurrentWidget(train)
    qtbot.waitUntil(lambda: train.use_button.isEnabled(), timeout=30_000)  # the finished run is chosen
    train.use_button.click()  # "use this model now": the Image tab, GAN engine, this model
    assert window.tabs.currentWidget() is image and image.engine.name == "gan"
    assert image.model.text() == "project:sprites" and not image.prompt.isVisible()
    assert (project_root / "models" / "sprites" / "generator.safetensors").is_file()
    (run,) = training.list_runs(project_root)
    assert run["state"] == "finished" and run["model"] == "project:sprites"
    qtbot.waitUntil(lambda: train.chosen_run() == "", timeout=30_000)  # finished: not offered
    settings(train, images, "sprites")
    train.start()  # the same name again: refused in words, nothing started
    qtbot.waitUntil(lambda: "already has a model named 'sprites'" in train.status.text(), timeout=30_000)
    assert not train.busy() and len(training.list_runs(project_root)) == 1
