"""The post-processing steps on synthetic signals: a sine with silence around it."""
import numpy as np
import pyloudnorm
import pytest

from engines.api import ParamError
from engines.audio import edit

RATE = 16000


def sine(seconds=1.0, freq=440.0, amp=0.5, rate=RATE, phase=0.3):
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def padded(before_s=0.25, tone_s=1.0, after_s=0.5):
    return np.concatenate([np.zeros(round(before_s * RATE), np.float32), sine(tone_s),
                           np.zeros(round(after_s * RATE), np.float32)])


def test_trim_silence_leaves_exactly_the_tone():
    out, rate, facts = edit.apply(padded(), RATE, {"trim_silence": True})
    assert rate == RATE and out.shape == (RATE, 1)
    np.testing.assert_array_equal(out[:, 0], sine(1.0))
    assert facts["trimmed_s"] == pytest.approx(0.75)


def test_trim_keeps_quiet_tails_above_the_threshold():
    tail = sine(0.1, amp=0.5 * 10 ** (-40 / 20))  # 40 dB down: sound, not silence
    out = edit.trim_silence(edit.as_frames(np.concatenate([sine(0.5), tail, np.zeros(800, np.float32)])))
    assert len(out) == round(0.6 * RATE)


@pytest.mark.parametrize("target", [-23.0, -16.0, -30.5])
def test_loudness_within_half_an_lu_of_the_target(target):
    out, _, facts = edit.apply(padded(), RATE, {"loudness_lufs": target})
    measured = pyloudnorm.Meter(RATE).integrated_loudness(out[:, 0].astype(np.float64))
    assert abs(measured - target) <= 0.5
    assert facts["loudness_before_lufs"] == pytest.approx(
        pyloudnorm.Meter(RATE).integrated_loudness(padded().astype(np.float64)), abs=1e-3)


def test_loop_seam_is_no_larger_than_the_signals_own_steps():
    x = sine(1.013, freq=437.0)  # not a whole number of periods: a plain repeat would click
    largest_step = np.abs(np.diff(x)).max()
    assert abs(x[0] - x[-1]) > largest_step  # the raw clip has a seam
    out, _, _ = edit.apply(x, RATE, {"loop_crossfade_s": 0.1})
    loop = out[:, 0]
    assert len(loop) == len(x) - round(0.1 * RATE)
    assert abs(loop[-1] - loop[0]) <= largest_step
    assert np.abs(np.diff(np.concatenate([loop, loop]))).max() <= largest_step * 1.5


def test_fades_ramp_from_and_to_zero():
    x = np.ones(RATE, np.float32)
    out, _, _ = edit.apply(x, RATE, {"fade_in_s": 0.25, "fade_out_s": 0.5})
    y = out[:, 0]
    assert y[0] == 0.0 and y[-1] == 0.0
    assert np.all(np.diff(y[:4000]) > 0) and np.all(np.diff(y[-8000:]) < 0)
    np.testing.assert_array_equal(y[4000:8000], 1.0)


def test_resample_and_channels():
    out, rate, _ = edit.apply(sine(1.0, rate=32000), 32000, {"sample_rate": 44100, "channels": 2})
    assert rate == 44100 and out.shape == (44100, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    reference = sine(1.0, rate=44100)
    assert np.abs(out[200:-200, 0] - reference[200:-200]).max() < 0.01  # the same tone, edges aside
    mono, _, _ = edit.apply(np.stack([sine(0.5), -sine(0.5) * 0.5], axis=1), RATE, {"channels": 1})
    np.testing.assert_allclose(mono[:, 0], sine(0.5) * 0.25, atol=1e-7)


def test_steps_are_repeatable_bit_for_bit():
    params = {"trim_silence": True, "fade_in_s": 0.05, "loudness_lufs": -18.0, "sample_rate": 22050, "channels": 2}
    a, _, _ = edit.apply(padded(), RATE, params)
    b, _, _ = edit.apply(padded(), RATE, params)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("params, message", [
    ({"loop_crossfade_s": 0.1, "fade_out_s": 0.1}, "not both"),
    ({"fade_in_s": 1.0, "fade_out_s": 1.0}, "longer than the clip"),
    ({"loop_crossfade_s": 1.0}, "half the clip"),
])
def test_impossible_steps_say_why(params, message):
    with pytest.raises(ParamError, match=message):
        edit.apply(sine(1.5), RATE, params)


def test_silence_and_short_clips_have_clear_errors():
    with pytest.raises(ParamError, match="silent"):
        edit.apply(np.zeros(RATE, np.float32), RATE, {"trim_silence": True})
    with pytest.raises(ParamError, match="silent"):
        edit.apply(np.zeros(RATE, np.float32), RATE, {"loudness_lufs": -16.0})
    with pytest.raises(ParamError, match="at least"):
        edit.apply(sine(0.2), RATE, {"loudness_lufs": -16.0})


def test_read_clip_refuses_what_is_not_audio(tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(ParamError, match="WAV, FLAC or OGG"):
        edit.read_clip(bad)
