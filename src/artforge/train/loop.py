"""The loop every trainer shares: steps in kimg, log ticks, atomic snapshots, Ctrl-C, NaN guard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.data.grid import make_grid
from artforge.families.config import TrainConfig
from artforge.train.processes import Processes
from artforge.train.stats import Clock, Logger, Stats
from artforge.train.stop import StopFlag


class Trainer(Protocol):
    step_index: int
    stats: Stats

    def step(self) -> None: ...
    def samples(self) -> torch.Tensor: ...
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]: ...


class Hook(Protocol):
    """Work on some checkpoints (sample-quality metrics, see engines/metrics_hook.py): a step it is ``due`` at gets a
    snapshot; the call receives that checkpoint (on process 0) and returns scalars to log at its step."""

    def due(self, step: int, final: bool) -> bool: ...
    def __call__(self, checkpoint: Path) -> dict[str, float]: ...


class TrainingInterrupted(Exception):
    """Ctrl-C: the run stopped at a step boundary and ``checkpoint`` holds it."""

    def __init__(self, checkpoint: Path) -> None:
        super().__init__(str(checkpoint))
        self.checkpoint = checkpoint


def total_steps(cfg: TrainConfig) -> int:
    return max(1, math.ceil(cfg.kimg * 1000 / cfg.batch))


def every(kimg: float, batch: int) -> int:
    return max(1, round(kimg * 1000 / batch))


def grid_tensor(images: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W]`` in [0, 1] -> uint8 ``[C, H', W']`` grid for TensorBoard."""
    a = np.asarray(make_grid(images), dtype=np.uint8)
    a = a[:, :, None] if a.ndim == 2 else a
    return torch.from_numpy(a.copy()).permute(2, 0, 1)


def fit(
    trainer: Trainer, run: Path, cfg: TrainConfig, procs: Processes, progress: bool = True,
    meta: dict[str, Any] | None = None, hook: Hook | None = None,
) -> Path:  # fmt: skip
    """Train until ``cfg.kimg``; returns the last checkpoint written. ``meta`` goes into every checkpoint; ``hook``
    gets a snapshot at each step it is due (Ctrl-C snapshots excepted)."""
    steps, tick, snap = total_steps(cfg), every(cfg.tick_kimg, cfg.batch), every(cfg.snap_kimg, cfg.batch)
    kimg = lambda s: s * cfg.batch / 1000  # noqa: E731
    log = Logger(run, procs.main, purge_step=trainer.step_index or None)
    clock = Clock()
    existing = ckpt.checkpoints(run)
    last, saved_step = (existing[-1], trainer.step_index) if existing else (run, -1)
    tick_start = trainer.step_index
    bar = tqdm(
        total=steps * cfg.batch, initial=trainer.step_index * cfg.batch, unit="img", unit_scale=True,
        disable=not (progress and procs.main), dynamic_ncols=True, desc="train",
    )  # fmt: skip

    def log_tick() -> None:
        nonlocal tick_start
        values = trainer.stats.read()
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise ArtforgeError(
                f"{bad[0]} became NaN/inf by kimg {kimg(trainer.step_index):.2f}; training stopped. "
                f"Last good checkpoint: {last}. Try a lower --lr"
            )
        if trainer.step_index > tick_start:
            values["img_per_s"] = clock.rate((trainer.step_index - tick_start) * cfg.batch)
            bar.set_postfix({"img/s": f"{values['img_per_s']:.0f}"}, refresh=False)
        values["kimg"] = kimg(trainer.step_index)
        tick_start = trainer.step_index
        log.scalars(trainer.step_index, values)

    def snapshot() -> None:
        nonlocal last, saved_step
        log_tick()  # also the NaN guard: a bad state is never saved
        path = run / f"checkpoint-{trainer.step_index:08d}.safetensors"
        if procs.main:
            tensors, state_meta = trainer.state()
            ckpt.save(path, tensors, {**state_meta, **(meta or {}), "config": cfg.to_dict(), "model": cfg.model})
            grid = trainer.samples()
            make_grid(grid).save(run / f"samples-{trainer.step_index:08d}.png")
            log.image("samples", grid_tensor(grid), trainer.step_index)
            for old in ckpt.checkpoints(run)[: -cfg.keep]:
                old.unlink(missing_ok=True)
        last, saved_step = path, trainer.step_index

    def measure() -> None:
        assert hook is not None
        if procs.main:  # the other processes wait for it in their next all_reduce
            values = {**hook(last), "kimg": kimg(trainer.step_index)}
            log.scalars(trainer.step_index, values)
            if progress:
                shown = ", ".join(f"{k.removeprefix('metrics/')} {v:.4g}" for k, v in values.items() if k != "kimg")
                bar.write(f"kimg {values['kimg']:g}: {shown}")

    flag = StopFlag()
    try:
        with flag.installed():
            while trainer.step_index < steps:
                trainer.step()
                bar.update(cfg.batch)
                due = hook is not None and hook.due(trainer.step_index, trainer.step_index == steps)
                if trainer.step_index % snap == 0 or trainer.step_index == steps or due:
                    snapshot()
                    if due:
                        measure()
                elif trainer.step_index % tick == 0:
                    log_tick()
                if flag.requested:
                    if saved_step != trainer.step_index:
                        snapshot()
                    raise TrainingInterrupted(last)
    finally:
        bar.close()
        log.close()
    return last
