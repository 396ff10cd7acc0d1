"""Image grids: ``[N, C, H, W]`` in [0, 1] -> one PIL image, rows of ``nrow`` with a 2 px gap."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    canvas = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        y, x = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        canvas[:, y : y + h, x : x + w] = images[i].float().clamp(0, 1)
    a = (canvas.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(a[:, :, 0] if c == 1 else a, "L" if c == 1 else "RGB")


def to_pil(image: torch.Tensor) -> Image.Image:
    """One ``[C, H, W]`` image in [0, 1]."""
    return make_grid(image.unsqueeze(0), nrow=1, pad=0)
