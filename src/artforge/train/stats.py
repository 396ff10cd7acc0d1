"""Training statistics: device-side running means, stats.jsonl + TensorBoard, img/s (a host sync only per tick)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch


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
                from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 - lazy: optional [train] extra; pulls in tensorboard

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


class Clock:
    """img/s and ETA over the current tick."""

    def __init__(self) -> None:
        self.start = self.tick = time.perf_counter()

    def rate(self, images: int) -> float:
        now = time.perf_counter()
        r = images / max(now - self.tick, 1e-9)
        self.tick = now
        return r
