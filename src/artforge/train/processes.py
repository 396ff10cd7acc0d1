"""Processes: one, or the torchrun group; gradients averaged with one all_reduce per step (as in
stylegan2-ada-pytorch: every rank builds the same model from the same seed and takes its slice of the batch)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from artforge.core.errors import ArtforgeError


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
