"""What every training loop shares: processes (torchrun), batches, EMA, logs, Ctrl-C.

Multi-process training follows stylegan2-ada-pytorch: every rank builds the same model from the
same seed, computes gradients on its slice of the global batch, and the gradients are averaged
with one ``all_reduce`` per optimiser step (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist

from artforge.errors import ArtforgeError


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_processes(device: str) -> Processes:
    """Single process, or the torchrun process group (``RANK``/``WORLD_SIZE`` in the environment)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise ArtforgeError(f"--device {device}: no CUDA GPU is available; use --device cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(f"cuda:{local}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(dev)
    return Processes(dist.get_rank() if world > 1 else 0, world, dev)


def all_reduce_grads(params: Iterable[torch.nn.Parameter], world: int) -> None:
    """Average gradients over processes: one flattened all_reduce."""
    if world == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= world
    for g, v in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
        g.copy_(v.view_as(g))


class Batches:
    """Deterministic batches: epoch e is ``randperm(N)`` from seed (seed, e); step s maps to a
    fixed slice, so a resumed run sees exactly the images an uninterrupted one would."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        if n < batch:
            raise ArtforgeError(f"the data set has {n} images, fewer than --batch {batch}")
        self.n, self.batch, self.seed = n, batch, seed
        self.per_epoch = n // batch
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        return self._perm[k * self.batch : (k + 1) * self.batch]


def ema_beta(batch: int, ema_kimg: float) -> float:
    """Per-step decay with a half-life of ``ema_kimg`` thousand images (Karras et al.)."""
    return 0.5 ** (batch / (ema_kimg * 1000)) if ema_kimg > 0 else 0.0


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """theta_ema <- beta * theta_ema + (1 - beta) * theta; buffers are copied."""
    e_params: list[torch.Tensor] = list(ema.parameters())
    m_params: list[torch.Tensor] = list(model.parameters())
    torch._foreach_lerp_(e_params, m_params, 1.0 - beta)
    for eb, mb in zip(ema.buffers(), model.buffers(), strict=True):
        eb.copy_(mb)


class Stats:
    """Running sums kept on the device; read (one host sync) only at log ticks."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().float()
        self.sums[name] = self.sums[name] + v if name in self.sums else v.clone()
        self.counts[name] = self.counts.get(name, 0) + 1

    def read(self) -> dict[str, float]:
        if not self.sums:
            return {}
        names = list(self.sums)
        values = torch.stack([self.sums[k] for k in names]).cpu().tolist()
        out = {k: v / self.counts[k] for k, v in zip(names, values, strict=True)}
        self.sums.clear()
        self.counts.clear()
        return out


class Logger:
    """``stats.jsonl`` plus TensorBoard events (if the tensorboard package is installed)."""

    def __init__(self, run: Path, enabled: bool, purge_step: int | None = None) -> None:
        self.enabled = enabled
        self.jsonl = run / "stats.jsonl"
        self.tb: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run), purge_step=purge_step)
            except ImportError:
                print("artforge: tensorboard is not installed; pip install 'artforge[train]' for TensorBoard logs")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with open(self.jsonl, "a") as f:
            f.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """``[C, H, W]`` in [0, 1]."""
        if self.enabled and self.tb is not None:
            self.tb.add_image(tag, image, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class StopFlag:
    """First Ctrl-C (SIGINT) asks the loop to stop at the next step boundary; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        try:
            previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C is not ours to catch
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


class Clock:
    """img/s and ETA over the current tick."""

    def __init__(self) -> None:
        self.start = self.tick = time.perf_counter()

    def rate(self, images: int) -> float:
        now = time.perf_counter()
        r = images / max(now - self.tick, 1e-9)
        self.tick = now
        return r
