"""One-shot sounds (`wavegan`): a WaveGAN generator trained on a folder of short clips.

The networks follow Donahue, McAuley & Puckette, "Adversarial Audio Synthesis" (ICLR 2019):
the generator is a dense layer to a short sequence of wide channels, then five 1-D transposed
convolutions (kernel 25, stride 4) that each make the sequence four times longer and the
channels half as wide, ending in tanh; the discriminator mirrors it with strided 1-D
convolutions, LeakyReLU and *phase shuffle* (every layer's activations shifted by a random
-n..n samples, reflection-padded), which keeps it from judging by the exact phase of the
transposed convolutions' periodic artefacts. As in the paper, the generator has no batch norm,
so generating is one plain call of the module (no train/eval difference). The discriminator
is stabilised with spectral normalisation, as the gan engine's is (engines/train/wavegan_trainer.py
says why).

A trained model is a folder: `model.json` (format "assetsmith-wavegan" and the WaveGanConfig)
and `generator.safetensors`. The latent of output i is N(0, 1) noise from a CPU
`torch.Generator` seeded with its seed (engines/image/gan.py's `latent`, shared with the gan
engine, with the same truncation and variation seed), so a clip is re-made bit for bit from its
recipe; the post-processing steps of engines/audio/edit.py run after the network.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engines.api import EngineError, Events, Output, ParamError, Request, check_request, run_batch
from engines.audio import clip, edit
from engines.image.gan import check_variation, latent, latent_params, load_weights, memory_of, read_model_json

FORMAT = "assetsmith-wavegan"
WEIGHTS = "generator.safetensors"
KERNEL, STRIDE, LAYERS = 25, 4, 5  # the paper's: 4**5 = 1024 times longer than the dense layer's output
UPSAMPLING = STRIDE ** LAYERS
# Parameters of the network itself; re-processing a clip (init_audio) takes none of them.
MODEL_PARAMS = ("truncation", "variation_seed", "variation_strength")


@dataclass(frozen=True)
class WaveGanConfig:
    sample_rate: int = 16000
    length: int = 16384  # samples per clip: the paper's 16384 at 16 kHz is 1.02 s
    latent_dim: int = 100
    g_width: int = 64  # the paper's d: the last hidden layer of the generator has d channels, the first 16d
    d_width: int = 64
    phase_shuffle: int = 2  # the paper's n

    def __post_init__(self) -> None:
        if self.length % UPSAMPLING or not UPSAMPLING <= self.length <= 64 * UPSAMPLING:
            raise ParamError(f"length must be a multiple of {UPSAMPLING} from {UPSAMPLING} to {64 * UPSAMPLING} "
                             f"samples (five 4x upsamplings), got {self.length}")
        if not 4000 <= self.sample_rate <= 192000:
            raise ParamError(f"sample_rate must be from 4000 to 192000 Hz, got {self.sample_rate}")
        if self.phase_shuffle < 0:
            raise ParamError(f"phase_shuffle must be 0 or more samples, got {self.phase_shuffle}")

    @property
    def duration_s(self) -> float:
        return self.length / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "WaveGanConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _widths(base: int) -> list[int]:
    """Channels from the dense layer's output down to the last hidden layer: 16d, 8d, 4d, 2d, d."""
    return [base * 2 ** (LAYERS - 1 - i) for i in range(LAYERS)]


def build_generator(cfg: WaveGanConfig):
    """z (B, latent_dim) (or (B, latent_dim, 1, 1), as gan.latent makes it) -> clips (B, 1, length) in [-1, 1]."""
    import torch
    from torch import nn

    widths = _widths(cfg.g_width)
    start = cfg.length // UPSAMPLING

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(cfg.latent_dim, widths[0] * start)
            ups = []
            for c_in, c_out in zip(widths, widths[1:] + [1]):
                # padding 11 + output_padding 1: exactly 4x longer, as TensorFlow's "same" padding
                ups.append(nn.ConvTranspose1d(c_in, c_out, KERNEL, STRIDE, padding=11, output_padding=1))
            self.ups = nn.ModuleList(ups)

        def forward(self, z):
            x = torch.relu(self.dense(z.reshape(z.shape[0], -1)).view(z.shape[0], widths[0], start))
            for i, up in enumerate(self.ups):
                x = up(x)
                x = torch.tanh(x) if i == len(self.ups) - 1 else torch.relu(x)
            return x

    return Generator()


def phase_shuffle(x, shift: int, generator):
    """Shift the activations by one random -shift..shift for the batch (the paper's phase
    shuffle), filling the gap by reflection; the shift is drawn from `generator`."""
    import torch
    import torch.nn.functional as F

    if shift == 0:
        return x
    k = int(torch.randint(-shift, shift + 1, (1,), generator=generator))
    if k == 0:
        return x
    length = x.shape[-1]
    # k > 0 moves the signal right: k reflected samples in front, the last k dropped.
    padded = F.pad(x, (k, 0) if k > 0 else (0, -k), mode="reflect")
    return padded[..., :length] if k > 0 else padded[..., -length:]


def build_discriminator(cfg: WaveGanConfig):
    """clips (B, 1, length) -> one logit per clip (B,); forward(x, generator) draws the phase
    shuffles from `generator` (none when it is None, e.g. in evaluation)."""
    import torch.nn.functional as F
    from torch import nn
    from torch.nn.utils.parametrizations import spectral_norm

    widths = _widths(cfg.d_width)[::-1]  # d, 2d, 4d, 8d, 16d

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.downs = nn.ModuleList(spectral_norm(nn.Conv1d(c_in, c_out, KERNEL, STRIDE, padding=11))
                                       for c_in, c_out in zip([1] + widths[:-1], widths))
            self.out = spectral_norm(nn.Linear(widths[-1] * (cfg.length // UPSAMPLING), 1))

        def forward(self, x, generator=None):
            for i, down in enumerate(self.downs):
                x = F.leaky_relu(down(x), 0.2)
                if generator is not None and i < len(self.downs) - 1:  # the paper: after every layer but the last
                    x = phase_shuffle(x, cfg.phase_shuffle, generator)
            return self.out(x.flatten(1)).flatten()

    return Discriminator()


def init_weights(module, generator) -> None:
    """Glorot-uniform weights and zero biases (TensorFlow's defaults, which the paper's code
    used), drawn from `generator` so a run's first weights follow from its seed."""
    from torch import nn

    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.xavier_uniform_(weight, generator=generator)
            nn.init.zeros_(m.bias)


def read_config(path: Path) -> WaveGanConfig:
    return WaveGanConfig.from_dict(read_model_json(path, FORMAT).get("config", {}))


TRUNCATION, VARIATION = latent_params("sound", "sounds")


class WaveGanEngine:
    name = "wavegan"
    modality = "audio"
    takes_prompt = False
    inputs = ("init_audio",)
    default_model = "starter:wavegan/drums"
    params = (TRUNCATION, *VARIATION, edit.INIT_AUDIO, *edit.EDIT_PARAMS)

    def __init__(self) -> None:
        self.generator = None
        self.config: WaveGanConfig | None = None
        self.device = "cpu"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        try:
            return json.loads((Path(path) / "model.json").read_text()).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False

    def load(self, model_path: str, device: str) -> None:
        path = Path(model_path)
        self.config = read_config(path)
        generator = build_generator(self.config)
        load_weights(generator, path / WEIGHTS)
        self.generator = generator.eval().to(device)
        self.device = device

    def unload(self) -> None:
        self.generator = None

    def memory_bytes(self) -> int:
        return memory_of(self.generator) if self.generator is not None else 0

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        edit.check(request.params)
        if request.params.get("init_audio"):
            return clip.reprocess(request, MODEL_PARAMS, events)
        if self.generator is None:
            raise EngineError("the wavegan engine has no model loaded")
        given = request.params
        resolved = {"truncation": given.get("truncation", 1.0), **check_variation(given)}
        return run_batch(request, events, lambda seed, ev: self._one(request, resolved, seed, ev))

    def latent(self, seed: int, params: dict):
        return latent(seed, self.config.latent_dim, params.get("truncation", 1.0), params.get("variation_seed"),
                      params.get("variation_strength", 0.0))

    def _one(self, request: Request, resolved: dict, seed: int, events: Events) -> Output:
        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            samples = self.generator(self.latent(seed, resolved).to(self.device))[0, 0].float().cpu().numpy()
        events.progress(1, 1)
        runtime = {"device": self.device, "dtype": "float32"}
        return clip.finish(request, resolved, samples, self.config.sample_rate, seed, runtime, started)
