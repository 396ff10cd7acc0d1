"""Deterministic batches: epoch e is randperm(N) seeded by (seed, e), so a resumed run sees the same images."""

from __future__ import annotations

import torch

from artforge.core.errors import ArtforgeError


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
