"""A feature-space distance between generated and real clips, in plain numpy and scipy.

The Fréchet distance between the statistics (mean, covariance) of log-mel-spectrogram frames:
every 512-sample frame (hop 256, Hann window) of every clip becomes 64 mel-band energies in dB
(re a full-scale sine, floored at -80 dB), and the two sets of frames are compared as Gaussians,
as FID and FAD compare embeddings. It
needs no network and no download. It is NOT the Fréchet Audio Distance of the literature, which
uses VGGish (or other learned) embeddings: compare runs of this app with each other only, and
with the real-against-real figure a CARD.md quotes beside it.
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

FEATURES = "logmel64-db80-frames-v1"
NOTE = ("Fréchet distance between log-mel frame statistics (64 bands in dB, 512-sample frames): "
        "compare runs of this app only, not published FAD (VGGish)")
N_FFT, HOP, BANDS = 512, 256, 64
FLOOR_DB = -80.0


@lru_cache(maxsize=8)
def mel_filters(rate: int, n_fft: int = N_FFT, bands: int = BANDS) -> np.ndarray:
    """Triangular filters evenly spaced on the HTK mel scale from 0 Hz to Nyquist, (bands, bins)."""
    def mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = hz(np.linspace(0.0, mel(rate / 2), bands + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_frames(clips, rate: int) -> np.ndarray:
    """(N, length) clips -> (N * frames, 64) log mel energies."""
    clips = np.asarray(clips, dtype=np.float64)
    if clips.ndim == 1:
        clips = clips[None]
    clips = clips.reshape(len(clips), -1)
    if clips.shape[1] < N_FFT:
        clips = np.pad(clips, ((0, 0), (0, N_FFT - clips.shape[1])))
    count = 1 + (clips.shape[1] - N_FFT) // HOP
    starts = np.arange(count) * HOP
    frames = clips[:, starts[:, None] + np.arange(N_FFT)] * np.hanning(N_FFT)
    # Scaled so that a full-scale sine reads 0 dB in its band; -80 dB and below all read -80:
    # differences in an inaudible noise floor must not decide the distance.
    power = (np.abs(np.fft.rfft(frames, axis=-1)) / (N_FFT / 4)) ** 2
    energy = power @ mel_filters(rate).T
    return 10 * np.log10(np.maximum(energy, 10 ** (FLOOR_DB / 10))).reshape(-1, BANDS)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a and of b."""
    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # bands that sit at the floor in every frame make it singular
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # offset both, as pytorch-fid does
            offset = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def logmel_distance(real, fake, rate: int) -> dict:
    """The distance between two sets of clips, with what it is measured on."""
    if len(real) < 2 or len(fake) < 2:
        return {"frechet_logmel": None, "note": "too few clips for the distance (need 2 or more of each)"}
    return {"frechet_logmel": frechet(log_mel_frames(real, rate), log_mel_frames(fake, rate)),
            "real": len(real), "fake": len(fake), "features": FEATURES, "note": NOTE}
