"""StyleGAN2 engine overhead: artforge's ``StyleGAN2Trainer.step()`` against a plain single-file loop.

Target (issue 19): training img/s of the engine >= 1.0x the plain loop (``stylegan2_plain.PlainStyleGAN2``: the same
networks, losses and schedule, nothing else), measured in one process on the same data, threads and device, in
interleaved rounds (order alternating) after a warm-up. The engine is built exactly as ``artforge train --model
stylegan2`` builds it (``training.open_data`` + ``training.build_trainer``); the run-directory side of ``api.train``
(snapshots, logs) is not timed. A round has a multiple of 16 steps, so both loops run the same share of R1 and
path-length phases.

Full run:     python benchmarks/stylegan2_overhead.py
Quick check:  python benchmarks/stylegan2_overhead.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _common import machine_info, print_header, table
from artforge.core.device import resolve_device
from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.families.registry import check, family
from artforge.train import build as training
from artforge.train.processes import init_processes
from artforge.train.stylegan2 import StyleGAN2Trainer
from stylegan2_plain import PlainStyleGAN2

TARGET = 1.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=None, help="channel_max (the resolution's preset)")
    p.add_argument("--steps", type=int, default=16, help="steps per round (a multiple of 16)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="16 px, width 32, batch 16, 2 rounds")
    args = p.parse_args()
    if args.quick:
        args.resolution, args.width, args.batch, args.rounds = 16, 32, 16, 2
    print_header("StyleGAN2 engine overhead", machine_info(args.threads))
    dev = resolve_device(args.device)
    cfg = TrainConfig(model="stylegan2", data="fashion-mnist", resolution=args.resolution, batch=args.batch,
                      width=args.width, augment="fixed:0.2", device=str(dev))  # fmt: skip
    cfg = family("stylegan2").resolve(cfg)
    check(cfg)
    procs = init_processes(cfg.device)
    ds, images, labels = training.open_data(cfg)
    engine = training.build_trainer(cfg, procs, ds, images, labels)
    assert isinstance(engine, StyleGAN2Trainer)
    torch.manual_seed(cfg.seed)
    fam = family("stylegan2")
    assert isinstance(fam, GeneratorFamily)
    nets = fam.build(cfg, Shapes(ds.resolution, ds.channels, 0))
    plain = PlainStyleGAN2(nets["G"].to(dev), nets["D"].to(dev), images.to(dev), cfg.batch, engine.r1_gamma,
                           engine.ema_kimg, p=0.2, ada=False)  # fmt: skip
    g_params = sum(x.numel() for x in engine.g.parameters())
    d_params = sum(x.numel() for x in engine.d.parameters())
    print(f"models: G {g_params:,} params, D {d_params:,} params; {cfg.resolution} px, batch {cfg.batch}, p 0.2")

    def timed(step: object, n: int) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            step()  # type: ignore[operator]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return n * cfg.batch / (time.perf_counter() - t)

    methods = {"artforge engine": engine.step, "plain loop": plain.step}
    rates: dict[str, list[float]] = {k: [] for k in methods}
    for step in methods.values():
        timed(step, args.warmup)
    for r in range(args.rounds):
        for name in list(methods) if r % 2 == 0 else list(methods)[::-1]:
            rates[name].append(timed(methods[name], args.steps))
        print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{k} {v[-1]:.1f} img/s" for k, v in rates.items()),
              flush=True)  # fmt: skip
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratio = med["artforge engine"] / med["plain loop"]
    print(table(["loop", "median img/s", "rounds"], [[k, f"{med[k]:.2f}", " ".join(f"{x:.1f}" for x in rates[k])]
                                                      for k in methods]))  # fmt: skip
    print(f"artforge / plain = {ratio:.3f} (target >= {TARGET}): {'MET' if ratio >= TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
