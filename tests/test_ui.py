"""The window on the real core: generate with a tiny model, watch, cancel, close cleanly."""
import threading

import pytest
from PySide6.QtWidgets import QMessageBox, QSpinBox

from engines.api import ParamError
from studio.jobs import JobEvent
from studio.project import Project
from ui.bridge import JobBridge
from ui.gc_guard import GuiThreadGC
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, tiny_sd, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)  # no modal dialogs in tests
    collector = GuiThreadGC()  # as the app does: no Qt object is ever collected on a worker thread
    project = Project.open(tmp_path / "P.assetsmith")
    main = MainWindow(project)
    qtbot.addWidget(main)
    w = main.image
    w.model.setText(str(tiny_sd))
    w.prompt.setPlainText("a red potion")
    main.show()
    yield w
    main.close()
    project.close()
    collector.stop()


def test_param_form_is_built_from_the_schema(qtbot, window):
    form = window.params
    assert isinstance(form.editor("num_steps"), QSpinBox)
    assert form.values() == {}  # untouched: the bare library call (size, scheduler: the model's own)
    form.set_value("num_steps", 20)
    assert form.values() == {"num_steps": 20}
    form.set_value("scheduler", "Euler a")
    form.set_value("width", 128)
    assert form.values()["scheduler"] == "Euler a" and form.values()["width"] == 128
    form.set_value("variation_seed", 4_000_000_000)  # past what a QSpinBox holds
    form.set_value("variation_strength", 0.2)
    assert form.values()["variation_seed"] == 4_000_000_000
    form.set_value("width", 100)
    with pytest.raises(ParamError, match="multiple of 8"):
        form.values()
    assert "multiple of 8" in form.error.text()


def test_generate_shows_the_image_and_records_it(qtbot, window):
    window.random_seed.setChecked(False)
    window.seed.setText("3")
    window.params.set_value("num_steps", 2)
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        assert window.generate() is not None
    qtbot.waitUntil(lambda: window.history.count() == 1)
    assert window.view.has_image()
    assert "seed: 3" in window.recipe.toPlainText()
    (generation,) = window.project.query()
    assert generation.status == "finished" and generation.outputs[0].seed == 3


def test_step_previews_reach_the_image_view(qtbot, window):
    window.params.set_value("num_steps", 3)
    window.params.set_value("preview_every", 1)
    with qtbot.waitSignal(window.bridge.preview, timeout=60000) as preview:
        window.generate()
    assert preview.args[1].shape == (32, 32, 3)
    assert window.view.has_image()
    qtbot.waitSignal(window.bridge.finished, timeout=60000).wait()


def test_bad_input_is_shown_not_raised(qtbot, window, tmp_path):
    window.model.setText(str(tmp_path / "missing"))
    assert window.generate() is None
    main = window.window()
    assert "not found" in main.statusBar().currentMessage()
    window.model.setText(str(tmp_path))
    window.random_seed.setChecked(False)
    window.seed.setText("9999999999")
    assert window.generate() is None
    assert "seed must be" in main.statusBar().currentMessage()


def test_cancel_ends_the_running_job(qtbot, window):
    window.params.set_value("num_steps", 300)
    with qtbot.waitSignal(window.bridge.progress, timeout=60000):
        window.generate()
    with qtbot.waitSignal(window.bridge.cancelled, timeout=60000):
        window.cancel_all()
    assert window.project.query() == []
    assert not window.cancel_button.isEnabled()


def test_text_workspace_streams_and_records(qtbot, window, tiny_gpt2):
    text = window.window().text
    text.model.setText(str(tiny_gpt2))
    text.prompt.setPlainText("Potion names:\n1.")
    text.params.set_value("max_new_tokens", 40)
    text.params.set_value("temperature", 0.9)
    text.params.set_value("mode", "list")
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        assert text.generate() is not None
    qtbot.waitUntil(lambda: text.history.count() >= 1)
    assert text.text.toPlainText()  # the selected item's text
    assert window.history.count() == 0  # the image workspace minds only its own jobs
    (generation,) = window.project.query(modality="text")
    assert all(o.path.suffix == ".txt" for o in generation.outputs)


def test_bridge_coalesces_progress_and_keeps_terminal_events(qtbot):
    class Runner:
        def subscribe(self, callback):
            self.callback = callback
            return lambda: None

    runner = Runner()
    bridge = JobBridge(runner, interval_ms=1000)
    seen = []
    bridge.progress.connect(lambda job, step, total: seen.append(step))
    bridge.finished.connect(lambda job, result: seen.append("finished"))

    def worker():
        for step in range(1, 1001):
            runner.callback(JobEvent("progress", 1, progress=(step, 1000)))
        runner.callback(JobEvent("finished", 1))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    bridge.flush()
    assert seen == [1000, "finished"]
    bridge.close()


def test_dropping_a_png_restores_its_settings(qtbot, window, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PIL import Image, PngImagePlugin

    main = window.window()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "castle on a hill\nNegative prompt: lowres\n"
                                "Steps: 12, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 4000000000, "
                                "Size: 128x96, Model hash: e6bb9ea85b, Model: v1-5, Schedule type: Karras")
    png = tmp_path / "from-a1111.png"
    Image.new("RGB", (8, 8)).save(png, pnginfo=info)
    main.tabs.setCurrentIndex(1)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(png))])
    drop = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    main.dropEvent(drop)
    assert main.current() is window  # switched to the Image workspace
    assert window.prompt.toPlainText() == "castle on a hill" and window.negative.toPlainText() == "lowres"
    assert not window.random_seed.isChecked() and window.seed.text() == "4000000000"
    assert window.params.values() == {"num_steps": 12, "scheduler": "DPM++ 2M Karras", "guidance_scale": 6.5,
                                      "width": 128, "height": 96}
    assert "restored" in main.statusBar().currentMessage()
    (tmp_path / "fake.png").write_text("not a png")
    assert not main.open_recipe_file(tmp_path / "fake.png")
    assert "is not a PNG image" in main.statusBar().currentMessage()


def test_a_generated_png_restores_exactly_what_made_it(qtbot, window):
    window.random_seed.setChecked(False)
    window.seed.setText("5")
    window.params.set_value("num_steps", 2)
    window.params.set_value("tiling", "x")
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        window.generate()
    (generation,) = window.project.query()
    made = window.request()
    window.prompt.setPlainText("something else")
    window.params.set_value("tiling", "none")
    assert window.window().open_recipe_file(generation.outputs[0].path)
    again = window.request()
    assert again.prompt == made.prompt and again.seed == made.seed
    # What the form had left to the model (size, scheduler) comes back as the resolved values.
    assert again.params == {**made.params, "width": 64, "height": 64, "scheduler": "PLMS"}
