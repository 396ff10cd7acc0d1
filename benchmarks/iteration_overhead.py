"""Per-iteration overhead of artforge's Gatys loop over a bare VGG forward+backward.

Measured, in one process, on the same CPU threads and the same [1, 3, H, W] input size
(content photo resized to ``--size`` px on its long side, default 512):

- bare:     ``enc(x, layers)`` for the union of the default content and style layers
            (relu1_1..relu5_1, relu4_2), loss = sum of the outputs' means, ``loss.backward()``;
            ``x`` requires grad, no optimizer.
- artforge: ``stylize_tensor(..., scales=1)``, artforge's own loop, with real targets (Gram
            matrices of a bundled painting, content features of the photo); one loss evaluation per
            iteration. An iteration's time is the interval between two calls of its per-iteration
            callback, so building the targets (before the first call) is not timed.

Both are warmed up, then timed in interleaved rounds (order alternating per round); every single
iteration is timed and the median per-iteration time of each is reported.

Target: artforge s/iter / bare s/iter <= 1.15.

Full run (~3 min on 2 cores):  python benchmarks/iteration_overhead.py
Quick check (seconds):         python benchmarks/iteration_overhead.py --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

import torch
from PIL import Image

from _common import (
    CONTENT_PHOTOS,
    STYLE_PAINTINGS,
    content_image,
    level_loss,
    machine_info,
    print_header,
    style_image,
    table,
)
from artforge.api import encoder_for
from artforge.gatys.config import StylizeConfig
from artforge.gatys.pyramid import Progress, stylize_tensor
from artforge.nn.encoders import VGGEncoder
from artforge.objectives.perceptual import GatysLoss

TARGET = 1.15


def time_bare(encoder: VGGEncoder, layers: list[str], x: torch.Tensor, n: int, bf16: bool = False) -> list[float]:
    """Seconds of each of ``n`` bare forward+backward passes (the forward under bf16 autocast if ``bf16``)."""
    out: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        xi = x.detach().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            feats = encoder(xi, layers)
        loss = sum((f.mean() for f in feats.values()), torch.zeros(()))
        loss.backward()
        out.append(time.perf_counter() - t0)
    return out


def time_artforge(
    encoder: VGGEncoder, content: Image.Image, style: Image.Image, cfg: StylizeConfig, n: int
) -> list[float]:
    """Seconds of each of ``n`` iterations of ``stylize_tensor`` at one scale: the intervals between
    its callback's ``n + 1`` calls (the first call follows building the targets, which is not timed)."""
    stamps: list[float] = []

    def on_progress(_p: Progress) -> None:
        stamps.append(time.perf_counter())

    cfg = dataclasses.replace(cfg, iterations=n + 1, scales=1)
    stylize_tensor(encoder, content, [style], cfg, callback=on_progress, progress=False)
    return [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)]


def time_loss_only(loss_fn: GatysLoss, x0: torch.Tensor, n: int, bf16: bool = False) -> list[float]:
    """Seconds of each of ``n`` GatysLoss forward+backward passes without an optimizer (--breakdown)."""
    out: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        xi = x0.detach().clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = loss_fn(xi)
        loss.backward()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=512, help="long side of the input, px (default 512)")
    p.add_argument("--iterations", type=int, default=10, help="timed iterations per method per round (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations of each method first (default 2)")
    p.add_argument("--content", default="astronaut", help=f"skimage photo ({', '.join(CONTENT_PHOTOS)}) or path")
    p.add_argument("--style", default="mountains", help=f"bundled painting ({', '.join(STYLE_PAINTINGS)}) or path")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--weights", default="vgg16-hed")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="both methods' VGG forward in fp32, or both under bf16 autocast (default fp32)")  # fmt: skip
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--breakdown", action="store_true", help="also time GatysLoss fwd+bwd without the optimizer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="64 px, 3 iterations, 2 rounds, 1 warm-up: a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.iterations, args.rounds, args.warmup = 64, 3, 2, 1

    torch.manual_seed(args.seed)
    print_header("artforge benchmark: iteration overhead (Gatys loop vs bare VGG fwd+bwd)", machine_info(args.threads))

    cfg = StylizeConfig(
        size=args.size, scales=1, optimizer=args.optimizer, weights=args.weights, device="cpu", precision=args.precision
    )
    encoder = encoder_for(cfg.weights, cfg.pooling, "cpu")
    layers = sorted(set(cfg.content_layers) | set(cfg.style_layers))
    content, style = content_image(args.content), style_image(args.style)
    t0 = time.perf_counter()
    loss_fn, x0 = level_loss(encoder, content, style, args.size, cfg)
    t_targets = time.perf_counter() - t0
    assert loss_fn.layers == layers, (loss_fn.layers, layers)
    x_bare = x0.clone()  # same shape and values as the optimiser's start
    h, w = x0.shape[-2:]
    print(f"input      : [1, 3, {h}, {w}]  content={args.content}  style={args.style}")
    print(f"layers     : {', '.join(layers)}")
    print(f"optimizer  : {args.optimizer}  (artforge.gatys.pyramid.stylize_tensor, one loss evaluation per iteration)")
    print(f"precision  : {args.precision} (both methods)")
    print(f"targets    : {t_targets:.2f} s to build (not timed below)")
    print(f"protocol   : warm-up {args.warmup}/method, then {args.rounds} rounds x {args.iterations} iterations/method")
    print(flush=True)

    bf16 = args.precision == "bf16"
    methods: dict[str, Callable[[int], list[float]]] = {
        "bare": lambda n: time_bare(encoder, layers, x_bare, n, bf16),
        "artforge": lambda n: time_artforge(encoder, content, style, cfg, n),
    }
    if args.breakdown:
        methods["loss-only"] = lambda n: time_loss_only(loss_fn, x0, n, bf16)
    for fn in methods.values():
        if args.warmup:
            fn(args.warmup)

    samples: dict[str, list[float]] = {k: [] for k in methods}
    per_round: list[dict[str, float]] = []
    names = list(methods)
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        this: dict[str, float] = {}
        for name in order:
            times = methods[name](args.iterations)
            samples[name] += times
            this[name] = statistics.median(times)
        per_round.append(this)
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{k}={this[k]:.4f}" for k in names) + " s/iter (median)")
        sys.stdout.flush()

    print()
    rows = [
        [f"round {i + 1}", *(f"{pr[k]:.4f}" for k in names), f"{pr['artforge'] / pr['bare']:.3f}"]
        for i, pr in enumerate(per_round)
    ]
    med = {k: statistics.median(v) for k, v in samples.items()}
    mean = {k: statistics.fmean(v) for k, v in samples.items()}
    mins = {k: min(v) for k, v in samples.items()}
    rows.append(["median (all iters)", *(f"{med[k]:.4f}" for k in names), f"{med['artforge'] / med['bare']:.3f}"])
    rows.append(["mean (all iters)", *(f"{mean[k]:.4f}" for k in names), f"{mean['artforge'] / mean['bare']:.3f}"])
    rows.append(["min (all iters)", *(f"{mins[k]:.4f}" for k in names), f"{mins['artforge'] / mins['bare']:.3f}"])
    print(f"seconds per iteration at {h}x{w} px ({len(samples['bare'])} iterations per method):")
    print(table(["", *(f"{k} s/iter" for k in names), "artforge/bare"], rows))
    ratio = med["artforge"] / med["bare"]
    print()
    if args.breakdown:
        print(f"loss-only/bare = {med['loss-only'] / med['bare']:.3f}  (GatysLoss terms + Gram matrices)")
        print(f"artforge/loss-only = {med['artforge'] / med['loss-only']:.3f}  (optimizer step, clone, callbacks)")
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    note = "  (--quick: tiny size, not meaningful)" if args.quick else ""
    print(f"RESULT: artforge/bare = {ratio:.3f} (median s/iter) ; target <= {TARGET:.2f} : {verdict}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
