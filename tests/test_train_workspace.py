"""The Train workspace for every trainer of engines/train/schema.py: each is offered with its
presets; a diffusion LoRA trained on the tiny SD from a captioned folder shows the report with
captions, the loss curve and the sample, and "use this model now" puts it into the Image tab's
LoRAs; repeating the run gives the same losses. Samples of every file type are shown, and the
gallery plays an audio clip."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import sounddevice
from PySide6.QtWidgets import QMessageBox

sys.path.insert(0, str(Path(__file__).parent))
from test_data import shape_image  # noqa: E402

from engines.data import read_captions  # noqa: E402
from engines.train import schema  # noqa: E402
from engines.train.lora_diffusion import DIFFUSERS_FILE  # noqa: E402
from studio import player, train_data, train_presets, training  # noqa: E402
from studio.cli import main as cli  # noqa: E402
from studio.project import Project  # noqa: E402
from ui.data_report import DataReport, scan_folder  # noqa: E402
from ui.gc_guard import GuiThreadGC  # noqa: E402
from ui.loss_plot import LossPlot  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.sample_view import SampleView  # noqa: E402
from ui.train_setup import shown_params  # noqa: E402

RUN_S = 180_000  # ms: a child imports torch and diffusers first, slowly on a busy machine
TINY_LORA = {"resolution": 64, "rank": 4, "batch_size": 2, "threads": 1, "eval_samples": 2, "sample_steps": 2,
             "lr": 1e-3, "val_fraction": 0.25, "caption_template": "a sprite of {name}", "steps": 3,
             "sample_every": 0, "eval_every": 0, "checkpoint_every": 100}


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """Four sprites, two with a caption beside them."""
    folder = tmp_path_factory.mktemp("data") / "potions"
    folder.mkdir()
    for i in range(4):
        shape_image(i, 64, "RGB").save(folder / f"red_potion-{i}.png")
    (folder / "red_potion-0.txt").write_text("a red potion, glowing")
    (folder / "red_potion-1.caption").write_text("a tall red potion")
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    for name in ("warning", "information"):  # no modal dialogs in tests
        monkeypatch.setattr(QMessageBox, name, lambda *a, **k: QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    collector = GuiThreadGC()
    project = Project.open(tmp_path / "P.assetsmith")
    main = MainWindow(project)
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    main.tabs.setCurrentWidget(main.train)
    yield main
    main.close()
    project.close()
    collector.stop()


def test_presets_are_valid_settings_of_their_trainer():
    for engine in schema.TRAINERS:
        base = {"base": "some-model"} if any(p.name == "base" for p in schema.all_params(engine)) else {}
        chosen = train_presets.presets(engine)
        assert list(chosen) == ["quick", "balanced", "thorough"] and all(chosen.values()), engine
        steps = [schema.resolve(engine, {**values, **base})["steps"] for values in chosen.values()]
        assert steps == sorted(steps) and steps[0] < steps[-1], engine  # quick is shorter than thorough


def test_every_trainer_is_offered_with_its_settings_and_presets(qtbot, window):
    setup = window.train.setup
    assert [setup.engine.itemData(i) for i in range(setup.engine.count())] == list(schema.TRAINERS)
    for engine in schema.TRAINERS:
        setup.set_engine(engine)
        form = setup.params()
        assert setup.form_stack.currentWidget() is form
        assert setup.base.isVisibleTo(window) == any(p.name == "base" for p in schema.all_params(engine))
        for p in shown_params(engine):  # every setting, explained in its tooltip
            assert form.editor(p.name).toolTip() == p.help, (engine, p.name)
        for preset, values in train_presets.presets(engine).items():
            setup.preset_buttons[preset].click()
            shown = {**{p.name: p.default for p in shown_params(engine)}, **form.values()}
            assert {k: shown[k] for k in values} == pytest.approx(values), (engine, preset)
    setup.set_engine("lora-diffusion")
    assert setup.params().values() == pytest.approx({  # the last preset clicked
        "steps": 3000, "rank": 32, "alpha": 16.0, "lr": 5e-5, "batch_size": 4, "train_text_encoder": True,
        "caption_dropout": 0.1, "sample_every": 500, "checkpoint_every": 500, "eval_every": 500})
    setup.preset_buttons["quick"].click()
    assert setup.params().values()["rank"] == 4 and setup.params().values()["steps"] == 300


def test_lora_run_from_report_to_the_image_tab_and_repeated(qtbot, window, captioned, tiny_sd):
    train, root = window.train, window.project.root
    train.setup.set_engine("lora-diffusion")
    train.setup.base.set_value(str(tiny_sd))
    train.folder.setText(str(captioned))
    train.name.setText("potions")
    for key, value in TINY_LORA.items():
        train.params().set_value(key, value)
    train.scan()
    qtbot.waitUntil(lambda: train.last_report is not None, timeout=30_000)
    assert train.report_summary.text().startswith("4 files: 4 kept, 0 skipped, 0 duplicates · 3 for training")
    kept = train.last_report["kept"]
    assert train.data_report.captions() == read_captions(captioned, kept, "a sprite of {name}")
    assert {"a red potion, glowing", "a tall red potion", "a sprite of red potion 2"} <= set(
        train.data_report.captions())

    train.start()
    qtbot.waitUntil(lambda: not train.busy(), timeout=RUN_S)
    assert train.outcome["event"] == "finished", train.status.text()
    assert train.plot.steps("loss") == [1, 2, 3] and train.plot.points("loss") == 3
    qtbot.waitUntil(lambda: train.sample.caption.text().startswith("step 3"))  # read off the GUI thread
    assert train.sample.image.has_image()
    first_losses = list(train.plot.series["loss"].ys)
    qtbot.waitUntil(lambda: train.use_button.isEnabled(), timeout=30_000)  # the finished run is chosen
    train.use_button.click()  # "use this model now": the Image tab, the base model, the LoRA
    image = window.image
    assert window.tabs.currentWidget() is image and image.engine.name == "diffusion"
    assert image.model.text() == str(tiny_sd)
    assert image.params.values()["loras"] == [[str(root / "models" / "potions" / DIFFUSERS_FILE), 1.0]]
    image.request()  # the form makes a valid request with it

    window.tabs.setCurrentWidget(train)
    qtbot.waitUntil(lambda: len(train.run_list.runs()) == 1 and train.run_list.runs()[0]["state"] == "finished",
                    timeout=30_000)
    (first,) = train.run_list.runs()
    train.setup.set_engine("gan")  # elsewhere: Repeat brings the run's trainer and settings back
    train.folder.clear()
    assert train.run_list.choose(first["run_id"]) and train.run_list.repeat_button.isEnabled()
    shown = train.run_list.settings.text()  # the chosen run's settings, under the list
    assert f"on {tiny_sd}" in shown and "rank 4" in shown and "steps 3" in shown and str(captioned) in shown
    train.run_list.repeat_button.click()
    assert train.busy() and train.engine_name() == "lora-diffusion" and train.name.text() == "potions-2"
    qtbot.waitUntil(lambda: not train.busy(), timeout=RUN_S)
    assert train.outcome["event"] == "finished", train.status.text()
    again = next(r for r in training.list_runs(root) if r["run_id"] != first["run_id"])
    assert again["params"] == first["params"] and again["data"] == first["data"] and again["name"] == "potions-2"
    assert list(train.plot.series["loss"].ys) == first_losses  # same settings, same machine: the same run


def test_samples_are_shown_by_file_type(qtbot, tmp_path):
    view = SampleView()
    qtbot.addWidget(view)
    view.show()
    shape_image(1, 32, "RGB").save(tmp_path / "step-4.png")
    assert view.show_file(tmp_path / "step-4.png", 4) and view.stack.currentWidget() is view.image
    (tmp_path / "step-5.txt").write_text("Once upon a time")
    assert view.show_file(tmp_path / "step-5.txt", 5) and view.text.toPlainText() == "Once upon a time"
    (tmp_path / "step-6.json").write_text(json.dumps([{"prompt": "A potion", "completion": "of healing"}]))
    assert view.show_file(tmp_path / "step-6.json", 6)
    assert view.text.toPlainText() == "prompt: A potion\ncompletion: of healing"
    soundfile.write(tmp_path / "step-7.wav", np.zeros((800, 1), dtype=np.float32), 8000)
    assert view.show_file(tmp_path / "step-7.wav", 7) and view.stack.currentWidget() is view.waveform
    assert view.waveform.duration_s == 0.1 and view.caption.text() == "step 7 · step-7.wav"
    assert not view.show_file(tmp_path / "step-8.bin", 8) and view.caption.text() == "step 7 · step-7.wav"
    # A text folder's samples are the first lines of its documents.
    (tmp_path / "a.txt").write_text("first line\nsecond line\n" + "x" * 1000)
    (sample,) = train_data._file_samples(tmp_path, ["a.txt"], "text")
    assert sample["caption"].startswith("first line\nsecond line") and len(sample["caption"]) == train_data.TEXT_CHARS


def test_an_audio_folder_shows_each_clip_as_its_waveform_and_length(qtbot, tmp_path):
    folder = tmp_path / "hits"
    folder.mkdir()
    t = np.arange(2000) / 8000
    for i, loudness in enumerate((0.9, 0.2)):  # a loud hit and a quiet one
        soundfile.write(folder / f"hit{i}.wav", (loudness * np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.1))
                        .astype(np.float32), 8000)
    soundfile.write(folder / "wide.flac", np.zeros((4410, 2), dtype=np.float32) + 0.5, 44100)
    found = scan_folder("wavegan", str(folder), {"sample_rate": 8000, "length": 1024})
    report = DataReport()
    qtbot.addWidget(report)
    report.show_report(found)
    assert report.summary.text() == "3 files: 3 kept, 0 skipped, 0 duplicates"  # no split before a run
    assert report.captions() == ["hit0.wav · 0.25 s · 8000 Hz mono", "hit1.wav · 0.25 s · 8000 Hz mono",
                                 "wide.flac · 0.10 s · 44100 Hz stereo"]
    loud, quiet = (np.asarray(s["peaks"]) for s in found["samples"][:2])
    assert loud[:, 1].max() == pytest.approx(0.9, abs=0.05) and quiet[:, 1].max() == pytest.approx(0.2, abs=0.05)
    # Drawn: the loud hit's line reaches further from the middle than the quiet one's.
    def lit_rows(image):
        column = [image.pixelColor(2, y) for y in range(image.height())]
        return sum(c.blue() > 200 for c in column)

    assert lit_rows(found["samples"][0]["thumb"]) > 2 * lit_rows(found["samples"][1]["thumb"]) > 0


@pytest.fixture
def null_audio_device(tmp_path, monkeypatch):
    """Switches ALSA's null device on as the default output (ENVIRONMENT.md), so playback runs
    with no sound card; returns whether there is an output device then."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")

    def switch_on() -> bool:
        monkeypatch.setenv("HOME", str(home))
        sounddevice._terminate()  # PortAudio reads ALSA's configuration when it starts
        sounddevice._initialize()
        return sounddevice.default.device[1] >= 0

    yield switch_on
    monkeypatch.undo()
    sounddevice._terminate()
    sounddevice._initialize()


def test_live_loss_plot_creates_one_curve_per_tick(qtbot):
    # A curve and its legend row are the costliest part of a redraw: the live timer creates one
    # per tick, so no tick keeps the window busy long; a full redraw (a run ended) draws them all.
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.show()
    for step in (1, 2, 3):
        plot.add(step, {"loss_d": 1.0 / step, "loss_g": 2.0, "d_real": 0.5})
    drawn = []
    for _ in range(3):
        plot.redraw(new_curves=1)
        drawn.append(sorted(name for name in plot.series if plot.points(name)))
    assert drawn == [["loss_d"], ["loss_d", "loss_g"], ["d_real", "loss_d", "loss_g"]]
    plot.add(4, {"loss_d": 0.2, "val_loss": 0.3})
    plot.redraw()
    assert {name: plot.points(name) for name in plot.series} == {"loss_d": 4, "loss_g": 3, "d_real": 3, "val_loss": 1}
    plot.redraw(new_curves=1)  # nothing new: nothing to do
    assert plot.points("loss_d") == 4


def test_gallery_plays_an_audio_clip(qtbot, window, tmp_path, tiny_musicgen, null_audio_device):
    clip = tmp_path / "chime.wav"
    soundfile.write(clip, (0.3 * np.sin(np.linspace(0, 3000, 32000))).astype(np.float32)[:, None], 32000)
    assert cli(["generate", "--engine", "musicgen", "--model", str(tiny_musicgen), "--param", f"init_audio={clip}",
                "--param", "fade_out_s=0.2", "--project", str(window.project.root)]) == 0
    gallery = window.gallery
    window.tabs.setCurrentWidget(gallery)
    gallery.refresh()
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1, timeout=10_000)
    gallery.select_row(0)
    view = gallery.waveform
    assert gallery.shown.currentWidget() is view and view.has_clip() and view.duration_s == 1.0
    if sounddevice.default.device[1] < 0:  # no output device (as on these machines): said inline
        view.play_button.click()
        assert view.message.isVisible() and view.message.text() == player.NO_DEVICE
        assert not view.timer.isActive() and window.statusBar().currentMessage() == player.NO_DEVICE
    if not null_audio_device():
        pytest.skip("no ALSA null device here")
    view.play_button.click()
    assert view.play_button.text() == "■ Stop" and view.timer.isActive() and not view.message.isVisible()
    # ALSA's null device takes the samples as fast as they come: the clip plays through at once.
    qtbot.waitUntil(lambda: not view.timer.isActive(), timeout=10_000)
    assert view.player.position_s == pytest.approx(1.0) and view.play_button.text() == "▶ Play"
    view.play_button.click()
    gallery.view.clearSelection()  # choosing nothing stops a clip playing
    assert not view.timer.isActive() and not view.player.playing
