"""StyleGAN2 training speed on one GPU (issue 19, "What it must reach", item 4), as one short script.

Target: s/kimg at 128 px <= 3.2 on one H200, a quarter of NVlabs' published 12.8 s/kimg for 128 px on one V100
(stylegan2-ada-pytorch, its default ``--cfg auto``), without custom CUDA ops. Also reported: kimg per minute on
Fashion-MNIST at 32 px with the family's defaults.

What is timed: ``StyleGAN2Trainer.step()``, the step that ``artforge train --model stylegan2`` runs (the engine's
overhead against a plain loop is ``stylegan2_overhead.py``'s business), with everything the paper's training does:
G and D main losses, lazy R1 every 16 and path length every 4 steps, style mixing (p 0.9), G_ema, ADA, under
``--amp auto`` (bf16 autocast on CUDA) and channels-last. After ``--warmup`` steps, ``--rounds`` rounds of 16 steps
(one whole lazy-regulariser cycle each), synchronised around each round; the median round gives s/kimg.

Cases:
1. ``128 px, NVlabs auto``: the network of stylegan2-ada-pytorch's ``--cfg auto`` at 128 px (channel_base 16384,
   channel_max 512, 2 mapping layers, batch 32, R1 gamma 0.0002 * 128^2 / 32), on 512 synthetic 128 px RGB images
   (smooth random fields: a step's cost does not depend on the pixels). ADA at a fixed p = 0.2, so that both this
   run and a repeat of it augment equally (ADA's p depends on the data). **The target.**
2. ``128 px, artforge preset``: the same with the widths and 8 mapping layers that ``artforge train --resolution
   128`` builds (artforge's 128 px preset is half as wide as NVlabs' below 512 channels).
3. ``32 px Fashion-MNIST``: ``artforge train --model stylegan2 --data fashion-mnist`` as built (32 px preset,
   batch 32, ADA from p = 0), the real data set.

On a machine lent by the device tool (nothing can be fetched there; its python3 has torch), from the repo root here:
    echo /.gpu-data/ >> .git/info/exclude; mkdir -p .gpu-data; cp /usr/share/datasets/fashion-mnist/*.gz .gpu-data/
    run(command="PYTHONPATH=src python3 benchmarks/stylegan2_gpu.py --fashion-mnist .gpu-data --json \
        $OUT/stylegan2_gpu.json", carry=[".gpu-data"], timeout_s=420)
It takes about a minute of GPU time after start-up (three cases of 4 + 4 x 16 steps each).
The same carried folder serves items 1 and 2 on a GPU (device-independent quality per kimg; minutes each there):
    PYTHONPATH=src python3 benchmarks/stylegan2_quality.py --device cuda --data fashion-mnist:.gpu-data
Quick check on a CPU (16 px, tiny widths; its figures mean nothing):
    python benchmarks/stylegan2_gpu.py --quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn import functional as F

from _common import machine_info, print_header, table
from artforge.core.device import resolve_device
from artforge.families.config import TrainConfig
from artforge.families.registry import check, family
from artforge.families.stylegan2 import widths
from artforge.nn.stylegan2 import Discriminator, Generator
from artforge.train import build as training
from artforge.train.processes import Processes, init_processes
from artforge.train.stylegan2 import StyleGAN2Trainer

TARGET_S_PER_KIMG = 3.2  # 12.8 s/kimg (NVlabs, one V100, 128 px) / 4
NVLABS_AUTO_128 = (16384, 512, 2)  # train.py --cfg auto at 128 px: channel_base, channel_max, mapping layers


def synthetic_images(n: int, resolution: int, seed: int) -> torch.Tensor:
    """``n`` smooth random RGB images, uint8 ``[n, 3, R, R]``: 8x8 noise upsampled bicubically."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g)
    x = F.interpolate(low, size=(resolution, resolution), mode="bicubic", align_corners=False)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_steps(engine: StyleGAN2Trainer, dev: torch.device, warmup: int, rounds: int) -> list[float]:
    """Seconds of each round of 16 steps, after ``warmup`` steps."""
    for _ in range(warmup):
        engine.step()
    out = []
    for _ in range(rounds):
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(16):
            engine.step()
        sync(dev)
        out.append(time.perf_counter() - t0)
    return out


def synthetic_engine(cfg: TrainConfig, procs: Processes, n_images: int, base: int, cmax: int) -> StyleGAN2Trainer:
    """The trainer of ``artforge train`` around networks of widths (``base``, ``cmax``), on synthetic RGB images."""
    r = cfg.resolution or 128
    images = synthetic_images(n_images, r, cfg.seed)
    torch.manual_seed(cfg.seed)
    g = Generator(512, 512, r, 3, 0, channel_base=base, channel_max=cmax, mapping_layers=cfg.mapping_layers)
    d = Discriminator(r, 3, 0, channel_base=base, channel_max=cmax)
    return StyleGAN2Trainer(cfg, family("stylegan2"), g, d, images, None, 0, procs)


def built_engine(cfg: TrainConfig, procs: Processes) -> StyleGAN2Trainer:
    """The trainer exactly as ``artforge train`` builds it from ``cfg``."""
    cfg = family("stylegan2").resolve(cfg)
    check(cfg)
    ds, images, labels = training.open_data(cfg)
    engine = training.build_trainer(cfg, procs, ds, images, labels)
    assert isinstance(engine, StyleGAN2Trainer)
    return engine


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fashion-mnist", default=None, help="folder of the Fashion-MNIST idx files (default: the usual)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--quick", action="store_true", help="16 px, tiny widths, batch 8, one round (a CPU check)")
    args = p.parse_args()
    dev = resolve_device(args.device)
    print_header("StyleGAN2 on one GPU (issue 19, item 4)", machine_info(None))
    if dev.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(dev)}")
    elif not args.quick:
        print("no CUDA device: these figures are CPU figures, not the target's")
    res, batch, rounds = (16, 8, 1) if args.quick else (128, args.batch, args.rounds)
    nv_base, nv_max, nv_mapping = (256, 32, 2) if args.quick else NVLABS_AUTO_128
    pr_base, pr_max = widths(res, 32 if args.quick else None)  # what `artforge train` builds at res
    fm = "fashion-mnist" + (f":{args.fashion_mnist}" if args.fashion_mnist else "")
    base = TrainConfig(model="stylegan2", data=fm, resolution=res, batch=batch, augment="fixed:0.2",
                       device=str(dev), amp="auto")  # fmt: skip
    procs = init_processes(base.device)
    cases = [
        (f"{res} px, NVlabs auto (the target)",
         lambda: synthetic_engine(replace(base, mapping_layers=nv_mapping), procs, 512, nv_base, nv_max)),
        (f"{res} px, artforge preset", lambda: synthetic_engine(base, procs, 512, pr_base, pr_max)),
        ("32 px Fashion-MNIST, defaults", lambda: built_engine(
            replace(base, resolution=16 if args.quick else 32, augment=None, width=32 if args.quick else None), procs)),
    ]  # fmt: skip
    rows, out = [], {}
    for name, make in cases:
        engine = make()
        n_g = sum(x.numel() for x in engine.g.parameters())
        n_d = sum(x.numel() for x in engine.d.parameters())
        secs = time_steps(engine, dev, args.warmup, rounds)
        s_per_kimg = statistics.median(secs) / (16 * engine.cfg.batch / 1000)
        mem = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
        out[name] = {"s_per_kimg": s_per_kimg, "kimg_per_min": 60 / s_per_kimg, "rounds_s": secs,
                     "batch": engine.cfg.batch, "G_params": n_g, "D_params": n_d, "peak_gib": mem}  # fmt: skip
        rows.append([name, f"{n_g / 1e6:.2f} M / {n_d / 1e6:.2f} M", engine.cfg.batch, f"{s_per_kimg:.3f}",
                     f"{60 / s_per_kimg:.1f}", f"{mem:.1f}"])  # fmt: skip
        del engine
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
    print(table(["case", "G / D params", "batch", "s/kimg", "kimg/min", "peak GiB"], rows))
    target = out[cases[0][0]]["s_per_kimg"]
    verdict = "no verdict: not a GPU run at 128 px"
    if dev.type == "cuda" and not args.quick:
        verdict = "MET" if target <= TARGET_S_PER_KIMG else "NOT MET"
    print(f"\ntarget: s/kimg at 128 px <= {TARGET_S_PER_KIMG} on one H200: {target:.3f} -> {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"device": str(dev), "cases": out}, indent=1))


if __name__ == "__main__":
    main()
