"""Procedural 64x64 RGBA game-item icons: the training data of the image starter models (the
DCGAN and the VAE).

Eight kinds of item (KINDS) in the style of classic RPG inventory icons: a bold dark outline,
a flat fill with one darker side and one light highlight, a transparent background, the item
centred. Each kind keeps one strong silhouette and varies in colour (a random hue, or a palette
that suits it: metals for coins and keys), proportions, a small rotation and a small shift.
A small GAN learns a few consistent silhouettes in an hour of CPU where a thousand unrelated
subjects stay blobs; the issue's DATA note allows "our own procedurally generated sprites".

The drawings are our own, made by this script from no other artwork: CC0 1.0.

    python tools/starters/sprites.py OUT_FOLDER [--per-kind N] [--seed S] [--sheet sheet.png]
"""
from __future__ import annotations

import argparse
import colorsys
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

KINDS = ("potion", "gem", "coin", "sword", "shield", "heart", "key", "mushroom")
SUPERSAMPLE = 4  # drawn at 4x, downsampled with LANCZOS: anti-aliased edges from binary masks
LIGHT = np.array([-0.45, -0.89])  # light from the top (a little left): top facets light


# -- colour -------------------------------------------------------------------------------------

def _rgb(h: float, s: float, v: float) -> tuple:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255), 255)


def palette(h: float, s: float, v: float) -> dict:
    """The tones of one material from its hue: outline, dark, shade, base, light, glint."""
    return {"outline": _rgb(h, s * 0.7, 0.14), "dark": _rgb(h, s * 1.1, v * 0.45),
            "shade": _rgb(h, s * 1.08, v * 0.68), "base": _rgb(h, s, v),
            "light": _rgb(h, s * 0.55, v + (1 - v) * 0.6), "glint": _rgb(h, s * 0.12, 1.0)}


def _hue(rng, s=(0.55, 0.9), v=(0.75, 0.95)) -> dict:
    return palette(rng.uniform(), rng.uniform(*s), rng.uniform(*v))


METALS = {"gold": (0.125, 0.78, 0.96), "silver": (0.6, 0.08, 0.86), "copper": (0.06, 0.72, 0.82),
          "iron": (0.6, 0.12, 0.62)}


def _metal(rng, *names) -> dict:
    h, s, v = METALS[names[rng.integers(len(names))]]
    return palette(h + rng.uniform(-0.01, 0.01), s, v * rng.uniform(0.95, 1.03))


# -- shapes (local coordinates, about -1..1, y down) --------------------------------------------

def ellipse(cx, cy, rx, ry, turn=0.0, n=48) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(turn), math.sin(turn)
    return np.stack([cx + x * c - y * s, cy + x * s + y * c], 1)


def rect(x0, y0, x1, y1) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], float)


def poly(*points) -> np.ndarray:
    return np.array(points, float)


def star(cx, cy, r_out, r_in, points=5, turn=-math.pi / 2) -> np.ndarray:
    t = turn + np.arange(points * 2) * math.pi / points
    r = np.where(np.arange(points * 2) % 2 == 0, r_out, r_in)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


def rrect(x0, y0, x1, y1, r, n=8) -> np.ndarray:
    """A rounded rectangle; r is clamped to half the shorter side."""
    r = min(r, (x1 - x0) / 2, (y1 - y0) / 2)
    corners = ((x1 - r, y1 - r, 0), (x0 + r, y1 - r, 0.5), (x0 + r, y0 + r, 1), (x1 - r, y0 + r, 1.5))
    t = np.linspace(0, math.pi / 2, n)
    return np.concatenate([np.stack([cx + r * np.cos(t + a * math.pi), cy + r * np.sin(t + a * math.pi)], 1)
                           for cx, cy, a in corners])


@dataclass
class Part:
    """One flat-filled region, drawn over the parts before it. Widths are in pixels of a 64 px icon."""
    shapes: list                        # polygons, filled (or, with `line`, open polylines)
    pal: dict
    color: str = "base"
    outline: float = 1.5                # a dark band outside the shape (and inside its holes)
    outline_color: str = "outline"
    shade: float = 0.0                  # a darker crescent on the lower right (negative: upper left, sunken)
    rim: float = 0.0                    # a light crescent on the upper left
    cuts: list = field(default_factory=list)  # holes through the shape
    clip: str | None = None             # drawn only inside the named part
    name: str | None = None
    line: float = 0.0


# -- the kinds: each returns its parts and the angle it is drawn at ------------------------------

def _potion(rng):
    glass, liquid = palette(rng.uniform(0.5, 0.6), 0.12, 0.93), _hue(rng)
    nw, form = rng.uniform(0.15, 0.21), rng.integers(3)
    if form == 0:    # round flask
        r = rng.uniform(0.62, 0.75)
        body, top, bottom = ellipse(0, 0.95 - r, r, r), 0.95 - 2 * r, 0.95
        inner = ellipse(0, 0.95 - r, r - 0.08, r - 0.08)
    elif form == 1:  # tall bottle
        w = rng.uniform(0.4, 0.55)
        top, bottom = rng.uniform(-0.45, -0.2), 0.95
        body, inner = rrect(-w, top, w, bottom, 0.22), rrect(-w + 0.08, top + 0.08, w - 0.08, bottom - 0.08, 0.16)
    else:            # conical flask
        w, top, bottom = rng.uniform(0.6, 0.75), -0.25, 0.95
        body = poly((-nw, top), (nw, top), (w, bottom - 0.1), (w - 0.1, bottom), (-w + 0.1, bottom), (-w, bottom - 0.1))
        inner = poly((-nw + 0.06, top + 0.1), (nw - 0.06, top + 0.1), (w - 0.1, bottom - 0.12),
                     (w - 0.16, bottom - 0.08), (-w + 0.16, bottom - 0.08), (-w + 0.1, bottom - 0.12))
    neck_top = top - rng.uniform(0.3, 0.4)
    level = top + (bottom - top) * rng.uniform(0.3, 0.6)
    return [Part([body, rect(-nw, neck_top, nw, top + 0.1)], glass, shade=2, name="glass"),
            Part([inner], liquid, outline=0, shade=3, rim=1.2, cuts=[rect(-3, -3, 3, level)], clip="glass"),
            Part([ellipse(-0.35 * (body[:, 0].max()), top + (bottom - top) * 0.35, 0.07, (bottom - top) * 0.18, 0.25)],
                 glass, "glint", outline=0, clip="glass"),
            Part([rrect(-nw - 0.07, neck_top - 0.02, nw + 0.07, neck_top + 0.1, 0.04)], glass, shade=1),
            Part([rrect(-nw + 0.02, neck_top - rng.uniform(0.18, 0.25), nw - 0.02, neck_top, 0.05)],
                 palette(0.08, 0.55, rng.uniform(0.6, 0.72)), shade=1.5, rim=1)], 0


def _gem(rng):
    pal = _hue(rng, s=(0.6, 0.95), v=(0.8, 0.97)) if rng.uniform() < 0.85 else palette(0.55, 0.1, 0.95)
    form = rng.integers(6)
    if form == 0:    # brilliant, seen from the side: crown facets light, pavilion dark
        a, t, g, b = rng.uniform(0.45, 0.6), -0.6, rng.uniform(-0.3, -0.15), rng.uniform(0.75, 0.9)
        m = a * 0.6
        facets = [((-1, g), (-a, t), (-m, g), "light"), ((-a, t), (a, t), (m, g), (-m, g), "glint"),
                  ((a, t), (1, g), (m, g), "base"), ((-1, g), (-m, g), (0, b), "base"),
                  ((-m, g), (m, g), (0, b), "shade"), ((m, g), (1, g), (0, b), "dark")]
        return [Part([poly((-a, t), (a, t), (1, g), (0, b), (-1, g))], pal, outline=1.75, name="gem")] + [
            Part([poly(*f[:-1])], pal, f[-1], outline=0, clip="gem") for f in facets] + _sparkle(-0.45, -0.45), 0
    sx = rng.uniform(0.85, 1.1)
    if form < 5:     # hexagons (flat or pointed top), an octagon, a round cut from above
        sides, turn = [(6, 0), (6, math.pi / 6), (8, math.pi / 8), (10, math.pi / 10)][form - 1]
        outer = ellipse(0, 0, sx, 1, turn, sides)
    else:            # emerald cut: a tall rectangle with its corners cut off
        w, c = rng.uniform(0.6, 0.75), rng.uniform(0.2, 0.3)
        outer = poly((-w + c, -1), (w - c, -1), (w, -1 + c), (w, 1 - c),
                     (w - c, 1), (-w + c, 1), (-w, 1 - c), (-w, -1 + c))
    inner = outer * rng.uniform(0.5, 0.62) + [0, -0.06]
    parts = [Part([outer], pal, outline=1.75, name="gem")]
    for i in range(len(outer)):
        j = (i + 1) % len(outer)
        normal = (outer[i] + outer[j]) / 2
        d = float(normal @ LIGHT / np.linalg.norm(normal))
        tone = "light" if d > 0.5 else "base" if d > -0.1 else "shade" if d > -0.7 else "dark"
        parts.append(Part([np.array([outer[i], outer[j], inner[j], inner[i]])], pal, tone, outline=0, clip="gem"))
    parts.append(Part([inner], pal, "light", outline=0, shade=2, clip="gem"))
    return parts + _sparkle(*(inner.min(0) * 0.6)), 0


def _sparkle(x, y):
    """A four-pointed white glint."""
    return [Part([star(x, y, 0.2, 0.05, 4)], palette(0, 0, 1), outline=0, clip="gem")]


def _coin(rng):
    pal = _metal(rng, "gold", "gold", "silver", "copper") if rng.uniform() < 0.85 else _hue(rng, s=(0.4, 0.7))
    rx, emboss = rng.uniform(0.82, 1.0), rng.integers(4)
    face = ellipse(0, 0, rx * 0.76, 0.76)
    hole = [rect(-0.2, -0.2, 0.2, 0.2)] if emboss == 1 else []
    raised = {0: star(0, 0.03, 0.52, rng.uniform(0.2, 0.26)),
              1: rect(-0.34, -0.34, 0.34, 0.34),  # a square hole, as old cash coins
              2: poly((0, -0.5), (0.36 * rx, 0), (0, 0.5), (-0.36 * rx, 0)),
              3: ellipse(0, 0, rx * 0.32, 0.32)}[emboss]
    parts = [Part([ellipse(0, 0, rx, 1)], pal, shade=3, rim=1, cuts=hole),  # the rim
             Part([face], pal, outline=1, outline_color="dark", shade=-2, cuts=hole),  # sunken face
             Part([raised], pal, "light", outline=1, outline_color="dark", shade=1.5, cuts=hole)]
    return parts, 0


def _sword(rng):
    steel = palette(0.6, 0.08, 0.9) if rng.uniform() < 0.75 else _hue(rng, s=(0.3, 0.5), v=(0.85, 0.95))
    hilt = _metal(rng, "gold", "silver", "copper") if rng.uniform() < 0.6 else _hue(rng)
    grip = palette(0.07, 0.6, 0.5) if rng.uniform() < 0.5 else _hue(rng, v=(0.45, 0.65))
    bw, tip, g = rng.uniform(0.12, 0.16), rng.uniform(0.2, 0.32), rng.uniform(0.25, 0.4)
    gw, gh, gl, pr = rng.uniform(0.32, 0.45), rng.uniform(0.1, 0.13), rng.uniform(0.28, 0.36), rng.uniform(0.1, 0.13)
    ge, gw2 = g + gh + gl, rng.uniform(0.065, 0.085)
    wraps = [np.array([(-gw2, y), (gw2, y - 0.06)]) for y in np.arange(g + gh + 0.08, ge - 0.02, 0.09)]
    return [Part([ellipse(0, ge + pr * 0.8, pr, pr)], hilt, shade=1.5, rim=1),
            Part([rect(-gw2, g, gw2, ge)], grip, shade=1.5, name="grip"),
            Part(wraps, grip, "dark", outline=0, line=1, clip="grip"),
            Part([poly((0, -1), (bw, -1 + tip), (bw, g), (-bw, g), (-bw, -1 + tip))], steel, rim=1),
            Part([poly((0, -1), (bw, -1 + tip), (bw, g), (0, g))], steel, "shade", outline=0),
            Part([rrect(-gw, g, gw, g + gh, gh / 2)], hilt, shade=1.5, rim=1)], 45


def _shield(rng):
    face, mark = _hue(rng), _metal(rng, "gold", "silver") if rng.uniform() < 0.5 else _hue(rng)
    rim = _metal(rng, "silver", "iron", "gold") if rng.uniform() < 0.8 else palette(0.07, 0.6, 0.6)
    if rng.uniform() < 0.6:  # heater: flat top, straight sides, curving to a point
        w, side = rng.uniform(0.72, 0.88), rng.uniform(-0.05, 0.2)

        def heater(w, top, side, bottom):
            t = np.linspace(0, 1, 12)[:, None]
            right = (1 - t) ** 2 * [w, side] + 2 * t * (1 - t) * [w, (side + bottom * 2) / 3] + t ** 2 * [0, bottom]
            left = right[::-1] * [-1, 1]
            return np.concatenate([[(-w, top), (0, top + 0.06), (w, top)], right, left[1:]])
        outer, inner = heater(w, -0.95, side, 1.0), heater(w - 0.15, -0.8, side, 0.78)
    else:
        outer, inner = ellipse(0, 0, 1, 1), ellipse(0, 0, 0.84, 0.84)
    emblem = rng.integers(3)
    if emblem == 0:    # a diagonal band
        sign = 1 if rng.uniform() < 0.5 else -1
        marks = [poly((-1, -1 + 0.25), (-1 + 0.25, -1), (1, 1 - 0.25), (1 - 0.25, 1)) * [sign, 1]]
    elif emblem == 1:  # a cross
        a = rng.uniform(0.1, 0.16)
        marks = [rect(-a, -1, a, 1), rect(-1, -0.15 - a, 1, -0.15 + a)]
    else:              # a chevron
        y, a = rng.uniform(-0.2, 0.1), rng.uniform(0.16, 0.22)
        marks = [poly((-1, y + 0.7), (0, y - 0.3), (1, y + 0.7),
                      (1, y + 0.7 + a * 2), (0, y - 0.3 + a * 2), (-1, y + 0.7 + a * 2))]
    return [Part([outer], rim, shade=2.5, rim=1),
            Part([inner], face, outline=1, shade=3, rim=1, name="face"),
            Part(marks, mark, outline=1, shade=2, clip="face")], 0


def _heart(rng):
    r = rng.uniform()
    pal = (palette(rng.uniform(-0.02, 0.02), rng.uniform(0.72, 0.9), rng.uniform(0.85, 0.95)) if r < 0.7 else
           palette(rng.uniform(0.9, 0.96), rng.uniform(0.4, 0.6), 0.96) if r < 0.9 else _hue(rng))
    t = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    sx, sy = rng.uniform(0.9, 1.15), rng.uniform(0.9, 1.05)
    # The classic parametric heart curve, its cusp up.
    shape = np.stack([sx * np.sin(t) ** 3,
                      -sy * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) / 16], 1)
    return [Part([shape], pal, shade=4, rim=1, name="heart"),
            Part([ellipse(-0.5 * sx, -0.42 * sy, 0.22, 0.12, -0.7)], pal, "glint", outline=0, clip="heart"),
            Part([ellipse(-0.22 * sx, -0.6 * sy, 0.06, 0.06)], pal, "glint", outline=0, clip="heart")], 0


def _key(rng):
    pal = _metal(rng, "gold", "gold", "silver", "copper", "iron") if rng.uniform() < 0.85 else _hue(rng)
    sw, r = rng.uniform(0.1, 0.125), rng.uniform(0.4, 0.47)
    cy, ry = 1 - r, r * rng.uniform(0.9, 1.1)
    bow, hole = ellipse(0, cy, r, ry), ellipse(0, cy, r * rng.uniform(0.45, 0.58), ry * rng.uniform(0.45, 0.58))
    if rng.uniform() < 0.3:  # a diamond bow
        bow, hole = ellipse(0, cy, r * 1.1, ry * 1.1, 0, 4), ellipse(0, cy, r * 0.55, ry * 0.55, 0, 4)
    teeth, y = [], -1.0
    for _ in range(rng.integers(2, 4)):
        h = rng.uniform(0.09, 0.14)
        teeth.append(rect(0, y, sw + rng.uniform(0.16, 0.3), y + h))
        y += h + rng.uniform(0.04, 0.08)
    collar = rect(-sw * 1.9, cy - ry - 0.12, sw * 1.9, cy - ry + 0.02)
    return [Part([bow, rect(-sw, -1, sw, cy - ry + 0.05), collar] + teeth, pal, shade=2, rim=1, cuts=[hole])], 45


def _mushroom(rng):
    r = rng.uniform()
    cap = (palette(rng.uniform(-0.01, 0.02), 0.82, 0.86) if r < 0.45 else
           palette(rng.uniform(0.05, 0.09), 0.6, 0.62) if r < 0.65 else _hue(rng))
    cream = palette(0.11, rng.uniform(0.12, 0.22), 0.95)
    rx, ry, p = rng.uniform(0.85, 1.0), rng.uniform(0.5, 0.75), rng.uniform(0.7, 1.3)
    base = rng.uniform(0.05, 0.15)
    t = np.linspace(0, math.pi, 25)
    dome = np.stack([-rx * np.cos(t), base - ry * np.sin(t) ** p], 1)
    bottom = np.stack([rx * np.cos(t[1:-1]), base + 0.1 * np.sin(t[1:-1])], 1)
    sb, st = rng.uniform(0.24, 0.34), rng.uniform(0.18, 0.24)
    stem = np.concatenate([[(-st, base), (st, base)], ellipse(0, 0.88, sb, 0.1)[:25]])  # round foot
    spots, count = [], rng.integers(3, 7)
    for _ in range(40):  # spots spread over the cap, apart from each other
        x, y, r = rng.uniform(-0.7, 0.7) * rx, base - rng.uniform(0.15, 0.85) * ry, rng.uniform(0.09, 0.15)
        inside = (x / (rx - r)) ** 2 + ((y - base) / (ry - r)) ** 2 < 1 and y + r < base
        if inside and all(math.dist((x, y), (a, b)) > r + c + 0.08 for a, b, c in spots):
            spots.append((x, y, r))
        if len(spots) == count:
            break
    spots = [ellipse(x, y, r, r * 0.85) for x, y, r in spots]
    return [Part([stem], cream, shade=3, rim=1),
            Part([np.concatenate([dome, bottom])], cap, shade=3, rim=1.2, name="cap"),
            Part(spots, cream, outline=0, shade=1, clip="cap"),
            Part([ellipse(-0.45 * rx, base - 0.65 * ry, 0.2, 0.08, -0.5)], cap, "glint", outline=0, clip="cap")], 0


DRAW = dict(zip(KINDS, (_potion, _gem, _coin, _sword, _shield, _heart, _key, _mushroom)))


# -- rendering ----------------------------------------------------------------------------------

def _mask(n, shapes, cuts, grow, line) -> np.ndarray:
    """The shapes' pixels, grown by `grow` (round joins): the outline is the grown mask under the fill."""
    img = Image.new("L", (n, n), 0)
    draw = ImageDraw.Draw(img)
    for pts in shapes:
        if line:
            draw.line(pts, fill=255, width=max(1, round(line + 2 * grow)), joint="curve")
        else:
            draw.polygon(pts, fill=255)
            if grow:
                draw.line(pts + pts[:2], fill=255, width=round(2 * grow), joint="curve")
    for pts in cuts:
        draw.polygon(pts, fill=0)
        if grow:  # the hole shrinks by the outline's width too
            draw.line(pts + pts[:2], fill=255, width=round(2 * grow), joint="curve")
    return np.asarray(img) > 0


def _shift(m: np.ndarray, d: int) -> np.ndarray:
    """The mask moved up-left by d pixels (down-right for negative d)."""
    out = np.zeros_like(m)
    if d > 0:
        out[:-d, :-d] = m[d:, d:]
    elif d < 0:
        out[-d:, -d:] = m[:d, :d]
    return out


def render(kind: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One RGBA icon of the kind, size x size, transparent background."""
    parts, angle = DRAW[kind](rng)
    n, px = size * SUPERSAMPLE, size * SUPERSAMPLE / 64  # px: one pixel of a 64 px icon, on the canvas
    a = math.radians(angle + rng.uniform(-15, 15))
    turn = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])  # clockwise, y down
    points = np.concatenate([s for p in parts if not (p.line or p.clip) for s in p.shapes]) @ turn  # clipped: inside
    lo, hi = points.min(0), points.max(0)
    # The item's larger side fills 64-84% of the frame, outline included; a shift of up to 3 px.
    scale = (rng.uniform(0.64, 0.84) * n - 3 * px) / (hi - lo).max()
    half = (hi - lo) * scale / 2 + 2 * px
    centre = np.clip(n / 2 + rng.integers(-3, 4, 2) * px, half, n - half)
    place = lambda pts: [tuple(p) for p in ((pts @ turn - (lo + hi) / 2) * scale + centre).tolist()]  # noqa: E731
    # Colour indices, not RGBA: painting one byte a pixel is several times faster.
    canvas, inks = np.zeros((n, n), np.uint8), [(0, 0, 0, 0)]

    def ink(rgba) -> int:
        inks.append(rgba)
        return len(inks) - 1
    masks = {}
    for p in parts:
        shapes, cuts = [place(s) for s in p.shapes], [place(c) for c in p.cuts]
        inside = masks[p.clip] if p.clip else True
        if p.outline:
            canvas[_mask(n, shapes, cuts, p.outline * px, p.line * px) & inside] = ink(p.pal[p.outline_color])
        m = _mask(n, shapes, cuts, 0, p.line * px) & inside
        canvas[m] = ink(p.pal[p.color])
        if p.shade:
            canvas[m & ~_shift(m, round(p.shade * px))] = ink(p.pal["shade"])
        if p.rim:
            canvas[m & ~_shift(m, -round(p.rim * px))] = ink(p.pal["light"])
        if p.name:
            masks[p.name] = m
    # Pillow premultiplies alpha when it resizes RGBA: no dark fringe from the transparent pixels.
    image = Image.fromarray(np.array(inks, np.uint8)[canvas], "RGBA")
    icon = np.array(image.resize((size, size), Image.Resampling.LANCZOS))
    # LANCZOS rings: a faint ghost of the outline 2-3 px outside the item, and alpha a little
    # under 255 inside. The exact coverage (a box filter) says where alpha must be 0 or 255.
    cover = np.asarray(image.getchannel("A").reduce(SUPERSAMPLE))
    icon[..., 3] = np.where(cover == 255, 255, icon[..., 3])
    icon[(cover == 0) | (icon[..., 3] == 0)] = 0
    return Image.fromarray(icon, "RGBA")


def sprite_folder(folder: Path, per_kind: int = 500, size: int = 64, seed: int = 0) -> Path:
    """folder/{kind}-{i:04d}.png for every kind, the same bytes for the same seed; made once
    (the marker folder/../{name}.json is written last, beside the folder: the training data scan
    would report a file inside it as skipped)."""
    folder = Path(folder)
    marker = folder.with_name(folder.name + ".json")
    if marker.is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a half-written folder from an interrupted run
    folder.mkdir(parents=True)
    for k, kind in enumerate(KINDS):
        rng = np.random.default_rng([seed, k])  # one stream per kind: a kind's icons don't depend on the others
        for i in range(per_kind):
            render(kind, rng, size).save(folder / f"{kind}-{i:04d}.png")
    marker.write_text(json.dumps({"per_kind": per_kind, "size": size, "seed": seed, "count": per_kind * len(KINDS)}))
    return folder


def contact_sheet(images: list, columns: int = 8, scale: int = 2, background=(40, 40, 40)) -> Image.Image:
    """The images in a grid, scaled up (nearest: the pixels show), on a flat background."""
    w, h = images[0].size
    gap, rows = 2 * scale, -(-len(images) // columns)
    sheet = Image.new("RGBA", (columns * (w * scale + gap) + gap, rows * (h * scale + gap) + gap), (*background, 255))
    for i, image in enumerate(images):
        big = image.convert("RGBA").resize((w * scale, h * scale), Image.Resampling.NEAREST)
        sheet.alpha_composite(big, (gap + (i % columns) * (w * scale + gap), gap + (i // columns) * (h * scale + gap)))
    return sheet.convert("RGB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Draw the procedural item icons.")
    parser.add_argument("out", type=Path, help="the folder of PNGs (made once: delete its .json marker to redo)")
    parser.add_argument("--per-kind", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--sheet", type=Path, help="also a contact sheet of the first 8 of each kind")
    args = parser.parse_args()
    out = sprite_folder(args.out, args.per_kind, args.size, args.seed)
    print(f"{len(list(out.glob('*.png')))} icons in {out}")
    if args.sheet:
        contact_sheet([Image.open(out / f"{kind}-{i:04d}.png") for kind in KINDS
                       for i in range(min(8, args.per_kind))], columns=8, scale=2).save(args.sheet)
        print(f"contact sheet: {args.sheet}")
