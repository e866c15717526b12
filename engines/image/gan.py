"""GAN image engine (`gan`): a DCGAN-family generator trained on the user's own folder.

The networks are plain `nn.Sequential`s after Radford et al. (DCGAN) at 32, 64 or 128 pixels,
RGB or RGBA: the generator doubles the size with transposed convolutions from a 4x4 start,
the discriminator halves it back down to one logit. The discriminator is stabilised with
spectral normalisation by default (what makes small-data training work); `d_norm="batch"` is
the DCGAN paper's batch norm, kept for comparison with the reference loop in bench/.

A trained model is a folder: `model.json` (format "assetsmith-gan" and the GanConfig) and
`generator.safetensors`. Generation draws the latent from a CPU `torch.Generator` seeded with
the output's seed, so an output is re-made bit for bit from its recipe.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from engines.api import SEED_MAX, EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch

FORMAT = "assetsmith-gan"
RESOLUTIONS = (32, 64, 128)
UPSAMPLES = ("transposed", "resize")
WEIGHTS = "generator.safetensors"


@dataclass(frozen=True)
class GanConfig:
    resolution: int = 64
    channels: int = 3  # 3 RGB, 4 RGBA (sprites need transparency)
    latent_dim: int = 100
    g_width: int = 64  # DCGAN's ngf: channels of the generator's last hidden layer
    d_width: int = 64  # DCGAN's ndf
    d_norm: str = "spectral"  # "spectral" or "batch"
    # How the generator doubles its size: DCGAN's transposed convolutions, or a nearest-neighbour
    # resize then a 3x3 convolution, which cannot make the transposed ones' checkerboard
    # (their kernels overlap unevenly; Odena, Dumoulin & Olah, Distill 2016).
    upsample: str = "transposed"  # or "resize"

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ParamError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {self.resolution}")
        if self.channels not in (3, 4):
            raise ParamError(f"channels must be 3 (RGB) or 4 (RGBA), got {self.channels}")
        if self.d_norm not in ("spectral", "batch"):
            raise ParamError(f"d_norm must be 'spectral' or 'batch', got {self.d_norm!r}")
        if self.upsample not in UPSAMPLES:
            raise ParamError(f"upsample must be 'transposed' or 'resize', got {self.upsample!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GanConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _levels(resolution: int) -> int:
    """How many times the size doubles between the 4x4 start and the output."""
    return int(math.log2(resolution)) - 2


def build_generator(cfg: GanConfig):
    """z (B, latent_dim, 1, 1) -> images (B, channels, res, res) in [-1, 1]."""
    from torch import nn

    def double(width_in: int, width_out: int) -> list:
        if cfg.upsample == "resize":
            return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width_in, width_out, 3, 1, 1, bias=False)]
        return [nn.ConvTranspose2d(width_in, width_out, 4, 2, 1, bias=False)]

    n = _levels(cfg.resolution)
    width = cfg.g_width * 2 ** (n - 1)
    layers = [nn.ConvTranspose2d(cfg.latent_dim, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(n - 1):
        layers += [*double(width, width // 2), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [*double(width, cfg.channels), nn.Tanh()]
    return nn.Sequential(*layers)


def build_discriminator(cfg: GanConfig):
    """images (B, channels, res, res) -> one logit per image (B,)."""
    from torch import nn
    from torch.nn.utils.parametrizations import spectral_norm

    def conv(c_in, c_out, *args):
        layer = nn.Conv2d(c_in, c_out, *args, bias=False)
        return spectral_norm(layer) if cfg.d_norm == "spectral" else layer

    n = _levels(cfg.resolution)
    width = cfg.d_width
    layers = [conv(cfg.channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(n - 1):
        layers.append(conv(width, width * 2, 4, 2, 1))
        if cfg.d_norm == "batch":
            layers.append(nn.BatchNorm2d(width * 2))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        width *= 2
    layers += [conv(width, 1, 4, 1, 0), nn.Flatten(0)]
    return nn.Sequential(*layers)


def init_weights(module, generator) -> None:
    """DCGAN's initialisation (conv ~ N(0, 0.02), norm scale ~ N(1, 0.02)), drawn from
    `generator` so a run's first weights follow from its seed."""
    from torch import nn

    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(m.bias)


def latent(seed: int, latent_dim: int, truncation: float = 1.0, variation_seed: int | None = None,
           variation_strength: float = 0.0):
    """The generator's input for one output: N(0, 1) noise from a CPU generator seeded with
    `seed`, moved towards `variation_seed`'s noise by spherical interpolation, scaled by
    `truncation` (below 1: closer to the average image, less varied)."""
    import torch

    from engines.image.latents import slerp

    z = torch.randn(1, latent_dim, 1, 1, generator=torch.Generator("cpu").manual_seed(seed))
    if variation_seed is not None and variation_strength:
        other = torch.randn(1, latent_dim, 1, 1, generator=torch.Generator("cpu").manual_seed(variation_seed))
        z = slerp(variation_strength, z, other)
    return z * truncation


def to_uint8(images) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) uint8, to the nearest level."""
    import torch

    levels = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return levels.permute(0, 2, 3, 1).numpy()


def read_model_json(path: Path, fmt: str) -> dict:
    """The model.json of a trained model folder, or an EngineError that says what is wrong."""
    if not path.exists():
        raise EngineError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise EngineError(f"{path.name} is a file; the {fmt.removeprefix('assetsmith-')} engine loads model folders "
                          "trained in Assetsmith (model.json + .safetensors)")
    try:
        info = json.loads((path / "model.json").read_text())
    except OSError:
        raise EngineError(f"{path} is not a trained Assetsmith model (it has no model.json)") from None
    except ValueError:
        raise EngineError(f"{path}/model.json is not valid JSON: the folder is damaged; train or copy it again") from None
    if not isinstance(info, dict) or info.get("format") != fmt:
        got = info.get("format") if isinstance(info, dict) else None
        raise EngineError(f"{path.name} is a {got or 'model of unknown kind'}, not a {fmt} model")
    return info


def load_weights(module, file: Path) -> None:
    """Weights from a safetensors file into `module`, strictly: a file for another size or
    width is refused with the reason, never half-loaded."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise EngineError(f"{file.parent.name} is incomplete: {file.name} is missing")
    try:
        module.load_state_dict(load_file(file), strict=True)
    except (SafetensorError, OSError) as exc:
        raise EngineError(f"{file} is damaged or truncated ({exc})") from None
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EngineError(f"{file} does not fit the network described in model.json ({first})") from None


def memory_of(module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def check_variation(given: dict) -> dict:
    if ("variation_seed" in given) != ("variation_strength" in given):
        raise ParamError("variation_seed and variation_strength go together: give both")
    if "variation_seed" in given:
        return {"variation_seed": given["variation_seed"], "variation_strength": given["variation_strength"]}
    return {}


def latent_params(one: str, many: str) -> tuple[Param, tuple[Param, Param]]:
    """Truncation and the variation pair, as every latent-space engine takes them (GAN and VAE
    images, WaveGAN sounds), worded for what it makes."""
    truncation = Param("truncation", "float", 1.0, min=0.0, max=2.0,
                       help=f"Scales the latent: below 1 gives more typical, less varied {many}; 0 the average one.")
    variation = (
        Param("variation_seed", "int", None, min=0, max=SEED_MAX,
              help=f"Vary the {one}: move its latent towards this seed's latent."),
        Param("variation_strength", "float", None, min=0.0, max=1.0,
              help="How far towards the variation seed: small values give close variations."),
    )
    return truncation, variation


TRUNCATION, VARIATION = latent_params("image", "images")


class GanEngine:
    name = "gan"
    modality = "image"
    takes_prompt = False
    inputs = ()
    default_model = "starter:gan/items64"  # shipped in resources/models/ (tools/starters/)
    params = (
        TRUNCATION,
        *VARIATION,
        Param("interpolate_to", "int", None, min=0, max=SEED_MAX,
              help="Make a strip of frames walking the latent from the seed to this seed."),
        Param("frames", "int", 8, min=2, max=64, help="Frames in an interpolation strip."),
    )

    def __init__(self) -> None:
        self.generator = None
        self.config: GanConfig | None = None
        self.device = "cpu"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        try:
            return json.loads((Path(path) / "model.json").read_text()).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            return False

    def load(self, model_path: str, device: str) -> None:
        path = Path(model_path)
        info = read_model_json(path, FORMAT)
        self.config = GanConfig.from_dict(info.get("config", {}))
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
        if self.generator is None:
            raise EngineError("the gan engine has no model loaded")
        given = request.params
        params = {"truncation": given.get("truncation", 1.0), **check_variation(given)}
        if "interpolate_to" in given:
            params.update(interpolate_to=given["interpolate_to"], frames=given.get("frames", 8))
        elif "frames" in given:
            raise ParamError("frames applies to interpolation strips: give interpolate_to too")
        return run_batch(request, events, lambda seed, ev: self._one(request, params, seed, ev))

    def latents(self, seed: int, params: dict):
        """The latents of one output: one, or a row of frames for an interpolation strip."""
        import torch

        from engines.image.latents import slerp

        dim, trunc = self.config.latent_dim, params["truncation"]
        z = latent(seed, dim, trunc, params.get("variation_seed"), params.get("variation_strength", 0.0))
        if "interpolate_to" not in params:
            return z
        end = latent(params["interpolate_to"], dim, trunc)
        steps = params["frames"]
        return torch.cat([slerp(i / (steps - 1), z, end) for i in range(steps)])

    def _one(self, request: Request, params: dict, seed: int, events: Events) -> Output:
        import torch

        start = time.perf_counter()
        with torch.inference_mode():
            images = to_uint8(self.generator(self.latents(seed, params).to(self.device)))
        data = np.concatenate(list(images), axis=1)  # a strip when there are several frames
        events.progress(1, 1)
        recipe = request.replace(seed=seed, count=1, params=params).to_dict()
        recipe["runtime"] = {"device": self.device, "dtype": "float32", "time_s": round(time.perf_counter() - start, 4)}
        return Output(kind="image", data=np.ascontiguousarray(data), seed=seed, recipe=recipe, mime="image/png",
                      width=data.shape[1], height=data.shape[0])
