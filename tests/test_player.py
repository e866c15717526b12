"""studio/player.py: waveform peaks, and playback with a fake stream (no audio device here)."""
import numpy as np
import pytest
import soundfile
import sounddevice

from studio import player
from studio.player import PlaybackError, Player, peaks


# -- peaks ------------------------------------------------------------------------------------

def test_peaks_of_a_sine_span_its_amplitude():
    t = np.arange(48000) / 48000
    sine = (0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)  # 100 whole periods
    result = peaks(sine, 10)  # 10 periods per column
    assert result.shape == (10, 2) and result.dtype == np.float32
    np.testing.assert_allclose(result[:, 0], -0.5, atol=1e-3)
    np.testing.assert_allclose(result[:, 1], 0.5, atol=1e-3)


def test_peaks_follow_a_step_and_take_all_channels():
    step = np.zeros((1000, 2), dtype=np.float32)
    step[500:, 0] = 1.0
    step[500:, 1] = -0.25  # the second channel goes down where the first goes up
    result = peaks(step, 4)
    np.testing.assert_array_equal(result, [[0, 0], [0, 0], [-0.25, 1], [-0.25, 1]])
    # A column straddling the step holds both levels.
    np.testing.assert_array_equal(peaks(step, 3)[1], [-0.25, 1])


def test_peaks_with_fewer_frames_than_columns_repeat_each_frame():
    result = peaks(np.array([0.1, -0.3, 0.7], dtype=np.float32), 6)
    np.testing.assert_allclose(result[:, 0], [0.1, 0.1, -0.3, -0.3, 0.7, 0.7])
    np.testing.assert_array_equal(result[:, 0], result[:, 1])


def test_peaks_edge_cases():
    np.testing.assert_array_equal(peaks(np.zeros(0, dtype=np.float32), 5), np.zeros((5, 2)))
    np.testing.assert_array_equal(peaks(np.zeros((0, 2), dtype=np.float32), 2), np.zeros((2, 2)))
    np.testing.assert_allclose(peaks(np.array([-0.5, 0.25, 0.9]), 1), [[-0.5, 0.9]])
    with pytest.raises(ValueError, match="columns"):
        peaks(np.ones(10), 0)


# -- no device on this machine ----------------------------------------------------------------

def test_no_output_device_is_a_clear_playback_error():
    # These machines have PortAudio but no device: the default output is -1.
    assert sounddevice.default.device[1] == -1
    ok, why = player.available()
    assert not ok and why == player.NO_DEVICE
    with pytest.raises(PlaybackError, match="no audio output device: connect one"):
        Player().play(np.zeros(100, dtype=np.float32), 8000)


def test_missing_portaudio_is_a_clear_playback_error(monkeypatch):
    def no_portaudio():
        raise PlaybackError(player.NO_PORTAUDIO)

    monkeypatch.setattr(player, "_sounddevice", no_portaudio)
    assert player.available() == (False, player.NO_PORTAUDIO)
    with pytest.raises(PlaybackError, match="PortAudio library is not installed"):
        Player().play(np.zeros(100, dtype=np.float32), 8000)


def test_a_stream_that_fails_to_open_is_a_playback_error():
    def failing(**kwargs):
        raise sounddevice.PortAudioError("Error opening OutputStream")

    with pytest.raises(PlaybackError, match="Error opening OutputStream.*no audio output device"):
        Player(stream_factory=failing).play(np.zeros(10), 8000)


# -- playback logic with a fake stream ----------------------------------------------------------

class FakeStream:
    """Stands in for sounddevice.OutputStream: pulls blocks through the player's real callback."""

    def __init__(self, samplerate, channels, dtype, callback):
        self.samplerate, self.channels, self.dtype, self.callback = samplerate, channels, dtype, callback
        self.started = self.closed = self.finished = False
        self.blocks = []

    def start(self):
        self.started = True

    def close(self):
        self.closed = True

    def pull(self, frames):
        """One block as the device would request it; returns what the player wrote."""
        outdata = np.full((frames, self.channels), np.nan, dtype=self.dtype)
        try:
            self.callback(outdata, frames, None, sounddevice.CallbackFlags())
        except sounddevice.CallbackStop:
            self.finished = True
        self.blocks.append(outdata)
        return outdata


@pytest.fixture
def fake():
    streams = []

    def factory(**kwargs):
        streams.append(FakeStream(**kwargs))
        return streams[-1]

    return Player(stream_factory=factory), streams


def test_blocks_are_copied_in_order_and_position_follows(fake):
    p, streams = fake
    clip = np.stack([np.arange(10), -np.arange(10)], axis=1).astype(np.float32) / 10
    p.play(clip, 10)
    stream = streams[0]
    assert (stream.samplerate, stream.channels, stream.dtype, stream.started) == (10, 2, "float32", True)
    assert p.playing and p.position_s == 0 and p.duration_s == 1.0
    np.testing.assert_array_equal(stream.pull(4), clip[:4])
    assert p.position_s == pytest.approx(0.4) and p.playing
    np.testing.assert_array_equal(stream.pull(4), clip[4:8])
    last = stream.pull(4)  # two frames left, then silence, and the stream ends
    np.testing.assert_array_equal(last, [clip[8], clip[9], [0, 0], [0, 0]])
    assert stream.finished and not p.playing and p.position_s == pytest.approx(1.0)


def test_stop_takes_effect_at_the_next_block(fake):
    p, streams = fake
    p.play(np.ones(100, dtype=np.float32), 100)
    stream = streams[0]
    stream.pull(30)
    p.stop()
    assert stream.closed and not p.playing and p.position_s == pytest.approx(0.3)
    np.testing.assert_array_equal(stream.pull(30), np.zeros((30, 1)))  # a block already in flight
    assert stream.finished and p.position_s == pytest.approx(0.3)


def test_play_again_restarts_from_the_beginning(fake):
    p, streams = fake
    p.play(np.ones(100, dtype=np.float32), 100)
    streams[0].pull(50)
    p.play(np.full(20, 0.5, dtype=np.float32), 10)
    assert streams[0].closed and len(streams) == 2
    assert p.playing and p.position_s == 0 and p.duration_s == 2.0
    np.testing.assert_array_equal(streams[1].pull(5), np.full((5, 1), 0.5))


def test_play_rejects_nothing_to_play(fake):
    p, _ = fake
    with pytest.raises(ValueError, match="nothing to play"):
        p.play(np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="sample rate"):
        p.play(np.zeros(10, dtype=np.float32), 0)


def test_play_file_reads_a_flac(fake, tmp_path):
    p, streams = fake
    clip = (np.random.default_rng(0).uniform(-0.5, 0.5, (800, 2))).astype(np.float32)
    path = tmp_path / "clip.flac"
    soundfile.write(path, clip, 8000, subtype="PCM_16")
    p.play_file(path)
    assert streams[0].samplerate == 8000 and streams[0].channels == 2 and p.duration_s == 0.1
    np.testing.assert_allclose(streams[0].pull(800), clip, atol=1 / 2**15)
    assert streams[0].finished and p.position_s == pytest.approx(0.1)
