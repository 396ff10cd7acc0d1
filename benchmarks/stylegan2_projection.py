"""StyleGAN2 projection quality: is the projection of a held-out image closer than the nearest random sample?

Target (issue 19): for 50 held-out test images, the projection (``artforge project``'s engine, default settings) is
closer in the projector's own VGG distance than the nearest of 10,000 random samples (psi 1, constant noise) for
>= 90% of them. PSNR (dB, on [0, 1] pixels) of the projection and of that nearest sample is reported too.

The run is any stylegan2 run dir or checkpoint (its data set's test split gives the targets, decoded at the run's
resolution and channels, as ``artforge project`` would see a saved image of them).

Full run:     python benchmarks/stylegan2_projection.py RUN
Quick check:  python benchmarks/stylegan2_projection.py RUN --quick   (5 images, 100 steps, 500 samples)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch

from _common import machine_info, print_header, table
from artforge.core import checkpoint as ckpt
from artforge.core.device import resolve_device
from artforge.data.datasets import held_out_split, open_dataset
from artforge.nn.stylegan2 import Generator
from artforge.nn.weights import DEFAULT_WEIGHTS, encoder_for
from artforge.objectives.feature_distance import LPIPS_LAYERS, feature_distance
from artforge.train.build import model_from_checkpoint
from artforge.train.projection import project, vgg_input

TARGET = 0.9


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float((a.float() - b.float()).square().mean())
    return 10 * math.log10(1 / max(mse, 1e-12))


@torch.no_grad()
def nearest_samples(g: Generator, enc: torch.nn.Module, targets: torch.Tensor, n: int, batch: int = 100
                    ) -> tuple[list[float], list[torch.Tensor]]:  # fmt: skip
    """For each target: the smallest distance to ``n`` random samples (seed 1) and that sample."""
    goal = enc(vgg_input(targets), LPIPS_LAYERS)
    best = [math.inf] * len(targets)
    best_img: list[torch.Tensor] = [targets[i] for i in range(len(targets))]
    gen = torch.Generator().manual_seed(1)
    dev = g.mapping.w_avg.device
    for i in range(0, n, batch):
        z = torch.randn(min(batch, n - i), g.z_dim, generator=gen).to(dev)
        img = g(z, noise_mode="const").float().add(1).div(2).clamp(0, 1)
        feats = enc(vgg_input(img), LPIPS_LAYERS)
        for t in range(len(targets)):
            d = feature_distance(feats, {k: v[t : t + 1] for k, v in goal.items()})  # [b]
            j = int(d.argmin())
            if float(d[j]) < best[t]:
                best[t], best_img[t] = float(d[j]), img[j]
    return best, best_img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="stylegan2 run dir or checkpoint")
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.images, args.steps, args.samples = 5, 100, 500
    print_header("StyleGAN2 projection vs nearest random sample", machine_info())
    dev = resolve_device(args.device)
    path = ckpt.latest(Path(args.run))
    g, cfg, meta, _ = model_from_checkpoint(path, dev)
    assert isinstance(g, Generator), "a stylegan2 run"
    ds = open_dataset(cfg.data, g.resolution, channels=g.channels, split=held_out_split(cfg.data),
                      max_images=args.images)  # fmt: skip
    targets = ds.tensors()[0].float().div(255).to(dev)  # [n, C, R, R] in [0, 1]
    enc = encoder_for(DEFAULT_WEIGHTS, "max", str(dev))
    print(f"checkpoint {path} (kimg {meta.get('kimg')}); {len(targets)} {cfg.data} test images; "
          f"{args.steps} steps; nearest of {args.samples} samples", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    near, near_img = nearest_samples(g, enc, targets, args.samples)
    t_near = time.perf_counter() - t0
    rows, wins, p_proj, p_near = [], 0, [], []
    t0 = time.perf_counter()
    for i in range(len(targets)):
        res = project(g, targets[i : i + 1], enc, steps=args.steps, seed=i)
        won = res.distance < near[i]
        wins += won
        p_proj.append(psnr(res.image[0], targets[i]))
        p_near.append(psnr(near_img[i], targets[i]))
        rows.append([i, f"{res.start_distance:.3f}", f"{res.distance:.3f}", f"{near[i]:.3f}", "yes" if won else "no",
                     f"{p_proj[-1]:.2f}", f"{p_near[-1]:.2f}"])  # fmt: skip
        print(f"image {i}: projection {res.distance:.3f} vs nearest sample {near[i]:.3f}", flush=True)
    t_proj = time.perf_counter() - t0
    print(table(["image", "start d", "projection d", "nearest sample d", "closer", "PSNR proj", "PSNR nearest"], rows))
    share = wins / len(targets)
    print(f"median PSNR: projection {statistics.median(p_proj):.2f} dB, nearest sample {statistics.median(p_near):.2f}")
    print(f"time: nearest samples {t_near:.0f} s, projections {t_proj:.0f} s ({t_proj / len(targets):.1f} s each)")
    print(f"projection closer for {wins}/{len(targets)} = {share:.0%} (target >= {TARGET:.0%}): "
          f"{'MET' if share >= TARGET else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
