"""The Audio workspace on the real core: music and voice through the window with tiny MusicGen
and VITS models, the waveform view, playback with no device (an inline message), a moving
cursor with a stand-in output stream, and recipes restored from the clips' own files."""
import numpy as np
import pytest
import soundfile
import sounddevice
from PySide6.QtWidgets import QMessageBox

from studio import player
from studio.player import Player, peaks
from studio.project import Project
from ui.gc_guard import GuiThreadGC
from ui.main_window import MainWindow
from ui.waveform import WaveformView


@pytest.fixture
def audio(qtbot, tmp_path, tiny_musicgen, monkeypatch):
    dialogs = []  # nothing modal may open: a dialog in a test would hang it
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: dialogs.append(a) or QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    collector = GuiThreadGC()
    project = Project.open(tmp_path / "A.assetsmith")
    main = MainWindow(project)
    qtbot.addWidget(main)
    main.tabs.setCurrentWidget(main.audio)
    w = main.audio
    w.dialogs = dialogs
    w.model.setText(str(tiny_musicgen))
    w.prompt.setPlainText("calm chiptune loop")
    w.lock_seed.setChecked(True)
    w.seed.setText("3")
    main.resize(1280, 800)
    main.show()
    yield w
    main.close()
    project.close()
    collector.stop()


def generate(qtbot, w) -> None:
    with qtbot.waitSignal(w.bridge.finished, timeout=120000):
        assert w.generate(), w.window().statusBar().currentMessage()
    qtbot.waitUntil(lambda: not w.busy())


def test_music_is_generated_drawn_and_listed(qtbot, audio):
    w = audio
    assert w.engine.name == "musicgen" and w.engine_choice.currentData() == "musicgen"
    w.params.set_value("duration_s", 0.5)
    w.params.set_value("preview_every", 8)
    with qtbot.waitSignal(w.bridge.preview, timeout=120000):
        w.generate()
    qtbot.waitUntil(lambda: w.waveform.has_clip())  # the clip so far, drawn while it is made
    qtbot.waitUntil(lambda: not w.busy(), timeout=120000)
    qtbot.waitUntil(lambda: w.history.model().rowCount() == 1)
    (generation,) = w.project.query(modality="audio")
    out = generation.outputs[0]
    assert generation.status == "finished" and out.duration_s == 0.5 and out.seed == 3
    # The list entry: prompt and duration.
    assert w.history.model().index(0).data() == "calm chiptune loop · 0.5 s"
    # The selected clip is the one drawn: its file's samples, peaks per pixel column.
    samples, rate = soundfile.read(out.path, dtype="float32", always_2d=True)
    assert w.waveform.path == out.path and w.waveform.rate == rate == 32000
    np.testing.assert_array_equal(w.waveform.canvas.samples, samples)
    width = w.waveform.canvas.width()
    np.testing.assert_array_equal(w.waveform.canvas.column_peaks(), peaks(samples, width))
    assert w.waveform.time_label.text() == "0:00.0 / 0:00.5"
    assert "seed: 3" in w.recipe.toPlainText() and "duration_s: 0.5" in w.recipe.toPlainText()
    assert w.waveform.play_button.isEnabled() and not w.waveform.message.isVisible()


def test_play_with_no_device_says_so_inline(qtbot, audio):
    w = audio
    assert sounddevice.default.device[1] == -1  # these machines have no output device
    w.params.set_value("duration_s", 0.3)
    generate(qtbot, w)
    qtbot.waitUntil(lambda: w.waveform.has_clip())
    w.waveform.play_button.click()
    assert w.waveform.message.isVisible() and w.waveform.message.text() == player.NO_DEVICE
    assert w.window().statusBar().currentMessage() == player.NO_DEVICE
    assert w.waveform.play_button.text() == "▶ Play" and not w.waveform.timer.isActive()
    assert w.dialogs == []  # said inline, no dialog


class StandInStream:
    """An output stream with no device behind it: `pull` asks the player's real callback for
    a block, as PortAudio's thread would."""

    def __init__(self, samplerate, channels, dtype, callback):
        self.channels, self.callback, self.closed = channels, callback, False

    def start(self):
        pass

    def close(self):
        self.closed = True

    def pull(self, frames):
        out = np.zeros((frames, self.channels), dtype=np.float32)
        try:
            self.callback(out, frames, None, sounddevice.CallbackFlags())
        except sounddevice.CallbackStop:
            pass


def test_cursor_follows_the_player_and_stops_at_the_end(qtbot, tmp_path):
    streams = []
    view = WaveformView(Player(stream_factory=lambda **kw: streams.append(StandInStream(**kw)) or streams[-1]))
    qtbot.addWidget(view)
    view.resize(600, 240)
    view.show()
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.sin(np.linspace(0, 200, 8000))[:, None] * 0.5, 8000)  # 1 s
    assert view.show_file(clip) and view.duration_s == 1.0
    assert view.play() and view.play_button.text() == "■ Stop" and view.timer.isActive()
    streams[0].pull(2000)  # a quarter of the clip handed to the "device"
    qtbot.waitUntil(lambda: view.canvas.cursor == pytest.approx(0.25))
    assert view.time_label.text() == "0:00.2 / 0:01.0"
    view.canvas.grab()  # paints with the cursor drawn
    streams[0].pull(6000)  # the rest: playback ends by itself
    qtbot.waitUntil(lambda: not view.timer.isActive())
    assert view.canvas.cursor is None and view.play_button.text() == "▶ Play"
    # Play again, then Stop by the same button.
    view.play_button.click()
    assert view.timer.isActive()
    view.play_button.click()
    assert streams[1].closed and not view.timer.isActive()


def test_waveform_redraws_at_any_size_and_says_what_it_cannot_read(qtbot, tmp_path):
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    rng = np.random.default_rng(0)
    samples = (0.5 * rng.standard_normal((44100, 2))).astype(np.float32)
    view.show_samples(samples, 44100)
    assert view.info.text() == "44.1 kHz · stereo"
    for width in (500, 900, 321):
        view.resize(width, 200)
        qtbot.waitUntil(lambda: view.canvas.width() == width)
        assert len(view.canvas.column_peaks()) == width
        image = view.canvas.grab().toImage()
        # The outline is drawn across the whole width, not just where it was at first.
        mid = image.height() // 2
        assert image.pixelColor(width - 3, mid) != image.pixelColor(width - 3, 2)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert not view.show_file(bad)
    assert not view.has_clip() and "cannot read bad.wav" in view.canvas.empty_text
    assert not view.play_button.isEnabled()


def test_voice_engine_is_chosen_in_the_same_workspace(qtbot, audio, tiny_vits, tiny_musicgen):
    w = audio
    music_form = w.params
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("speech"))
    assert w.engine.name == "speech" and w.params is not music_form
    assert w.params.editor("voice") is not None
    with pytest.raises(KeyError):
        w.params.editor("duration_s")  # a music parameter: not in the voice form
    assert w.form_stack.currentWidget() is w.params
    w.model.setText(str(tiny_vits))
    w.prompt.setPlainText("Welcome, traveller. The inn is ahead.")
    generate(qtbot, w)
    (generation,) = w.project.query(modality="audio")
    assert generation.recipe["engine"] == "speech" and generation.outputs[0].path.suffix == ".flac"
    assert w.waveform.rate == 16000
    # Back to music: its model and form are as they were left.
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("musicgen"))
    assert w.engine.name == "musicgen" and w.params is music_form and w.model.text() == str(tiny_musicgen)
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("speech"))
    assert w.model.text() == str(tiny_vits)


def test_a_speech_model_offers_its_voices_beside_the_voice_field(qtbot, audio, tiny_bark, tiny_vits_voices,
                                                                  tiny_vits, tmp_path):
    w = audio
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("speech"))
    form = w.params
    w.model.setText(str(tiny_bark))  # read from the folder, off the GUI thread, without loading it
    qtbot.waitUntil(lambda: form.suggestions("voice") == ["v2/en_speaker_0", "narrator"], timeout=10_000)
    assert form._offered["voice"].isVisible() and not form.is_set("voice")
    form._offered["voice"].menu().actions()[1].trigger()  # choosing one sets it
    assert form.is_set("voice") and form.values()["voice"] == "narrator"
    w.model.setText(str(tiny_vits_voices))  # a multi-speaker VITS: its speaker numbers
    qtbot.waitUntil(lambda: form.suggestions("voice") == ["0", "1", "2"], timeout=10_000)
    for single_voice in (str(tiny_vits), str(tmp_path / "no-such-model")):  # nothing to offer
        w.model.setText(single_voice)
        qtbot.waitUntil(lambda: form.suggestions("voice") == [], timeout=10_000)
        assert not form._offered["voice"].isVisible()


def test_drum_hits_come_from_the_starter_with_no_model_given(qtbot, audio):
    w = audio
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("wavegan"))
    assert w.engine.name == "wavegan" and w.prompt.isHidden() and w.model.text() == ""  # no prompt to give
    w.count.setValue(2)
    generate(qtbot, w)
    (generation,) = w.project.query(modality="audio")
    assert generation.recipe["model"] == "starter:wavegan/drums" and len(generation.outputs) == 2
    assert w.waveform.has_clip() and w.waveform.rate == 16000


def test_a_clip_restores_exactly_what_made_it(qtbot, audio, tiny_vits):
    w = audio
    main = w.window()
    w.params.set_value("duration_s", 0.4)
    w.params.set_value("fade_out_s", 0.1)
    generate(qtbot, w)
    (first,) = w.project.query(modality="audio")
    made = w.request()
    # Elsewhere, with other settings and the other engine.
    main.tabs.setCurrentWidget(main.image)
    w.engine_choice.setCurrentIndex(w.engine_choice.findData("speech"))
    w.prompt.setPlainText("something else")
    w.lock_seed.setChecked(False)
    assert main.open_recipe_file(first.outputs[0].path)  # the FLAC's own tags
    assert main.current() is w and w.engine.name == "musicgen"
    again = w.request()
    assert again.prompt == made.prompt and again.seed == made.seed and again.model == made.model
    # What was left to the model comes back as the values it used.
    assert again.params == {**made.params, "guidance_scale": 3.0, "temperature": 1.0, "top_k": 250,
                            "sample_rate": 32000, "channels": 1}
    assert "restored" in main.statusBar().currentMessage()
    generate(qtbot, w)  # the restored recipe makes the same samples
    second = next(g for g in w.project.query(modality="audio") if g.id != first.id)
    assert second.outputs[0].content_sha256 == first.outputs[0].content_sha256
