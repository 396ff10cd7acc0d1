"""Perceptual path length in W (Karras et al. 2019, eq. 3): E[d(g(lerp(w1, w2, t)), g(lerp(w1, w2, t + eps))) / eps^2].

t ~ U(0, 1) over the full path; d is artforge's LPIPS-like VGG16 distance (``objectives.feature_distance``, unit layer
weights, since LPIPS's learned weights are not available offline), so values compare only with artforge's own PPL.
As in the paper, the 1% lowest and highest distances are dropped before the mean.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from artforge.core import checkpoint as ckpt
from artforge.core.device import resolve_device
from artforge.core.errors import ArtforgeError
from artforge.nn.encoders import VGGEncoder
from artforge.nn.stylegan2 import Generator
from artforge.nn.weights import DEFAULT_WEIGHTS, encoder_for
from artforge.objectives.feature_distance import LPIPS_LAYERS, feature_distance
from artforge.train.build import model_from_checkpoint
from artforge.train.projection import vgg_input

EPSILON = 1e-4  # the paper's step in W
DEFAULT_PAIRS = 10_000


def trimmed_mean(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> float:
    """The mean of ``values`` between their ``low``-th (rounded down) and ``high``-th (rounded up) percentiles."""
    lo = np.percentile(values, low, method="lower")
    hi = np.percentile(values, high, method="higher")
    return float(values[(values >= lo) & (values <= hi)].mean())


@torch.no_grad()
def path_length_samples(
    g: Generator, encoder: VGGEncoder, n: int, seed: int = 0, batch: int = 32, epsilon: float = EPSILON,
    progress: bool = False,
) -> np.ndarray:  # fmt: skip
    """``n`` values of d(g(w_t), g(w_t+eps)) / eps^2, with constant noise and classes drawn uniformly."""
    if n < 2:
        raise ArtforgeError(f"--n must be at least 2 for ppl, got {n}")
    gen = torch.Generator().manual_seed(seed)
    dev = g.mapping.w_avg.device
    out: list[np.ndarray] = []
    for i in tqdm(range(0, n, batch), desc="ppl", unit="batch", disable=not progress):
        b = min(batch, n - i)
        z = torch.randn(2 * b, g.z_dim, generator=gen).to(dev)
        c = torch.randint(g.num_classes, (b,), generator=gen).repeat(2).to(dev) if g.num_classes else None
        t = torch.rand(b, 1, 1, generator=gen).to(dev)
        ws = g.mapping(z, c)  # [2b, num_ws, w_dim]
        w1, w2 = ws[:b], ws[b:]
        pair = torch.cat([w1.lerp(w2, t), w1.lerp(w2, t + epsilon)])  # [2b, num_ws, w_dim]
        img = g.synthesis(pair, noise_mode="const").float().add(1).div(2).clamp(0, 1)
        feats = encoder(vgg_input(img), LPIPS_LAYERS)
        d = feature_distance({k: v[:b] for k, v in feats.items()}, {k: v[b:] for k, v in feats.items()})  # [b]
        out.append((d / epsilon**2).double().cpu().numpy())
    return np.concatenate(out)


def perceptual_path_length(
    g: Generator, encoder: VGGEncoder, n: int = DEFAULT_PAIRS, seed: int = 0, batch: int = 32, progress: bool = False
) -> float:
    """PPL in W over ``n`` pairs (the paper uses 100,000; 10,000 by default here), 1-99% trimmed mean."""
    return trimmed_mean(path_length_samples(g, encoder, n, seed, batch, progress=progress))


def run_ppl(
    run: str | os.PathLike[str], n: int | None = None, seed: int = 0, device: str = "auto", batch: int = 32,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """``artforge eval RUN --metrics ppl``: PPL in W of a stylegan2 run's G_ema."""
    dev = resolve_device(device)
    path = ckpt.latest(run)
    g, cfg, _, _ = model_from_checkpoint(path, dev)
    if not isinstance(g, Generator):
        raise ArtforgeError(f"{path}: a {cfg.model}; ppl (perceptual path length in W) is for stylegan2 runs")
    count = n or DEFAULT_PAIRS
    value = perceptual_path_length(g, encoder_for(DEFAULT_WEIGHTS, "max", str(dev)), count, seed, batch, progress)
    return {"checkpoint": str(path), "ppl": value, "ppl_pairs": count, "ppl_epsilon": EPSILON, "seed": seed}
