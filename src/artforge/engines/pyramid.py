"""Coarse-to-fine Gatys transfer (Gatys et al. 2017, sec. 5): optimise at a small scale, upsample,
refine; most iterations run where they are cheap, the last level at full size (tiled if large)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch.nn import functional as F
from tqdm import tqdm

from artforge.config import StylizeConfig
from artforge.data import color
from artforge.data.images import resize_long, to_tensor
from artforge.engines import tiling
from artforge.engines.optimize import optimize
from artforge.nn.encoders import VGGEncoder
from artforge.objectives.perceptual import GatysLoss, gram_targets

COARSE_FACTOR = 2  # each coarser level runs this many times the iterations of the next finer one

SnapshotFn = Callable[[int, torch.Tensor], None]


class Interrupted(Exception):
    """Ctrl-C during optimisation; ``partial`` is the image as far as it got."""

    def __init__(self, partial: torch.Tensor) -> None:
        super().__init__("interrupted")
        self.partial = partial


@dataclass(frozen=True)
class Level:
    long_side: int
    iterations: int


def schedule(size: int, iterations: int, scales: int | None, min_scale: int) -> list[Level]:
    """Pyramid levels, coarsest first: long sides size/2^k, iterations N * 2^k.

    The cost of a level is ~pixels * iterations, i.e. (1/4)^k * 2^k = 2^-k of the final level's,
    so the whole pyramid costs under twice the final level alone.
    """
    if scales is None:
        scales = 1 + max(0, int(math.floor(math.log2(size / min_scale)))) if size > min_scale else 1
    levels = []
    for k in reversed(range(scales)):
        side = max(16, round(size / 2**k))
        levels.append(Level(side, iterations * COARSE_FACTOR**k))
    return levels


def _style_at(style: Image.Image, long_side: int, cfg: StylizeConfig) -> Image.Image:
    return resize_long(style, max(16, round(long_side * cfg.style_scale)))


def _resize_mask(mask: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    return to_tensor(mask.resize(size, Image.Resampling.BILINEAR))


def _prepare(content: torch.Tensor, style: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Content and style as the optimiser sees them under a colour-preservation mode."""
    if mode == "luminance":
        c_y = color.luminance(content)
        return c_y, color.match_luminance(color.luminance(style), c_y).expand(-1, 3, -1, -1)
    if mode == "histogram":
        return content, color.match_color(style, content)
    return content, style


def stylize_tensor(
    encoder: VGGEncoder,
    content: Image.Image,
    styles: Sequence[Image.Image],
    cfg: StylizeConfig,
    masks: Sequence[Image.Image] = (),
    init: Image.Image | None = None,
    on_snapshot: SnapshotFn | None = None,
    save_every: int = 0,
    progress: bool = True,
) -> torch.Tensor:
    """The stylised image at ``cfg.size``: ``[1, 3, H, W]`` (``[1, 1, H, W]`` luminance under
    ``preserve_color='luminance'``; :func:`artforge.data.color.combine_luminance` finishes it)."""
    device = next(encoder.parameters()).device
    generator = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    levels = schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
    layer_w = dict(zip(cfg.style_layers, cfg.style_layer_weights or [1.0] * len(cfg.style_layers), strict=True))
    blend = cfg.style_blend or [1.0] * len(styles)

    sizes = [resize_long(content, lv.long_side).size for lv in levels]
    n_tiles = [len(tiling.windows(h, w, cfg.tile_size, cfg.tile_overlap)) for w, h in sizes]
    total = sum(lv.iterations * n for lv, n in zip(levels, n_tiles, strict=True))
    bar = tqdm(total=total, desc="stylize", unit="it", disable=not progress, dynamic_ncols=True)
    done = 0
    x: torch.Tensor | None = None
    latest: torch.Tensor | None = None
    try:
        for lv, (w, h) in zip(levels, sizes, strict=True):
            c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS)).to(device)
            prepared = [_prepare(c, to_tensor(_style_at(s, lv.long_side, cfg)).to(device), cfg.preserve_color) for s in styles]
            c_opt = prepared[0][0]
            grams = [gram_targets(encoder, s, cfg.style_layers, cfg.tile_size) for _, s in prepared]
            if masks:
                ms = [_resize_mask(m, (w, h)).to(device) for m in masks]
                area = torch.stack([m.mean() for m in ms])
                region_w = (area / area.sum()).tolist()
                regions = [(g, m, rw) for g, m, rw in zip(grams, ms, region_w, strict=True) if rw > 0]
            else:
                total_b = sum(blend)
                mixed = {k: sum(b * g[k] for g, b in zip(grams, blend, strict=True)) / total_b for k in cfg.style_layers}
                regions = [(mixed, None, 1.0)]

            if x is None:
                if init is not None:
                    x = to_tensor(init.resize((w, h), Image.Resampling.LANCZOS)).to(device)
                    x = color.luminance(x) if cfg.preserve_color == "luminance" else x
                elif cfg.init == "noise":
                    x = torch.rand(c_opt.shape, generator=generator).to(device)
                else:
                    x = c_opt.clone()
            else:
                x = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)

            def make_loss(win: tiling.Window | None) -> GatysLoss:
                if win is None:
                    c_win, crop = c_opt, regions
                else:
                    y0, y1, x0, x1 = win
                    c_win = c_opt[..., y0:y1, x0:x1]
                    crop = [(g, None if m is None else m[..., y0:y1, x0:x1], rw) for g, m, rw in regions]
                    crop = [(g, m, rw) for g, m, rw in crop if m is None or float(m.sum()) > 0]
                with torch.no_grad():
                    targets = encoder(c_win.expand(-1, 3, -1, -1), cfg.content_layers)
                return GatysLoss(encoder, targets, crop, layer_w, cfg.content_weight, cfg.style_weight, cfg.tv_weight)

            wins = tiling.windows(h, w, cfg.tile_size, cfg.tile_overlap)
            canvas = x

            def step(parts: dict[str, torch.Tensor], _x: torch.Tensor, lv: Level = lv) -> None:
                nonlocal done, latest
                done += 1
                latest = canvas if len(wins) > 1 else _x
                bar.update(1)
                bar.set_postfix(
                    size=lv.long_side, content=f"{float(parts['content']):.3f}",
                    style=f"{float(parts['style']):.4f}", tv=f"{float(parts['tv']):.4f}", refresh=False,
                )
                if on_snapshot is not None and save_every and done % save_every == 0:
                    on_snapshot(done, latest.detach())

            if len(wins) == 1:
                x = optimize(make_loss(None), x, lv.iterations, cfg.optimizer, cfg.learning_rate, step)
            else:
                canvas = x.clone()
                for win in wins:
                    y0, y1, x0, x1 = win
                    patch = optimize(make_loss(win), canvas[..., y0:y1, x0:x1], lv.iterations, cfg.optimizer, cfg.learning_rate, step)
                    tiling.paste(canvas, patch, win, cfg.tile_overlap)
                x = canvas
    except KeyboardInterrupt:
        if latest is None:
            raise
        raise Interrupted(latest.detach().clamp(0, 1)) from None
    finally:
        bar.close()
    assert x is not None
    return x.clamp(0, 1)
