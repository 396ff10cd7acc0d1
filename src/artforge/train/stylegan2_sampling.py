"""Sampling a style-based generator (Karras et al. 2019, 2020): truncation w' = w_avg + psi (w - w_avg), style mixing
(the layers of one band take another latent's w), interpolation in W, and rendering a projected ``w.npz``."""

from __future__ import annotations

import torch
from torch import Tensor

from artforge.core.errors import ArtforgeError
from artforge.nn.stylegan2 import Generator

BANDS = ("coarse", "middle", "fine")
NOISE_MODES = ("const", "random", "none")


def crossover_layers(num_ws: int, resolution: int, band: str) -> range:
    """The ws indices of a band. The paper's bands by resolution (coarse 4-8 px, middle 16-32 px, fine 64 px and up;
    ws index l drives resolution 4 * 2^(l // 2)) from 64 px up; below, where there is no fine band, thirds."""
    if band not in BANDS:
        raise ArtforgeError(f"--style-mix: {', '.join(BANDS)}")
    if resolution >= 64:
        edges = (0, 4, 8, num_ws)
    else:
        edges = (0, round(num_ws / 3), round(2 * num_ws / 3), num_ws)
    i = BANDS.index(band)
    return range(edges[i], edges[i + 1])


def mix(ws_dst: Tensor, ws_src: Tensor, layers: range) -> Tensor:
    """``ws_dst`` ``[N, num_ws, w_dim]`` with the ``layers`` taken from ``ws_src`` (same shape)."""
    out = ws_dst.clone()
    out[:, layers.start : layers.stop] = ws_src[:, layers.start : layers.stop]
    return out


@torch.no_grad()
def render(g: Generator, ws: Tensor, noise_mode: str) -> Tensor:
    """Images in [0, 1] ``[N, C, R, R]`` from ``ws``; random noise is drawn from a fixed seed (reproducible)."""
    gen = torch.Generator().manual_seed(0) if noise_mode == "random" else None
    img: Tensor = g.synthesis(ws, noise_mode=noise_mode, generator=gen)
    return img.float().add(1).div(2).clamp(0, 1).cpu()


@torch.no_grad()
def style_mix_grid(
    g: Generator, rows: Tensor, cols: Tensor, c: Tensor | None, band: str, psi: float, noise_mode: str
) -> tuple[Tensor, int]:
    """The paper's style-mixing figure: the top row holds the destinations (``cols`` latents), the left column the
    sources (``rows``), and cell (r, k) is destination k with ``band``'s layers from source r. Returns the images
    ``[(R + 1) (K + 1), C, H, W]`` (the top-left cell blank) and the row length K + 1."""
    dev = g.mapping.w_avg.device
    cr = None if c is None else c[: len(rows)].to(dev)
    ck = None if c is None else c[: len(cols)].to(dev)
    ws_rows = g.mapping(rows.to(dev), cr, psi=psi)
    ws_cols = g.mapping(cols.to(dev), ck, psi=psi)
    layers = crossover_layers(g.num_ws, g.resolution, band)
    top, left = render(g, ws_cols, noise_mode), render(g, ws_rows, noise_mode)
    cells = [torch.ones_like(top[:1]), top]
    for r in range(len(rows)):
        cells += [left[r : r + 1], render(g, mix(ws_cols, ws_rows[r : r + 1].expand_as(ws_cols), layers), noise_mode)]
    return torch.cat(cells), len(cols) + 1


@torch.no_grad()
def w_walk(g: Generator, keys: Tensor, c: Tensor | None, frames: int, psi: float, noise_mode: str) -> Tensor:
    """Linear interpolation in W between consecutive ``keys`` latents (``frames`` per segment, then the last key):
    W is the space in which the paper measures perceptual path length, so a lerp there is the natural walk."""
    dev = g.mapping.w_avg.device
    ws = g.mapping(keys.to(dev), None if c is None else c.expand(len(keys)).to(dev), psi=psi)  # [K, num_ws, w_dim]
    t = torch.arange(frames, device=dev, dtype=ws.dtype)[:, None, None] / frames
    path = [ws[i : i + 1].lerp(ws[i + 1 : i + 2], t) for i in range(len(ws) - 1)]
    return render(g, torch.cat([*path, ws[-1:]]), noise_mode)
