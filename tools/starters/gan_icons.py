"""The starter GAN, `starter:gan/emoji64`: a DCGAN of 64x64 RGBA icons, trained on the Noto
colour emoji through the app's own training harness.

    python tools/starters/gan_icons.py data              # render the emoji (installs the font package)
    python tools/starters/gan_icons.py measure [--seconds 30]   # training throughput here
    python tools/starters/gan_icons.py train [--steps N | --minutes M]   # the real run
    python tools/starters/gan_icons.py ship              # newest finished run -> resources/models/gan/emoji64/
    python tools/starters/gan_icons.py media             # docs/starters/gan-emoji64.png (the README's grid)
    python tools/starters/gan_icons.py all [--steps N | --minutes M]     # all of the above but measure

The data and the runs live in --work (default ~/.cache/assetsmith-starters), never in the
repository; only model.json, generator.safetensors, CARD.md and LICENSE-DATA.md ship.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import icons  # noqa: E402  (beside this script)

ENGINE, NAME = "gan", "emoji64"
SCRIPT = "tools/starters/gan_icons.py"
# The shipped settings, sized for a short CPU run: the generator at half DCGAN's width (ngf 32),
# the discriminator at a quarter (ndf 16; it runs three times a step, so it costs the most),
# batch 32 for more updates in the time; spectral norm and DiffAugment because ~1,100 training
# images is a small set for a GAN. One thread, one step of g32/d32 vs g32/d16 vs g16/d16 at
# batch 32 measured 47 / 90 / 135 img/s on the busy shared machine here.
PARAMS = {
    "resolution": 64, "channels": 4, "g_width": 32, "d_width": 16, "latent_dim": 100,
    "d_norm": "spectral", "diffaug": True, "batch_size": 32, "lr": 2e-4, "beta1": 0.5,
    "flips": True, "seed": 0, "val_fraction": 0.1, "eval_samples": 256,
    "sample_every": 1000, "eval_every": 0, "checkpoint_every": 1000,
}
STEPS = 4500  # the shipped run's (about 23 minutes here, beside the VAE's run); see CARD.md
SIZING = ("The step count was picked to fill about 20 minutes here while the other image starter "
          "trained beside it, one thread each (a `--minutes` timing first, then `--steps`).")


def card(run: dict, floor: dict) -> str:
    return f"""# starter:gan/{NAME} — 64x64 RGBA icons (DCGAN)

A small DCGAN that makes colourful 64x64 icons with transparent backgrounds, learnt from the
Noto colour emoji. It ships so that a fresh install makes real images with no download
(`assetsmith generate --engine gan --seed 5 --count 4 --project P`), and shows what the
engine does: seeds, `truncation`, `variation_seed` / `variation_strength` and interpolation
strips (`interpolate_to`). What to expect from a
{run['wall_s'] / 60:.0f}-minute CPU run: icon-sized shapes in the emoji palette (yellow-orange,
blue, red, magenta, some green) with smooth outlines and broad shading on transparent
surroundings; a checkerboard texture from the transposed convolutions, fainter than after a
6-minute run but still visible, and a few samples still speckled; not yet faces or objects.
Use them as abstract placeholders or particles, train this longer (below) for more, or train
your own on your art in the Train workspace.

![samples](../../../../docs/starters/gan-{NAME}.png)

## Data

{run['data']} — the emoji set rendered to 64x64 RGBA by `{SCRIPT} data`
(see LICENSE-DATA.md for the sources and licences).

## Settings

Engine `gan`, trained by the app's harness (`python -m engines.train`, the same as `assetsmith
train --engine gan`): {_settings(run)}; {run['steps']} steps, seed {run['params']['seed']}, CPU.

{icons.card_sections(run, floor, SCRIPT, "generator.safetensors", SIZING)}"""


def _settings(run: dict) -> str:
    p = run["params"]
    return (f"{p['resolution']}x{p['resolution']} RGBA, g_width (ngf) {p['g_width']}, d_width (ndf) "
            f"{p['d_width']}, latent {p['latent_dim']}, {p['d_norm']} norm, DiffAugment "
            f"{'on' if p['diffaug'] else 'off'}, batch {p['batch_size']}, Adam lr {p['lr']} beta1 {p['beta1']}, "
            f"horizontal flips")


def main(argv: list[str] | None = None) -> int:
    return icons.main(argv, ENGINE, NAME, SCRIPT, PARAMS, STEPS, card, __doc__)


if __name__ == "__main__":
    sys.exit(main())
