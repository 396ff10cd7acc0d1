"""VAE training (Kingma & Welling 2014): maximise ELBO = E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from artforge.core import checkpoint as ckpt
from artforge.families.base import Family
from artforge.families.config import TrainConfig
from artforge.objectives.likelihood import elbo
from artforge.train.batches import Batches
from artforge.train.processes import Processes, all_reduce_grads
from artforge.train.stats import Stats

GRID = 64


class VAETrainer:
    """One Adam step on -ELBO per ``step()``; eps of the reparameterisation from the global RNG."""

    def __init__(
        self,
        cfg: TrainConfig,
        family: Family,
        model: nn.Module,
        data: torch.Tensor,
        labels: torch.Tensor | None,
        procs: Processes,
    ) -> None:
        self.cfg, self.procs = cfg, procs
        self.model = model.to(procs.device)
        lr, betas = family.adam(cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, betas=betas, foreach=True)
        self.data, self.labels = data, labels
        self.batches = Batches(len(data), cfg.batch, cfg.seed)
        self.step_index = 0
        self.stats = Stats()
        z_dim = self.z_dim = int(getattr(model, "z_dim"))  # noqa: B009
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)  # eps of the global batch, sliced per process
        k = int(getattr(model, "num_classes", 0) or 0)
        fixed = torch.Generator().manual_seed(cfg.seed + 2)
        self.grid_z = torch.randn(GRID, z_dim, generator=fixed).to(procs.device)
        self.grid_c = torch.arange(GRID).remainder(k).to(procs.device) if k else None

    def _local(self, t: torch.Tensor) -> torch.Tensor:
        per = self.cfg.batch // self.procs.world
        return t[self.procs.rank * per : (self.procs.rank + 1) * per]

    def step(self) -> None:
        idx = self._local(self.batches.indices(self.step_index))
        x = self.data[idx].to(self.procs.device).float().div_(255)  # [B, C, R, R] in [0, 1]
        c = self.labels[idx].to(self.procs.device) if self.labels is not None else None
        eps = self._local(torch.randn(self.cfg.batch, self.z_dim, generator=self.noise)).to(self.procs.device)
        m = self.cfg.accumulate
        self.opt.zero_grad(set_to_none=True)
        chunks = zip(x.chunk(m), [None] * m if c is None else c.chunk(m), eps.chunk(m), strict=True)
        for xm, cm, em in chunks:
            value, log_px, kl = elbo(self.model, xm, cm, beta=self.cfg.beta, eps=em)  # type: ignore[arg-type]
            loss = -value.mean()
            (loss / m).backward()
            self.stats.add("loss/neg_elbo", loss)
            self.stats.add("elbo/log_px", log_px.mean())
            self.stats.add("elbo/kl", kl.mean())
        all_reduce_grads(self.model.parameters(), self.procs.world)
        self.opt.step()
        self.step_index += 1

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        self.model.eval()
        out = self.model.mean(self.grid_z, self.grid_c).float().clamp(0, 1).cpu()  # type: ignore[operator]
        self.model.train()
        return out  # type: ignore[no-any-return]

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        t = ckpt.module_tensors("VAE", self.model)
        to, groups = ckpt.optimizer_tensors("opt", self.opt)
        t.update(to | ckpt.rng_tensors({"noise": self.noise}))
        return t, {"step": self.step_index, "kimg": self.step_index * self.cfg.batch / 1000, "groups": {"opt": groups}}

    def restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], where: Path) -> None:
        ckpt.load_module("VAE", self.model, tensors, where)
        ckpt.load_optimizer("opt", self.opt, tensors, meta["groups"]["opt"])
        ckpt.restore_rng(tensors, {"noise": self.noise})
        self.step_index = int(meta["step"])
