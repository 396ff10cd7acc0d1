"""Overlapping tiles for images too large for one VGG pass, cross-faded so no seam shows.

Tiles run in raster order, each starting from the canvas that its finished neighbours already
wrote, and each is pasted back with a linear ramp over the overlap on its top and left sides.
"""

from __future__ import annotations

import torch

Window = tuple[int, int, int, int]  # y0, y1, x0, x1


def starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: step ``tile - overlap``, the last tile flush with the end."""
    if length <= tile:
        return [0]
    step = tile - overlap
    out = list(range(0, length - tile, step))
    out.append(length - tile)
    return out


def windows(height: int, width: int, tile: int, overlap: int) -> list[Window]:
    return [
        (y, min(y + tile, height), x, min(x + tile, width))
        for y in starts(height, tile, overlap)
        for x in starts(width, tile, overlap)
    ]


def ramp(window: Window, overlap: int, like: torch.Tensor) -> torch.Tensor:
    """``[1, 1, h, w]`` paste weight: rises from 1/(o+1) to 1 across the top/left overlap o."""
    y0, y1, x0, x1 = window
    h, w = y1 - y0, x1 - x0
    wy = torch.ones(h, dtype=like.dtype, device=like.device)
    wx = torch.ones(w, dtype=like.dtype, device=like.device)
    if overlap:
        r = torch.arange(1, overlap + 1, dtype=like.dtype, device=like.device) / (overlap + 1)
        if y0 > 0:
            wy[: min(overlap, h)] = r[: min(overlap, h)]
        if x0 > 0:
            wx[: min(overlap, w)] = r[: min(overlap, w)]
    return (wy[:, None] * wx[None, :])[None, None]


def paste(canvas: torch.Tensor, patch: torch.Tensor, window: Window, overlap: int) -> None:
    """canvas[window] = (1 - r) * canvas[window] + r * patch, in place."""
    y0, y1, x0, x1 = window
    r = ramp(window, overlap, canvas)
    region = canvas[..., y0:y1, x0:x1]
    region.mul_(1 - r).add_(r * patch)
