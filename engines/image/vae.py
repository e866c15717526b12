"""VAE image engine (`vae`): a convolutional variational autoencoder trained on a folder.

The encoder halves the image down to 4x4 and maps it to the mean and log-variance of a
Gaussian latent; the decoder mirrors it (Kingma & Welling). It samples new images from the
prior (seeded, with `truncation` scaling the latent), varies them, and reconstructs a user's
image (`init_image`) through the posterior mean, which is deterministic.

A trained model is a folder: `model.json` (format "assetsmith-vae" and the VaeConfig) and
`vae.safetensors`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from engines.api import EngineError, Events, Output, Param, ParamError, Request, check_request, run_batch
from engines.image.gan import (
    RESOLUTIONS, TRUNCATION, VARIATION, _levels, check_variation, latent, load_weights, memory_of, read_model_json,
    to_uint8,
)

FORMAT = "assetsmith-vae"
WEIGHTS = "vae.safetensors"


@dataclass(frozen=True)
class VaeConfig:
    resolution: int = 64
    channels: int = 3
    latent_dim: int = 64
    width: int = 32  # channels of the first encoder layer; doubled at each halving
    fit: str = "center-crop"  # how an init_image is brought to the resolution (engines/data.py)

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ParamError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {self.resolution}")
        if self.channels not in (3, 4):
            raise ParamError(f"channels must be 3 (RGB) or 4 (RGBA), got {self.channels}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VaeConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def build_vae(cfg: VaeConfig):
    """A ModuleDict with `encoder` (image -> features), `mu` and `logvar` (features -> latent)
    and `decoder` (latent -> image in [-1, 1])."""
    from torch import nn

    n = _levels(cfg.resolution)
    top = cfg.width * 2 ** (n - 1)
    encoder, width = [], cfg.width
    encoder += [nn.Conv2d(cfg.channels, width, 4, 2, 1), nn.SiLU()]
    for _ in range(n - 1):
        encoder += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.SiLU()]
        width *= 2
    encoder.append(nn.Flatten())
    decoder = [nn.Linear(cfg.latent_dim, top * 16), nn.Unflatten(1, (top, 4, 4)), nn.SiLU()]
    width = top
    for _ in range(n - 1):
        decoder += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.SiLU()]
        width //= 2
    decoder += [nn.ConvTranspose2d(width, cfg.channels, 4, 2, 1), nn.Tanh()]
    return nn.ModuleDict({
        "encoder": nn.Sequential(*encoder),
        "mu": nn.Linear(top * 16, cfg.latent_dim),
        "logvar": nn.Linear(top * 16, cfg.latent_dim),
        "decoder": nn.Sequential(*decoder),
    })


def encode(vae, images):
    """(mu, logvar) of the posterior for a batch of images in [-1, 1]."""
    features = vae["encoder"](images)
    return vae["mu"](features), vae["logvar"](features)


def decode(vae, z):
    return vae["decoder"](z)


class VaeEngine:
    name = "vae"
    modality = "image"
    takes_prompt = False
    inputs = ("init_image",)
    default_model = "starter:vae/items64"  # shipped in resources/models/ (tools/starters/)
    params = (
        TRUNCATION,
        *VARIATION,
        Param("init_image", "file", None,
              help="Reconstruct this image through the model (brought to the model's size as in training)."),
    )

    def __init__(self) -> None:
        self.vae = None
        self.config: VaeConfig | None = None
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
        self.config = VaeConfig.from_dict(info.get("config", {}))
        vae = build_vae(self.config)
        load_weights(vae, path / WEIGHTS)
        self.vae = vae.eval().to(device)
        self.device = device

    def unload(self) -> None:
        self.vae = None

    def memory_bytes(self) -> int:
        return memory_of(self.vae) if self.vae is not None else 0

    def generate(self, request: Request, events: Events) -> list[Output]:
        request = check_request(type(self), request)
        if self.vae is None:
            raise EngineError("the vae engine has no model loaded")
        given = request.params
        params = {"truncation": given.get("truncation", 1.0), **check_variation(given)}
        if given.get("init_image"):
            params["init_image"] = given["init_image"]
        return run_batch(request, events, lambda seed, ev: self._one(request, params, seed, ev))

    def latent(self, seed: int, params: dict):
        """The decoder's input: the prior sample of `seed`, or the posterior mean of the
        init image moved by the variation seed's noise."""
        import torch

        dim = self.config.latent_dim
        if "init_image" not in params:
            z = latent(seed, dim, params["truncation"], params.get("variation_seed"),
                       params.get("variation_strength", 0.0))
            return z.flatten(1)
        from engines.data import fit_image, to_tensor

        image = fit_image(_open(params["init_image"]), self.config.resolution, self.config.channels, self.config.fit)
        with torch.inference_mode():
            mu, _ = encode(self.vae, to_tensor(image).unsqueeze(0).to(self.device))
        mu = mu.cpu()
        if "variation_seed" in params:
            noise = torch.randn(mu.shape, generator=torch.Generator("cpu").manual_seed(params["variation_seed"]))
            mu = mu + params["variation_strength"] * noise
        return mu * params["truncation"]

    def _one(self, request: Request, params: dict, seed: int, events: Events) -> Output:
        import torch

        start = time.perf_counter()
        z = self.latent(seed, params)
        with torch.inference_mode():
            (data,) = to_uint8(decode(self.vae, z.to(self.device)))
        events.progress(1, 1)
        recipe = request.replace(seed=seed, count=1, params=params).to_dict()
        recipe["runtime"] = {"device": self.device, "dtype": "float32", "time_s": round(time.perf_counter() - start, 4)}
        return Output(kind="image", data=np.ascontiguousarray(data), seed=seed, recipe=recipe, mime="image/png",
                      width=data.shape[1], height=data.shape[0])


def _open(path: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return image
    except FileNotFoundError:
        raise ParamError(f"init_image {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ParamError(f"init_image {Path(path).name} is not a readable image ({exc})") from None
