"""Seamless tiling for textures: the model's convolutions pad circularly along the tiled axes,
so the image wraps around (its right edge continues its left, its bottom its top)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MODES = ("none", "x", "y", "xy")


def _tiled_conv(layer, x_wrap: bool, y_wrap: bool):
    import torch.nn.functional as F

    px, py = layer.padding

    def conv_forward(input, weight, bias):
        input = F.pad(input, (px, px, 0, 0), mode="circular" if x_wrap else "constant")
        input = F.pad(input, (0, 0, py, py), mode="circular" if y_wrap else "constant")
        return F.conv2d(input, weight, bias, layer.stride, 0, layer.dilation, layer.groups)

    return conv_forward


@contextmanager
def tiled(modules, mode: str):
    """Within the block, every Conv2d of `modules` pads circularly along the axes of `mode`."""
    import torch

    if mode == "none":
        yield
        return
    layers = [m for module in modules for m in module.modules()
              if isinstance(m, torch.nn.Conv2d) and isinstance(m.padding, tuple) and any(m.padding)]
    for layer in layers:
        layer._conv_forward = _tiled_conv(layer, "x" in mode, "y" in mode)  # an instance attribute
    try:
        yield
    finally:
        for layer in layers:
            del layer._conv_forward  # back to the class's own


def seam_score(image: np.ndarray, axis: str = "x") -> float:
    """How visible the wrap seam is: the mean difference across the wrap edge (last column to
    first) over that across the column boundaries beside it (rows for "y"). About 1: the seam
    is like any other boundary there; well above 1: a visible seam."""
    import numpy as np

    a = image.astype(np.float64)
    if axis == "y":
        a = a.transpose(1, 0, *range(2, a.ndim))
    interior = (np.abs(a[:, 1] - a[:, 0]).mean() + np.abs(a[:, -1] - a[:, -2]).mean()) / 2
    wrap = np.abs(a[:, 0] - a[:, -1]).mean()
    return float(wrap / interior) if interior else float(wrap > 0)
