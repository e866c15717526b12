"""The starter VAE, `starter:vae/items64`: a convolutional VAE of 64x64 RGBA game-item icons,
trained on our own procedural icons (sprites.py) through the app's own training harness.

    python tools/starters/vae_icons.py data              # draw the item icons (tools/starters/sprites.py)
    python tools/starters/vae_icons.py measure [--seconds 30]   # training throughput here
    python tools/starters/vae_icons.py train [--steps N | --minutes M]   # the real run
    python tools/starters/vae_icons.py ship              # newest finished run -> resources/models/vae/items64/
    python tools/starters/vae_icons.py media             # docs/starters/vae-items64.png (the README's grid)
    python tools/starters/vae_icons.py all [--steps N | --minutes M]     # all of the above but measure

The data and the runs live in --work (default ~/.cache/assetsmith-starters), never in the
repository; only model.json, vae.safetensors, CARD.md and LICENSE-DATA.md ship.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import icons  # noqa: E402  (beside this script)

ENGINE, NAME = "vae", "items64"
SCRIPT = "tools/starters/vae_icons.py"
# The shipped settings: width 24 and a 32-dim latent keep the weights near 4 MB. kl_weight 4
# (a beta-VAE), batch 32: with kl_weight 1 a 700-step run left the posteriors far from N(0, I)
# (means off by up to 1, variance 0.01), so the prior samples `generate` draws were shapeless;
# the stronger KL term pulls the posteriors towards the prior the samples come from.
PARAMS = {
    "resolution": 64, "channels": 4, "width": 24, "latent_dim": 32, "kl_weight": 4.0,
    "batch_size": 32, "lr": 1e-3, "flips": False, "near_duplicate_distance": 0, "seed": 0, "val_fraction": 0.1,
    "eval_samples": 256,
    "sample_every": 1000, "eval_every": 0, "checkpoint_every": 1000,
}
STEPS = 24550  # the shipped run's (`--minutes 60`, beside the GAN's run); see CARD.md
SIZING = ("The step count was picked by `--minutes 60` (a 25 s timing, then the steps that fit "
          "60 minutes with 30 % to spare) while the GAN starter trained beside it, one thread each.")


def card(run: dict, floor: dict) -> str:
    p, m = run["params"], run["metrics"]
    reconstruction = (f"\nReconstructions of the validation images through the posterior mean "
                      f"(`--param init_image=FILE`): SSIM {m['ssim']:.3f}, PSNR {m['psnr']:.2f} dB, "
                      f"MSE {m['mse']:.4f} (all four channels, in [0, 1]).\n")
    return f"""# starter:vae/{NAME} — 64x64 RGBA game-item icons (VAE)

A small variational autoencoder of 64x64 RGBA inventory icons with transparent backgrounds:
potions, gems, coins, swords, shields, hearts, keys and mushrooms, learnt from icons our own
script draws (`tools/starters/sprites.py`). It ships so that a fresh install makes real
images with no download (`assetsmith generate --engine vae --seed 5 --count 4 --project P`).
Its **samples from the prior** (no init_image) are soft item silhouettes with a dark outline
on transparency: most seeds give a recognisable kind (a heart, a mushroom, a key, a sword, a
shield or a potion), blurred and with mottled colour, as a VAE's samples are; use them as
placeholders or as starting points to paint over. Its **reconstructions**
(`--param init_image=FILE`) keep an icon's outline and main colours, softened, and
`variation_seed` / `variation_strength` vary such a reconstruction. The KL term is weighted 4
(a beta-VAE), which keeps the posteriors near the N(0, I) that `generate` samples from (with
kl_weight 1 an earlier run's prior samples were shapeless). Train it longer, or train your own
in the Train workspace.

![samples](../../../../docs/starters/vae-{NAME}.png)

Held-out icons (top) and their reconstructions (bottom):

![reconstructions](../../../../docs/starters/vae-{NAME}-reconstructions.png)

## Data

{run['data']} — {icons.PER_KIND} icons of each of the eight kinds, drawn by
`tools/starters/sprites.py` (through `{SCRIPT} data`; see LICENSE-DATA.md: CC0).

## Settings

Engine `vae`, trained by the app's harness (`python -m engines.train`, the same as `assetsmith
train --engine vae`): {p['resolution']}x{p['resolution']} RGBA, width {p['width']}, latent
{p['latent_dim']}, kl_weight {p['kl_weight']}, batch {p['batch_size']}, Adam lr {p['lr']}, no flips
(inventory icons face one way), exact duplicates only removed; {run['steps']} steps, seed {p['seed']}, CPU.

{icons.card_sections(run, floor, SCRIPT, "vae.safetensors", SIZING, extra_rows=reconstruction)}"""


def main(argv: list[str] | None = None) -> int:
    return icons.main(argv, ENGINE, NAME, SCRIPT, PARAMS, STEPS, card, __doc__)


if __name__ == "__main__":
    sys.exit(main())
