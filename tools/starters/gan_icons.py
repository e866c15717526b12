"""The starter GAN, `starter:gan/items64`: a DCGAN of 64x64 RGBA game-item icons, trained on our
own procedural icons (sprites.py) through the app's own training harness.

    python tools/starters/gan_icons.py data              # draw the item icons (tools/starters/sprites.py)
    python tools/starters/gan_icons.py measure [--seconds 30]   # training throughput here
    python tools/starters/gan_icons.py train [--steps N | --minutes M]   # the real run
    python tools/starters/gan_icons.py ship              # newest finished run -> resources/models/gan/items64/
    python tools/starters/gan_icons.py media             # docs/starters/gan-items64.png (the README's grid)
    python tools/starters/gan_icons.py all [--steps N | --minutes M]     # all of the above but measure

The data and the runs live in --work (default ~/.cache/assetsmith-starters), never in the
repository; only model.json, generator.safetensors, CARD.md and LICENSE-DATA.md ship.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import icons  # noqa: E402  (beside this script)

ENGINE, NAME = "gan", "items64"
SCRIPT = "tools/starters/gan_icons.py"
# The shipped settings, sized for a short CPU run: the generator at half DCGAN's width (ngf 32),
# the discriminator at a quarter (ndf 16; it runs three times a step, so it costs the most),
# batch 32 for more updates in the time; spectral norm and DiffAugment because 3,600 training
# images is a small set for a GAN (one thread, one step of g32/d32 vs g32/d16 vs g16/d16 at
# batch 32 measured 47 / 90 / 135 img/s on the busy shared machine here). Resize-then-convolve
# upsampling: the emoji starter's transposed convolutions left a checkerboard. The moving
# average of the generator: FID 0.079 against 0.096 for the same run without it (7,900
# steps), and a little smoother; the mottled hues stay (CARD.md).
PARAMS = {
    "resolution": 64, "channels": 4, "g_width": 32, "d_width": 16, "latent_dim": 100,
    "d_norm": "spectral", "upsample": "resize", "g_ema": 0.999, "diffaug": True, "batch_size": 32, "lr": 2e-4,
    "beta1": 0.5,
    "flips": False, "near_duplicate_distance": 0, "seed": 0, "val_fraction": 0.1, "eval_samples": 256,
    "sample_every": 1000, "eval_every": 0, "checkpoint_every": 1000,
}
STEPS = 8000  # the shipped run's; see CARD.md
SIZING = ("The step count is the one a `--minutes 60` sizing gave the first run (7,900 steps, "
          "trained beside the VAE starter), rounded up; this run had a core to itself.")
# What the shipped run's samples look like (docs/starters/gan-items64.png), said in the card.
LOOKS = """most seeds give a recognisable kind with a dark outline on transparency: swords, keys,
mushrooms, hearts, coins and round gems or potions; the colours inside the outline are
mottled, several hues mixed where the training icons have one, and a few samples are
unfinished shapes"""


def card(run: dict, floor: dict) -> str:
    return f"""# starter:gan/{NAME} — 64x64 RGBA game-item icons (DCGAN)

A small DCGAN of 64x64 RGBA inventory icons with transparent backgrounds: potions, gems,
coins, swords, shields, hearts, keys and mushrooms, learnt from icons our own script draws
(`tools/starters/sprites.py`). It ships so that a fresh install makes real images with no
download (`assetsmith generate --engine gan --seed 5 --count 4 --project P`), and shows what
the engine does: seeds, `truncation`, `variation_seed` / `variation_strength` and
interpolation strips (`interpolate_to`). What to expect from a {run['wall_s'] / 60:.0f}-minute
CPU run: {LOOKS}. The generator doubles its size by resizing then convolving
(`upsample: resize`), so there is no checkerboard texture from transposed convolutions. Use
the samples as placeholders or starting points, train this longer, or train your own on your
art in the Train workspace.

![samples](../../../../docs/starters/gan-{NAME}.png)

## Data

{run['data']} — {icons.PER_KIND} icons of each of the eight kinds, drawn by
`tools/starters/sprites.py` (through `{SCRIPT} data`; see LICENSE-DATA.md: CC0).

## Settings

Engine `gan`, trained by the app's harness (`python -m engines.train`, the same as `assetsmith
train --engine gan`): {_settings(run)}; {run['steps']} steps, seed {run['params']['seed']}, CPU.

{icons.card_sections(run, floor, SCRIPT, "generator.safetensors", SIZING, extra_rows=EVALUATION_NOTE)}"""


EVALUATION_NOTE = """
The same settings without the moving average of the generator (`g_ema 0`, 7,900 steps, the
first run) scored FID 0.096, KID 0.0004. The fixed random network is not sensitive to the
mottled colour (the model scores at the real-against-real figure while its samples are
plainly not the training icons): read the figures as "the shapes and the palette are right",
and look at the grid.
"""


def _settings(run: dict) -> str:
    p = run["params"]
    ema = f"a moving average of the generator (decay {p['g_ema']}) exported" if p.get("g_ema") else "no moving average"
    return (f"{p['resolution']}x{p['resolution']} RGBA, g_width (ngf) {p['g_width']}, d_width (ndf) "
            f"{p['d_width']}, latent {p['latent_dim']}, {p['d_norm']} norm, upsample {p.get('upsample', 'transposed')}, "
            f"{ema}, DiffAugment {'on' if p['diffaug'] else 'off'}, batch {p['batch_size']}, Adam lr {p['lr']} "
            f"beta1 {p['beta1']}, no flips, exact duplicates only removed")


def main(argv: list[str] | None = None) -> int:
    return icons.main(argv, ENGINE, NAME, SCRIPT, PARAMS, STEPS, card, __doc__)


if __name__ == "__main__":
    sys.exit(main())
