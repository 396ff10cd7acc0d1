"""Why coarse-to-fine cannot shortcut single-scale L-BFGS's tail: the shape of the objective
between an iterate x_k and the final iterate x_N of one single-scale run.

Runs ``optimize`` at one level (``--size``, default 256 px) for N iterations from the content
image, keeps x_k for a few k, then evaluates the objective f (clamped to [0, 1], as the optimiser
projects) at:

- the chord x_k + a (x_N - x_k), a in {0, 1/4, 1/2, 3/4, 1}: convex along it if f falls steadily;
- x_k + low_s(d) and x_k + (d - low_s(d)), d = x_N - x_k, low_s = s x s average pooling followed by
  bilinear upsampling: the part of the remaining change that a level s times coarser can express,
  and the rest.

If the tail were slow low-frequency error (what multigrid and coarse-to-fine remove), x_k + low_s(d)
would already recover much of f(x_k) - f(x_N).

    PYTHONPATH=benchmarks python docs/experiments/c2f_tail.py   # 256 px, 500 iterations, ~6 min on 2 cores
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from _common import content_image, level_loss, machine_info, print_header, style_image, table
from artforge.api import encoder_for
from artforge.gatys.config import StylizeConfig
from artforge.gatys.optimize import optimize


def low_pass(d: torch.Tensor, s: int) -> torch.Tensor:
    """up(pool_s(d)): the component of d a level s times coarser can carry."""
    return F.interpolate(F.avg_pool2d(d, s, ceil_mode=True), size=d.shape[-2:], mode="bilinear", align_corners=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", default="astronaut")
    p.add_argument("--style", default="mountains")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=500)
    p.add_argument("--at", type=int, nargs="+", default=[100, 150, 200, 300])
    p.add_argument("--pools", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--quick", action="store_true", help="smoke test: 64 px, 30 iterations (figures mean nothing)")
    args = p.parse_args()
    if args.quick:
        args.size, args.iterations, args.at, args.pools = 64, 30, [10, 20], [2, 4]
    print_header("artforge diagnostic: the single-scale tail", machine_info())

    cfg = StylizeConfig(size=args.size, scales=1, device="cpu")
    encoder = encoder_for(cfg.weights, cfg.pooling, "cpu")
    loss, content = level_loss(encoder, content_image(args.content), style_image(args.style), args.size, cfg)
    keep = set(args.at)
    snaps: dict[int, torch.Tensor] = {}
    step = 0

    def on_step(parts: dict[str, torch.Tensor], x: torch.Tensor) -> None:
        nonlocal step
        step += 1
        if step in keep:
            snaps[step] = x.detach().clone()

    t0 = time.perf_counter()
    x_n = optimize(loss, content, args.iterations, on_step=on_step)
    print(f"single-scale {args.size} px, {args.iterations} iterations: {time.perf_counter() - t0:.1f} s")

    def f(x: torch.Tensor) -> float:
        with torch.no_grad():
            return float(loss(x.clamp(0, 1))[0])

    f_n = f(x_n)
    print(f"f(x_N) = {f_n:.4f}\n")
    alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    chord = [[k, *(f"{f(snaps[k] + a * (x_n - snaps[k])):.4f}" for a in alphas)] for k in args.at]
    print("objective along the chord x_k + a (x_N - x_k)")
    print(table(["k", *(f"a={a:g}" for a in alphas)], chord))
    rows = []
    recovered = []  # share of f(x_k) - f(x_N) that each coarse part recovers
    for k in args.at:
        d, f_k = x_n - snaps[k], f(snaps[k])
        row: list[object] = [k, f"{f_k:.4f}"]
        for s in args.pools:
            lo = low_pass(d, s)
            f_lo = f(snaps[k] + lo)
            row.append(f"{f_lo:.4f} / {f(snaps[k] + d - lo):.4f}")
            recovered.append((f_k - f_lo) / max(f_k - f_n, 1e-12))
        rows.append(row)
    print(f"\nobjective after the coarse part / the fine part of d = x_N - x_k (f(x_N) = {f_n:.4f})")
    print(table(["k", "f(x_k)", *(f"pool {s}: low / high" for s in args.pools)], rows))
    print(f"\nRESULT: the best coarse part of x_N - x_k recovers {max(recovered):+.0%} of f(x_k) - f(x_N)")


if __name__ == "__main__":
    main()
