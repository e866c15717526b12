"""The window on the real core: generate with a tiny model, watch, cancel, close cleanly."""
import threading
import time

import pytest
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QLineEdit, QMessageBox, QSpinBox, QToolButton,
)

from engines.api import Param, ParamError
from studio.jobs import JobEvent
from studio.project import Project
from ui.bridge import JobBridge
from ui.gc_guard import GuiThreadGC
from ui.loras_editor import LorasEditor
from ui.main_window import MainWindow
from ui.param_form import ParamForm
from ui.widgets import LabeledSlider


@pytest.fixture
def window(qtbot, tmp_path, tiny_sd, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)  # no modal dialogs in tests
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
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
    assert isinstance(form.editor("num_steps"), LabeledSlider)  # typed entry in its value box
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


SCHEMA = (
    Param("steps", "int", 20, min=1, max=100, help="how many steps"),
    Param("scale", "float", None, min=0.0, max=10.0, help="how strongly"),
    Param("sampler", "choice", "a", choices=("a", "b")),
    Param("loop", "bool", False),
    Param("name", "str", None),
    Param("stop", "strings", None),
    Param("picture", "file", None),
    Param("loras", "loras", None),
    Param("every", "int", 0, min=0, max=10, advanced=True),
    Param("big", "int", 5, min=0, max=1_000_000),  # too wide for a slider
    Param("free", "float", 1.0),  # unbounded
)


def test_every_engine_and_trainer_form_gives_back_its_defaults(qtbot):
    # An untouched form is the bare library call: each editor shows its default exactly (a
    # decay of 0.999 on a two-decimal slider became 1.00, and the trainer refused it).
    from engines import registry
    from engines.train import schema

    schemas = {name: registry.get(name).params for name in registry.names()}
    schemas.update({f"train:{name}": schema.all_params(name) for name in schema.TRAINERS})
    for name, params in schemas.items():
        form = ParamForm(params)
        qtbot.addWidget(form)
        assert form.values() == {}, name


def test_param_form_alone(qtbot, tmp_path, monkeypatch):
    form = ParamForm(SCHEMA)
    qtbot.addWidget(form)
    kinds = {"steps": LabeledSlider, "scale": LabeledSlider, "sampler": QComboBox, "loop": QCheckBox,
             "name": QLineEdit, "stop": QLineEdit, "picture": QLineEdit, "every": LabeledSlider,
             "big": QSpinBox, "free": QDoubleSpinBox}
    for name, kind in kinds.items():
        assert isinstance(form.editor(name), kind), name
    assert isinstance(form.editor("loras"), LorasEditor) and form.is_set("loras")  # none: an empty list
    assert form.editor("steps").maximum() == 100 and form.editor("steps").toolTip() == "how many steps"
    assert form.values() == {}
    assert not form.is_set("scale")  # "model's own" until ticked
    form.editor("scale").setValue(2.5)  # an edit behind an unticked box does not count
    assert form.values() == {}
    assert form.advanced is not None and not form.advanced.isExpanded()
    form.set_value("every", 3)  # set from a recipe: the advanced section opens to show it
    assert form.advanced.isExpanded()
    form.set_value("scale", 2.5)
    form.set_value("stop", ["END", "###"])
    form.editor("loop").setChecked(True)
    chosen = tmp_path / "init.png"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(chosen), ""))
    form._enabled["picture"].setChecked(True)  # tick, then browse
    form.editor("picture").parentWidget().findChild(QToolButton).click()
    assert form.values() == {"every": 3, "scale": 2.5, "stop": ["END", "###"], "loop": True,
                             "picture": str(chosen)}
    form.editor("loras").add(str(tmp_path / "style.safetensors"), 0.8)
    form.set_value("loras", form.editor("loras").value() + [[str(tmp_path / "b.safetensors"), 1.0]])
    assert form.values()["loras"] == [[str(tmp_path / "style.safetensors"), 0.8],
                                      [str(tmp_path / "b.safetensors"), 1.0]]
    form.editor("loras").add(str(tmp_path / "b.safetensors"), 0.5)  # the same file again: its weight changes
    assert form.values()["loras"][1] == [str(tmp_path / "b.safetensors"), 0.5]
    form.set_value("loras", [])
    assert "loras" not in form.values()
    form.set_value("steps", 20)  # back at its default: left out again
    assert "steps" not in form.values()
    form.set_value("name", "")
    assert "name" not in form.values()


def test_generate_shows_the_image_and_records_it(qtbot, window):
    window.lock_seed.setChecked(True)
    window.seed.setText("3")
    window.params.set_value("num_steps", 2)
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        assert window.generate()
    qtbot.waitUntil(lambda: window.history.model().rowCount() == 1)
    assert "seed: 3" in window.recipe.toPlainText()
    (generation,) = window.project.query()
    assert generation.status == "finished" and generation.outputs[0].seed == 3
    qtbot.waitUntil(lambda: window.view.source == str(generation.outputs[0].path))  # the file itself, decoded
    assert window.view.has_image()  # off the GUI thread


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
    assert window.generate()  # the form is fine: the runner finds no model, on its worker
    main = window.window()
    qtbot.waitUntil(lambda: "not found" in main.statusBar().currentMessage())
    window.model.setText(str(tmp_path))
    window.lock_seed.setChecked(True)
    window.seed.setText("9999999999")
    assert window.generate() is False  # the form itself says no, at once
    assert "seed must be" in main.statusBar().currentMessage()
    assert not window.busy() and not main.runner.queued()


def test_a_job_that_fails_says_why(qtbot, window, tmp_path):
    folder = tmp_path / "flux"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')  # passes submit, fails to load
    window.model.setText(str(folder))
    with qtbot.waitSignal(window.bridge.failed, timeout=60000) as failed:
        assert window.generate()
    message = window.window().statusBar().currentMessage()
    assert message.startswith("Generation failed: ") and failed.args[1] in message
    assert window.progress.format() == "failed" and not window.cancel_button.isEnabled()


def test_generate_checks_the_model_folder_off_the_gui_thread(qtbot, window, monkeypatch):
    from studio import models

    scanned_on, check = [], models.check_safe
    monkeypatch.setattr(models, "check_safe", lambda path: scanned_on.append(threading.current_thread()) or check(path))
    window.params.set_value("num_steps", 2)
    with qtbot.waitSignal(window.submitted, timeout=60000):
        assert window.generate()
    assert scanned_on and threading.main_thread() not in scanned_on
    qtbot.waitUntil(lambda: not window.busy(), timeout=60000)


def test_a_job_that_ends_before_its_queueing_is_heard_still_lands(qtbot, window, monkeypatch):
    """The worker that queued a job may be slower to say so than the job is to finish."""
    runner, submit = window.runner, window.runner.submit

    def slow_to_answer(*args, **kwargs):
        job = submit(*args, **kwargs)
        job.wait(60)
        time.sleep(0.3)  # past the bridge's delivery of the job's end (every 50 ms)
        return job

    monkeypatch.setattr(runner, "submit", slow_to_answer)
    window.params.set_value("num_steps", 2)
    with qtbot.waitSignal(window.submitted, timeout=60000):
        assert window.generate()
    qtbot.waitUntil(lambda: window.history.model().rowCount() == 1)
    assert window.progress.format() == "finished" and not window.busy() and not window.cancel_button.isEnabled()


def test_cancel_ends_the_running_job(qtbot, window):
    window.params.set_value("num_steps", 300)
    with qtbot.waitSignal(window.submitted, timeout=60000):
        window.generate()
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=60000)  # running, and the workspace's
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
        assert text.generate()
    qtbot.waitUntil(lambda: text.history.model().rowCount() >= 1)
    assert text.text.toPlainText()  # the selected item's text
    assert window.history.model().rowCount() == 0  # the image workspace minds only its own jobs
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


def test_bridge_delivers_on_the_gui_thread_without_flooding(qtbot):
    class Runner:
        def subscribe(self, callback):
            self.callback = callback
            return lambda: None

    runner = Runner()
    bridge = JobBridge(runner)  # 50 ms: at most ~20 deliveries a second
    steps, ends, threads = [], [], set()
    bridge.progress.connect(lambda job, step, total: (steps.append(step), threads.add(threading.get_ident())))
    bridge.failed.connect(lambda job, error: (ends.append(error), threads.add(threading.get_ident())))

    def worker():
        for step in range(1, 20001):
            runner.callback(JobEvent("progress", 7, progress=(step, 20000)))
        runner.callback(JobEvent("failed", 7, error="out of memory"))

    with qtbot.waitSignal(bridge.failed, timeout=10000):
        threading.Thread(target=worker).start()
    assert ends == ["out of memory"]
    assert steps and steps[-1] == 20000 and len(steps) < 200 and steps == sorted(steps)
    assert threads == {threading.get_ident()}  # delivered on this (the GUI) thread
    bridge.close()


def test_closing_the_window_shuts_the_runner_down(qtbot, window, monkeypatch):
    window.params.set_value("num_steps", 300)
    with qtbot.waitSignal(window.submitted, timeout=60000) as queued:
        window.generate()
    job_id = queued.args[0]
    qtbot.waitSignal(window.bridge.progress, timeout=60000).wait()
    main = window.window()
    runner = main.runner
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.No)
    main.close()  # "No": the work goes on
    assert main.isVisible() and not runner.get(job_id).done and "1 job is running" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    main.close()  # "Yes": cancel and close
    job = runner.get(job_id)
    assert job.done and job.state == "cancelled"
    assert not any(t.is_alive() for t in runner._workers.values())
    with pytest.raises(RuntimeError):
        runner.submit(window.request())
    main.shutdown()  # the app calls it again after its loop: harmless


def test_the_shown_workspaces_libraries_are_imported_in_the_background(qtbot, window):
    main = window.window()  # opens on the tab an earlier test's window was closed on
    main.tabs.setCurrentIndex(main._index("Image"))
    qtbot.waitUntil(lambda: "diffusion" in main._warmed and main._warm_worker is None, timeout=120000)
    title, names = next((t, e) for t, e in (("Text", ("causal-lm",)), ("Audio", ("musicgen", "speech")))
                        if not set(e) & main._warmed)
    with qtbot.waitSignal(main.engines_warmed, timeout=120000) as warmed:
        main.tabs.setCurrentIndex(main._index(title))
    assert warmed.args == [names] and set(names) <= main._warmed


def test_seed_controls(qtbot, window):
    assert not window.lock_seed.isChecked()
    window.roll_seed()
    assert window.lock_seed.isChecked() and 0 <= int(window.seed.text()) < 2**32
    window.lock_seed.setChecked(False)
    window.seed.selectAll()
    qtbot.keyClicks(window.seed, "5")  # typing a seed means: use this one
    assert window.lock_seed.isChecked()
    assert window.request().seed == int(window.seed.text())


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
    assert window.lock_seed.isChecked() and window.seed.text() == "4000000000"
    assert window.params.values() == {"num_steps": 12, "scheduler": "DPM++ 2M Karras", "guidance_scale": 6.5,
                                      "width": 128, "height": 96}
    assert "restored" in main.statusBar().currentMessage()
    (tmp_path / "fake.png").write_text("not a png")
    assert not main.open_recipe_file(tmp_path / "fake.png")
    assert "is not a PNG image" in main.statusBar().currentMessage()


def test_a_generated_png_restores_exactly_what_made_it(qtbot, window):
    window.lock_seed.setChecked(True)
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
    # What the form had left to the model (size, scheduler, guidance) comes back as the resolved values.
    assert again.params == {**made.params, "width": 64, "height": 64, "scheduler": "PLMS", "guidance_scale": 7.5}


def test_a_project_that_cannot_open_offers_another_folder_or_quit(qtbot, tmp_path, monkeypatch):
    from ui.app import open_project

    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    shown = []

    def answer(label):
        def exec_(box):
            shown.append(box.text())
            next(b for b in box.buttons() if b.text().startswith(label)).click()
        return exec_

    monkeypatch.setattr(QMessageBox, "exec", answer("Quit"))
    assert open_project(not_a_folder) is None
    assert "is a file, not a project folder" in shown[0]
    monkeypatch.setattr(QMessageBox, "exec", answer("Choose"))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "Other.assetsmith"))
    project = open_project(not_a_folder)
    assert project is not None and project.root.name == "Other.assetsmith"
    project.close()


def test_labeled_slider_and_collapsible(qtbot):
    from ui.widgets import Collapsible

    slider = LabeledSlider(decimals=2)
    qtbot.addWidget(slider)
    slider.setRange(0.0, 20.0)
    seen = []
    slider.valueChanged.connect(seen.append)
    slider.box.setValue(7.25)  # typed into the box
    assert slider.slider.value() == 725 and slider.value() == 7.25 and seen == [7.25]
    slider.slider.setValue(1250)  # dragged
    assert slider.value() == 12.5 and seen[-1] == 12.5
    slider.setValue(99)  # past the range: held at the end, as a spin box does
    assert slider.value() == 20.0 and slider.slider.value() == 2000
    section = Collapsible("Advanced")
    qtbot.addWidget(section)
    section.show()
    assert not section.isExpanded() and not section.content().isVisible()
    section.header.click()
    assert section.isExpanded() and section.content().isVisible()


def test_progress_is_painted_with_the_window_not_at_each_step(qtbot):
    """QProgressBar.setValue paints the bar at once; show_progress leaves it to the next update."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QProgressBar

    from ui.widgets import show_progress

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, event):
            self.count += event.type() == QEvent.Paint
            return False

    bar, paints = QProgressBar(maximum=20), Paints()
    qtbot.addWidget(bar)
    bar.installEventFilter(paints)
    bar.resize(300, 24)
    bar.show()
    qtbot.waitUntil(lambda: paints.count >= 1)
    qtbot.wait(50)
    shown = paints.count
    bar.setValue(1)
    assert paints.count == shown + 1  # what Qt does on its own: the step waits for the bar's paint
    show_progress(bar, 2, 20, "step 2 / 20")
    assert paints.count == shown + 1 and bar.value() == 2 and bar.text() == "step 2 / 20"
    qtbot.waitUntil(lambda: paints.count == shown + 2)  # then painted with the next update


def test_a_new_image_repaints_the_view_alone(qtbot, window):
    """Each step preview is a new image: only the image view repaints, not the window around
    it (a QLabel's setPixmap re-laid out the window and repainted all of it, every step)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QColor, QPixmap
    from PySide6.QtWidgets import QWidget

    class Paints(QObject):
        def __init__(self):
            super().__init__()
            self.seen = set()

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Paint:
                self.seen.add(obj)
            return False

    main, paints = window.window(), Paints()
    qtbot.waitExposed(main)
    qtbot.wait(300)  # the first paints, and the ones the model suggestions cause, are over
    for widget in main.findChildren(QWidget):
        widget.installEventFilter(paints)
    qtbot.wait(100)
    paints.seen.clear()
    for colour in ("red", "blue", "green"):
        pixmap = QPixmap(64, 64)
        pixmap.fill(QColor(colour))
        window.view.show_image(pixmap)
        qtbot.waitUntil(lambda: window.view in paints.seen)
        qtbot.wait(30)
    others = {type(w).__name__ for w in paints.seen - {window.view}
              if not w.isAncestorOf(window.view) and w not in (main.statusBar(), *main.statusBar().findChildren(QWidget))}
    assert others == set()  # not the buttons, the form, the history, the recipe
    assert window.view.has_image()


def test_the_image_view_enlarges_by_whole_steps_and_shrinks_to_fit(qtbot):
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QColor, QPixmap

    from ui.workspace import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    assert view.text() == "Your images appear here" and view.shown_size() == QSize()
    sprite = QPixmap(64, 48)
    sprite.fill(QColor("red"))
    view.show_image(sprite)
    assert view.shown_size() == QSize(448, 336)  # 7 times: the most that fits in 492 x 392
    poster = QPixmap(1200, 600)
    poster.fill(QColor("blue"))
    view.show_image(poster)
    assert view.shown_size() == QSize(492, 246)
    view.resize(400, 400)
    assert view.shown_size() == QSize(392, 196)  # made again for the new size
    view.clear_image("Select an output")
    assert not view.has_image() and view.text() == "Select an output"


def test_the_image_view_reads_files_off_the_gui_thread_and_shows_the_latest(qtbot, tmp_path):
    """A file is decoded on the view's own thread (a 1024 px PNG is 20 ms); when several are
    asked for in turn, the last one asked is what stays shown; an unreadable one says so."""
    from PySide6.QtGui import QColor, QImage

    from ui.workspace import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    files = []
    for i, colour in enumerate(("red", "green", "blue")):
        image = QImage(100 + 10 * i, 50, QImage.Format_RGB32)
        image.fill(QColor(colour))
        files.append(str(tmp_path / f"{colour}.png"))
        assert image.save(files[-1])
    for path in files:
        view.load(path)
    assert view.source is None  # nothing decoded on this thread
    qtbot.waitUntil(lambda: view.source == files[-1])
    qtbot.wait(100)  # an older request finishing late is not shown over it
    assert view.source == files[-1] and view._pixmap.width() == 120
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with qtbot.waitSignal(view.loaded):
        view.load(tmp_path / "broken.png")
    assert not view.has_image() and view.text().startswith("Cannot read broken.png")


def test_the_image_view_reads_a_file_once(qtbot, tmp_path, monkeypatch):
    """Shown, on its way, or read last: asked again (a generation's outputs ask for the newest
    row between step previews), the file is not decoded again."""
    from PySide6.QtGui import QColor, QImage, QPixmap

    from ui import workspace
    from ui.workspace import ImageView

    reads = []
    decode = workspace._decode
    monkeypatch.setattr(workspace, "_decode", lambda asked, path: (reads.append(path), decode(asked, path))[1])
    view = ImageView()
    qtbot.addWidget(view)
    image = QImage(40, 30, QImage.Format_RGB32)
    image.fill(QColor("red"))
    path = str(tmp_path / "red.png")
    assert image.save(path)
    view.load(path)
    view.load(path)  # on its way
    qtbot.waitUntil(lambda: view.source == path)
    view.load(path)  # shown
    preview = QPixmap(8, 8)
    preview.fill(QColor("blue"))
    view.show_image(preview)
    view.load(path)  # read last: shown again at once
    assert view.source == path and view._pixmap.width() == 40
    assert reads == [path]


def test_generating_with_the_same_model_leaves_the_settings_file_alone(qtbot, window, monkeypatch):
    """The model field is remembered once it changes, not rewritten at every Generate (a
    write is the settings file's, on the GUI thread)."""
    window.settings.setValue("diffusion/model", "another model")  # what an earlier session typed
    writes = []
    real = window.settings.setValue
    monkeypatch.setattr(window.settings, "setValue", lambda key, value: (writes.append(key), real(key, value)))
    window.params.set_value("num_steps", 2)
    for _ in range(2):
        with qtbot.waitSignal(window.bridge.finished, timeout=60000):
            assert window.generate()
    assert writes.count("diffusion/model") == 1


def test_after_first_paint_calls_once_and_stops_watching(qtbot):
    from PySide6.QtWidgets import QLabel

    from ui.widgets import AfterFirstPaint

    label, calls = QLabel("x"), []
    qtbot.addWidget(label)
    watcher = AfterFirstPaint(label, lambda: calls.append(1))
    qtbot.wait(20)
    assert calls == []  # not shown: not painted
    label.show()
    qtbot.waitUntil(lambda: calls == [1])
    label.repaint()
    label.hide()
    label.show()
    qtbot.wait(50)
    assert calls == [1] and watcher.parent() is label


def test_the_window_runs_python_with_a_short_switch_interval(qtbot):
    """The GUI thread waits for Python's lock at most this long while a job holds it."""
    import sys

    from ui import gc_guard

    before = sys.getswitchinterval()
    collector = GuiThreadGC()
    assert sys.getswitchinterval() == pytest.approx(gc_guard.SWITCH_INTERVAL_S)
    collector.stop()
    assert sys.getswitchinterval() == pytest.approx(before)


def test_the_status_bar_shows_the_memory_in_use_once_the_window_has_painted(qtbot, window):
    """psutil is imported after the first paint (it is 25 ms of the start): the figure follows."""
    main = window.window()
    qtbot.waitUntil(lambda: main.memory_label.text().startswith("RAM "), timeout=30000)
    gigabytes = float(main.memory_label.text().split()[1])
    assert 0.01 < gigabytes < 64


def test_preferences_set_the_thread_count_the_next_job_runs_with(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QDialogButtonBox

    from studio import settings

    monkeypatch.setenv("ASSETSMITH_HOME", str(tmp_path / "home"))
    main = window.window()
    qtbot.waitUntil(lambda: "CPU threads" in main.device_label.text(), timeout=120000)
    automatic = main._automatic_threads
    assert main.device_label.text().endswith(f"· {automatic} CPU threads")
    dialog = main.show_preferences()
    assert dialog.threads.value() == 0 and dialog.threads.text().startswith("Automatic")
    dialog.threads.setValue(1)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok).click()
    assert settings.threads() == 1 and main.device_label.text().endswith("· 1 CPU threads")
    window.params.set_value("num_steps", 2)
    with qtbot.waitSignal(window.bridge.finished, timeout=60000):
        window.generate()
    (generation,) = window.project.query()
    assert generation.recipe["runtime"]["threads"] == 1
    dialog = main.show_preferences()
    assert dialog.threads.value() == 1
    dialog.reject()
    assert settings.threads() == 1


def test_preferences_that_cannot_be_saved_say_so_and_stay_open(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QDialogButtonBox

    from studio import settings

    home = tmp_path / "home"
    home.write_text("a file where the settings folder should be")
    monkeypatch.setenv("ASSETSMITH_HOME", str(home))
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warned.append(text) or QMessageBox.Ok)
    dialog = window.window().show_preferences()
    dialog.threads.setValue(3)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok).click()
    assert warned and "cannot save the settings" in warned[0] and dialog.isVisible()
    assert settings.threads() == 0
    dialog.reject()


def test_qt_calls_keep_none_alive(qtbot):
    """PySide6 6.12.0 dropped a reference to None on every Qt call that returns nothing; on
    Python 3.11 a long session then died deallocating None. The pinned Qt must not."""
    import sys

    from PySide6.QtWidgets import QComboBox, QLabel

    label, combo = QLabel(), QComboBox()
    qtbot.addWidget(label)
    qtbot.addWidget(combo)
    combo.addItem("any", None)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        combo.currentData()
    assert sys.getrefcount(None) >= before - 10
