"""Audio playback for the window, and waveform peaks to draw it (Qt-free).

Playback runs on sounddevice. Machines without PortAudio or without an output device (servers,
CI, some containers) get a PlaybackError with a message the window can show as is, never a crash.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

NO_PORTAUDIO = ("audio playback is unavailable: the PortAudio library is not installed "
                "(on Debian/Ubuntu: apt install libportaudio2); export the clip and play it elsewhere")
NO_DEVICE = "no audio output device: connect one or export the clip and play it elsewhere"


class PlaybackError(Exception):
    """Playback cannot happen here; str() is a message for the user."""


def peaks(samples: np.ndarray, columns: int) -> np.ndarray:
    """(columns, 2) float32 of (min, max) per column over all channels, for drawing a waveform."""
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if len(data) == 0:  # nothing recorded yet: a flat line
        return np.zeros((columns, 2), dtype=np.float32)
    lows, highs = data.min(axis=1), data.max(axis=1)
    # First frame of each column. With fewer frames than columns the starts repeat, and
    # reduceat then gives the single frame at that start: each frame spans several columns.
    starts = np.arange(columns) * len(data) // columns
    return np.stack([np.minimum.reduceat(lows, starts), np.maximum.reduceat(highs, starts)], axis=1)


@functools.cache
def _sounddevice():
    """The sounddevice module; importing it loads PortAudio, which raises OSError when absent."""
    try:
        import sounddevice
    except OSError as exc:
        raise PlaybackError(NO_PORTAUDIO) from exc
    return sounddevice


def _output_device_name() -> str:
    """The default output device's name, or PlaybackError if there is none."""
    sd = _sounddevice()
    try:
        device = sd.query_devices(kind="output")  # raises PortAudioError when the default is -1
    except (sd.PortAudioError, ValueError) as exc:
        raise PlaybackError(NO_DEVICE) from exc
    if not device or device.get("max_output_channels", 0) < 1:
        raise PlaybackError(NO_DEVICE)
    return device["name"]


def available() -> tuple[bool, str]:
    """(True, device name) or (False, why not): lets the UI disable Play before anyone clicks."""
    try:
        return True, _output_device_name()
    except PlaybackError as exc:
        return False, str(exc)


class _Finished(Exception):
    """Ends the stream from the callback when sounddevice (and its CallbackStop) is absent."""


def _callback_stop() -> type[Exception]:
    """What a callback raises to end its stream cleanly (sounddevice's CallbackStop)."""
    try:
        return _sounddevice().CallbackStop
    except PlaybackError:  # only an injected stream can be running: it gets our own signal
        return _Finished


class Player:
    """Plays one clip at a time; position_s drives the waveform cursor.

    stream_factory builds the output stream (default sounddevice.OutputStream); tests inject one.
    """

    def __init__(self, stream_factory=None):
        self._factory = stream_factory
        self._stream = None
        self._samples = np.zeros((0, 1), dtype=np.float32)
        self._rate = 1
        self._frame = 0  # next frame to hand to the device
        self._stop_requested = False
        self._stop_signal = _callback_stop()

    @property
    def duration_s(self) -> float:
        return len(self._samples) / self._rate

    @property
    def position_s(self) -> float:
        """Seconds handed to the device so far (ahead of the speaker by the output latency)."""
        return self._frame / self._rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self._stop_requested and self._frame < len(self._samples)

    def play_file(self, path: str | Path) -> None:
        import soundfile

        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        self.play(samples, rate)

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        """Starts playing from the beginning, stopping whatever was playing."""
        data = np.asarray(samples, dtype=np.float32)
        data = data[:, None] if data.ndim == 1 else data
        if data.ndim != 2 or len(data) == 0 or data.shape[1] < 1:
            raise ValueError(f"nothing to play: samples of shape {np.shape(samples)}")
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.stop()
        factory = self._factory
        if factory is None:
            _output_device_name()  # a clear PlaybackError before PortAudio's own message
            factory = _sounddevice().OutputStream
        self._samples, self._rate, self._frame = data, int(sample_rate), 0
        self._stop_requested = False
        try:
            stream = factory(samplerate=self._rate, channels=data.shape[1], dtype="float32",
                             callback=self._callback)
            stream.start()
        except Exception as exc:  # noqa: BLE001 -- PortAudioError, OSError...: all mean "no output here"
            self._stream = None
            raise PlaybackError(f"could not open the audio output ({exc}): {NO_DEVICE}") from exc
        self._stream = stream

    def stop(self) -> None:
        """Stops at the next block; the position stays where playback stopped."""
        self._stop_requested = True
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()  # discards what is queued, like abort

    def _callback(self, outdata, frames, time, status) -> None:
        """Runs on PortAudio's thread: copies the next block, silence past the end or after stop."""
        if self._stop_requested:
            outdata.fill(0)
            raise self._stop_signal
        block = self._samples[self._frame:self._frame + frames]
        outdata[:len(block)] = block
        outdata[len(block):] = 0
        self._frame += len(block)
        if self._frame >= len(self._samples):
            raise self._stop_signal  # the last block plays out, then the stream ends
