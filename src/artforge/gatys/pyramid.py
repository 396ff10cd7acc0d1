"""Coarse-to-fine Gatys transfer (Gatys et al. 2017, sec. 5): optimise at a small scale, upsample,
refine; most iterations run where they are cheap, the last level at full size (tiled if large).

Hand-off between levels: x_fine = c_fine + up(pool2(x_coarse - c_coarse)), the photo at the finer
size plus the coarse level's large-scale change (c = the content at each level's size)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from PIL import Image
from torch.nn import functional as F

from artforge.data import color, tiling
from artforge.data.images import resize_long, to_tensor
from artforge.gatys.config import StylizeConfig
from artforge.gatys.optimize import optimize
from artforge.gatys.progress import Callback, Interrupted, Progress, ProgressBar, StopRequested, chain
from artforge.nn.encoders import VGGEncoder
from artforge.objectives.functional import blend_grams
from artforge.objectives.perceptual import GatysLoss, gram_targets

__all__ = [
    "Interrupted", "Level", "LevelProblem", "Progress", "StopRequested", "build_level", "schedule", "stylize_tensor",
    "upsample_with_detail",
]  # fmt: skip

COARSE_FACTOR = 2  # each coarser level runs this many times the iterations of the next finer one

Region = tuple[dict[str, torch.Tensor], torch.Tensor | None, float]  # target Grams, mask, weight


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
    return [Level(max(16, round(size / 2**k)), iterations * COARSE_FACTOR**k) for k in reversed(range(scales))]


def refine_schedule(size: int, iterations: int, scales: int | None, min_scale: int) -> list[Level]:
    """Levels for refining a feed-forward first guess (``--init fast``): the picture's layout is already set, so
    only the two finest levels of :func:`schedule` run, each with half its iterations (at least one)."""
    full = schedule(size, iterations, scales, min_scale)[-2:]
    return [Level(lv.long_side, max(1, lv.iterations // 2)) for lv in full]


def _prepare(content: torch.Tensor, style: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Content and style as the optimiser sees them under a colour-preservation mode."""
    if mode == "luminance":
        c_y = color.luminance(content)
        return c_y, color.match_luminance(color.luminance(style), c_y).expand(-1, 3, -1, -1)
    if mode == "histogram":
        return content, color.match_color(style, content)
    return content, style


@dataclass
class LevelProblem:
    """Everything one pyramid level optimises against; ``loss(window)`` builds the objective."""

    encoder: VGGEncoder
    cfg: StylizeConfig
    content: torch.Tensor  # [1, C, H, W] as optimised (C = 1 under luminance preservation)
    regions: list[Region]
    windows: list[tiling.Window] = field(default_factory=list)

    def loss(self, window: tiling.Window | None = None) -> GatysLoss:
        content, regions = self.content, self.regions
        if window is not None:
            y0, y1, x0, x1 = window
            content = content[..., y0:y1, x0:x1]
            regions = [(g, None if m is None else m[..., y0:y1, x0:x1], w) for g, m, w in regions]
            regions = [(g, m, w) for g, m, w in regions if m is None or float(m.sum()) > 0]
        cfg = self.cfg
        with torch.no_grad():
            targets = self.encoder(content.expand(-1, 3, -1, -1), cfg.content_layers)
        layer_w = dict(zip(cfg.style_layers, cfg.style_layer_weights or [1.0] * len(cfg.style_layers), strict=True))
        return GatysLoss(self.encoder, targets, regions, layer_w, cfg.content_weight, cfg.style_weight, cfg.tv_weight)


def build_level(
    encoder: VGGEncoder,
    content: Image.Image,
    styles: Sequence[Image.Image],
    cfg: StylizeConfig,
    long_side: int,
    masks: Sequence[Image.Image] = (),
) -> LevelProblem:
    """Content, target Grams and regions at one scale; styles are scaled by ``cfg.style_scale``."""
    device = next(encoder.parameters()).device
    w, h = resize_long(content, long_side).size
    c = to_tensor(content.resize((w, h), Image.Resampling.LANCZOS)).to(device)
    style_side = max(16, round(long_side * cfg.style_scale))
    prepared = [_prepare(c, to_tensor(resize_long(s, style_side)).to(device), cfg.preserve_color) for s in styles]
    grams = [gram_targets(encoder, s, cfg.style_layers, cfg.tile_size) for _, s in prepared]
    regions: list[Region]
    if masks:
        ms = [to_tensor(m.resize((w, h), Image.Resampling.BILINEAR)).to(device) for m in masks]
        area = torch.stack([m.mean() for m in ms])
        weights = (area / area.sum()).tolist()
        regions = [(g, m, a) for g, m, a in zip(grams, ms, weights, strict=True) if a > 0]
    else:
        regions = [(blend_grams(grams, cfg.style_blend or [1.0] * len(styles)), None, 1.0)]
    windows = tiling.windows(h, w, cfg.tile_size, cfg.tile_overlap)
    return LevelProblem(encoder, cfg, prepared[0][0], regions, windows)


class _Reporter:
    """The one place that turns optimiser steps into :class:`Progress` events for ``callback``;
    remembers the latest image, which a stop or Ctrl-C returns."""

    def __init__(self, callback: Callback | None, total: int, levels: int) -> None:
        self.callback, self.total, self.levels = callback, total, levels
        self.step = 0
        self.latest: torch.Tensor | None = None
        self.canvas: torch.Tensor | None = None  # the full image while tiles run
        self.level = self.iteration = self.iterations = self.tile = 0
        self.tiles = 1
        self.size = (0, 0)

    def start_level(self, level: int, iterations: int, tiles: int, size: tuple[int, int]) -> None:
        self.level, self.iteration, self.iterations, self.tiles, self.size = level, 0, iterations * tiles, tiles, size

    def __call__(self, parts: dict[str, torch.Tensor], x: torch.Tensor) -> None:
        self.step += 1
        self.iteration += 1
        latest = self.latest = self.canvas if self.canvas is not None else x
        if self.callback is None:
            return
        event = Progress(
            self.level, self.levels, self.iteration, self.iterations, self.step, self.total, self.size, self.tile,
            self.tiles, {k: float(v) for k, v in parts.items()}, lambda: latest.detach().clone(),
        )  # fmt: skip
        try:
            stop = self.callback(event)
        except StopRequested:
            stop = True
        if stop:
            raise Interrupted(latest.detach().clamp(0, 1))


def upsample_with_detail(x: torch.Tensor, content_coarse: torch.Tensor, content_fine: torch.Tensor) -> torch.Tensor:
    """c_fine + up(pool2(x - c_coarse)), clamped to [0, 1]: the photo at the finer size, full
    detail, plus the coarse level's change to it, upsampled.

    Plain ``up(x)`` blurs the photo's edges, which costs relu4_2 content loss that the fine level
    then spends iterations restoring. The change is first averaged over 2x2 pixels: texture at
    the coarse level's Nyquist limit would arrive as mid-frequency mush that the fine level's
    content layer penalises, while the fine level makes its own texture anyway. What carries over
    is the large-scale structure, which is what the coarse levels are for.
    """
    h, w = x.shape[-2:]
    change = F.adaptive_avg_pool2d(x - content_coarse, ((h + 1) // 2, (w + 1) // 2))
    up = F.interpolate(change, size=content_fine.shape[-2:], mode="bicubic", align_corners=False)
    return (content_fine + up).clamp(0, 1)


def _initial(problem: LevelProblem, cfg: StylizeConfig, init: Image.Image | None) -> torch.Tensor:
    c = problem.content
    if init is not None:
        x = to_tensor(init.resize((c.shape[-1], c.shape[-2]), Image.Resampling.LANCZOS)).to(c.device)
        return color.luminance(x) if cfg.preserve_color == "luminance" else x
    if cfg.init == "noise":
        return torch.rand(c.shape, generator=torch.Generator().manual_seed(cfg.seed)).to(c.device)
    return c.clone()


def stylize_tensor(
    encoder: VGGEncoder,
    content: Image.Image,
    styles: Sequence[Image.Image],
    cfg: StylizeConfig,
    masks: Sequence[Image.Image] = (),
    init: Image.Image | None = None,
    *,
    callback: Callback | None = None,
    progress: bool = True,
    levels: Sequence[Level] | None = None,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> torch.Tensor:
    """The stylised image at ``cfg.size``: ``[1, 3, H, W]`` (``[1, 1, H, W]`` luminance under
    ``preserve_color='luminance'``; :func:`artforge.data.color.combine_luminance` finishes it).

    ``callback`` gets a :class:`Progress` after every iteration; when it returns True (or raises
    :class:`StopRequested`), or on Ctrl-C, the run ends with :class:`Interrupted` holding the image so
    far. ``progress``: a tqdm bar. ``levels`` replaces ``schedule(...)`` of ``cfg`` (``--init fast``, benchmarks),
    and ``bounds=None`` runs plain, unprojected Gatys (see :func:`optimize`)."""
    torch.manual_seed(cfg.seed)
    bf16 = cfg.precision == "bf16"
    levels = list(levels) if levels is not None else schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
    sizes = [resize_long(content, lv.long_side).size for lv in levels]
    n_tiles = [len(tiling.windows(h, w, cfg.tile_size, cfg.tile_overlap)) for w, h in sizes]
    total = sum(lv.iterations * n for lv, n in zip(levels, n_tiles, strict=True))
    bar = ProgressBar(total, progress) if progress else None
    listeners = [cb for cb in (bar, callback) if cb is not None]
    report = _Reporter(chain(listeners) if listeners else None, total, len(levels))
    x: torch.Tensor | None = None
    previous: LevelProblem | None = None
    try:
        for k, lv in enumerate(levels):
            problem = build_level(encoder, content, styles, cfg, lv.long_side, masks)
            if x is None or previous is None:
                x = _initial(problem, cfg, init)
            else:
                x = upsample_with_detail(x, previous.content, problem.content)
            previous = problem
            h, w = problem.content.shape[-2:]
            report.start_level(k, lv.iterations, len(problem.windows), (h, w))
            opt = (cfg.optimizer, cfg.learning_rate, report)
            if len(problem.windows) == 1:
                x = optimize(problem.loss(), x, lv.iterations, *opt, bounds=bounds, bf16=bf16)
                continue
            canvas = report.canvas = x.clone()
            for i, win in enumerate(problem.windows):
                report.tile = i
                y0, y1, x0, x1 = win
                patch = optimize(problem.loss(win), canvas[..., y0:y1, x0:x1], lv.iterations, *opt, bounds, bf16)
                tiling.paste(canvas, patch, win, cfg.tile_overlap)
            x, report.canvas, report.tile = canvas, None, 0
    except KeyboardInterrupt:
        if report.latest is None:
            raise
        raise Interrupted(report.latest.detach().clamp(0, 1)) from None
    finally:
        if bar is not None:
            bar.close()
    assert x is not None
    return x.clamp(0, 1)
