"""Seconds per ``StyleGAN2Trainer.step()`` of the checkout that Python imports artforge from: Fashion-MNIST at 32 px,
the family's 32 px preset, batch 32, ADA at a fixed p = 0.2, after 4 warm-up steps. To compare two versions, run
it alternately from each, e.g. with an older commit checked out in /tmp/old (``git worktree add /tmp/old REV``):

    for r in 1 2 3; do PYTHONPATH=/tmp/old/src python docs/experiments/stylegan2_step_time.py 32
                       python docs/experiments/stylegan2_step_time.py 32; done

(docs/benchmarks.md, "Modulated convolution without the per-sample demodulation tensor").
"""

from __future__ import annotations

import sys
import time

import torch

import artforge
from artforge.families.config import TrainConfig
from artforge.families.registry import check, family
from artforge.train import build as training
from artforge.train.processes import init_processes


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    cfg = TrainConfig(model="stylegan2", data="fashion-mnist", resolution=32, batch=32, augment="fixed:0.2",
                      device="cpu")  # fmt: skip
    cfg = family("stylegan2").resolve(cfg)
    check(cfg)
    ds, images, labels = training.open_data(cfg)
    engine = training.build_trainer(cfg, init_processes(cfg.device), ds, images, labels)
    for _ in range(4):
        engine.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        engine.step()
    dt = (time.perf_counter() - t0) / steps
    print(f"{artforge.__file__}: {dt:.3f} s/step, {cfg.batch / dt:.1f} img/s, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
