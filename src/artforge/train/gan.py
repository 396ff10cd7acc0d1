"""GAN training (Goodfellow et al. 2014: min_G max_D V(D, G)), with the DCGAN recipe of Radford
et al. 2016 by default: alternating D and G Adam steps, EMA generator, exact resume, torchrun."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from artforge.core import checkpoint as ckpt
from artforge.families.base import Family
from artforge.families.config import TrainConfig
from artforge.objectives.adversarial import d_loss, g_loss, gradient_penalty
from artforge.train.batches import Batches
from artforge.train.ema import ema_beta, ema_update
from artforge.train.processes import Processes, all_reduce_grads
from artforge.train.stats import Stats

GRID = 64  # fixed-z samples in the snapshot grid


def amp_dtype(cfg: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, whether a GradScaler is needed)."""
    if device.type != "cuda" or cfg.amp == "none":
        return None, False
    if cfg.amp == "fp16" or (cfg.amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16, True
    return torch.bfloat16, False


class GANTrainer:
    """Owns G, D, G_ema, their optimisers and every RNG; ``step()`` is one D and one G update."""

    def __init__(
        self, cfg: TrainConfig, family: Family, g: nn.Module, d: nn.Module, data: torch.Tensor,
        labels: torch.Tensor | None, z_dim: int, num_classes: int, procs: Processes,
    ) -> None:  # fmt: skip
        self.cfg, self.procs, self.z_dim, self.num_classes = cfg, procs, z_dim, num_classes
        dev = procs.device
        fmt = torch.channels_last if cfg.channels_last and data.dim() == 4 else torch.contiguous_format
        self.g, self.d = g.to(dev, memory_format=fmt), d.to(dev, memory_format=fmt)  # type: ignore[call-overload]
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        lr, betas = family.adam(cfg)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=betas, foreach=True)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=betas, foreach=True)
        if dev.type == "cuda" and data.nbytes < 2**31:  # the whole data set on the GPU: no per-step copies
            data, labels = data.to(dev), None if labels is None else labels.to(dev)
        self.data, self.labels = data, labels  # uint8 [N, C, R, R]; int64 [N] or None
        self.batches = Batches(len(data), cfg.batch, cfg.seed)
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)  # z, fake labels, GP mixing
        self.step_index = 0
        self.beta = ema_beta(cfg.batch, family.ema_kimg(cfg))
        self.autocast, scaled = amp_dtype(cfg, dev)
        self.scaler_g = torch.amp.GradScaler("cuda", enabled=scaled)
        self.scaler_d = torch.amp.GradScaler("cuda", enabled=scaled)
        self.stats = Stats()
        self.fmt = fmt
        fixed = torch.Generator().manual_seed(cfg.seed + 2)
        self.grid_z = torch.randn(GRID, z_dim, generator=fixed).to(dev)
        self.grid_c = torch.arange(GRID).remainder(num_classes).to(dev) if num_classes else None

    # ------------------------------------------------------------ one step

    def _ctx(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.autocast)

    def _local(self, t: torch.Tensor) -> torch.Tensor:
        """This process's slice of a global-batch tensor."""
        per = self.cfg.batch // self.procs.world
        return t[self.procs.rank * per : (self.procs.rank + 1) * per]

    def _real(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        dev = self.procs.device
        idx = idx.to(self.data.device)
        x = self.data[idx].to(dev).float().div_(127.5).sub_(1)  # [B, C, R, R] in [-1, 1]
        x = x.contiguous(memory_format=self.fmt)
        c = self.labels[idx].to(dev) if self.labels is not None else None
        return x, c

    def step(self) -> None:
        """One D update on real and G(z), then one G update through the same fakes (the DCGAN
        recipe: G runs forward once per step; D's update does not change G(z))."""
        cfg, dev, b = self.cfg, self.procs.device, self.cfg.batch
        real, c_real = self._real(self._local(self.batches.indices(self.step_index)))
        z = self._local(torch.randn(b, self.z_dim, generator=self.noise)).to(dev)
        c_fake: torch.Tensor | None = None
        if self.num_classes:
            c_fake = self._local(torch.randint(self.num_classes, (b,), generator=self.noise)).to(dev)
            if cfg.loss == "wgan-gp":  # one label per real/fake interpolate in the gradient penalty
                c_fake = c_real
        eps = self._local(torch.rand(b, 1, 1, 1, generator=self.noise)).to(dev) if cfg.loss == "wgan-gp" else None
        m = cfg.accumulate
        split = lambda t: [None] * m if t is None else list(t.chunk(m))  # noqa: E731

        # Discriminator: maximise V(D, G) (minimise d_loss).
        self.opt_d.zero_grad(set_to_none=True)
        fakes: list[torch.Tensor] = []
        for x, cr, zm, cf, e in zip(split(real), split(c_real), split(z), split(c_fake), split(eps), strict=True):
            with self._ctx():
                fake = self.g(zm, cf)
                fakes.append(fake)
                real_logits, fake_logits = self.d(x, cr), self.d(fake.detach(), cf)
                loss = d_loss(cfg.loss, real_logits.float(), fake_logits.float())
                if e is not None:
                    assert x is not None
                    loss = loss + cfg.gp_weight * gradient_penalty(self.d, x, fake.detach(), cf, e)
            self.scaler_d.scale(loss / m).backward()
            self.stats.add("loss/D", loss)
            self.stats.add("D/real", real_logits.float().mean())
            self.stats.add("D/fake", fake_logits.float().mean())
        all_reduce_grads(self.d.parameters(), self.procs.world)
        self.stats.add("grad_norm/D", _grad_norm(self.d))
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()

        # Generator: non-saturating (bce) or -D(G(z)) (hinge, wgan-gp), through the updated D.
        self.opt_g.zero_grad(set_to_none=True)
        self.d.requires_grad_(False)
        for fake, cf in zip(fakes, split(c_fake), strict=True):
            with self._ctx():
                loss = g_loss(cfg.loss, self.d(fake, cf).float())
            self.scaler_g.scale(loss / m).backward()
            self.stats.add("loss/G", loss)
        self.d.requires_grad_(True)
        all_reduce_grads(self.g.parameters(), self.procs.world)
        self.stats.add("grad_norm/G", _grad_norm(self.g))
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        ema_update(self.g_ema, self.g, self.beta)
        self.step_index += 1

    @torch.no_grad()
    def standing_stats(self, batches: int = 16) -> None:
        """Re-estimate G_ema's BatchNorm statistics from G_ema itself (BigGAN's "standing stats").

        G_ema's weights are an average, so the running statistics it copies from G do not describe
        its own activations, and eval-mode samples come out washed out. A fixed noise stream keeps
        this deterministic and leaves the training RNGs untouched.
        """
        norms = [m for m in self.g_ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        gen = torch.Generator().manual_seed(self.cfg.seed + 3)
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        self.g_ema.train()
        for _ in range(batches):
            z = torch.randn(self.cfg.batch, self.z_dim, generator=gen).to(self.procs.device)
            c = (
                torch.randint(self.num_classes, (self.cfg.batch,), generator=gen).to(self.procs.device)
                if self.num_classes
                else None
            )
            self.g_ema(z, c)
        self.g_ema.eval()
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """The fixed-z grid from G_ema, ``[GRID, C, R, R]`` in [0, 1]."""
        out: torch.Tensor = self.g_ema(self.grid_z, self.grid_c).float().add(1).div(2).clamp(0, 1).cpu()
        return out

    # ------------------------------------------------------------ state

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        self.standing_stats()  # what is saved (and sampled next) is G_ema with its own statistics
        t: dict[str, torch.Tensor] = {}
        for name, mod in (("G", self.g), ("D", self.d), ("G_ema", self.g_ema)):
            t.update(ckpt.module_tensors(name, mod))
        tg, groups_g = ckpt.optimizer_tensors("opt_G", self.opt_g)
        td, groups_d = ckpt.optimizer_tensors("opt_D", self.opt_d)
        t.update(tg | td | ckpt.rng_tensors({"noise": self.noise}))
        meta = {
            "step": self.step_index, "kimg": self.step_index * self.cfg.batch / 1000,
            "groups": {"opt_G": groups_g, "opt_D": groups_d},
            "scalers": {"G": self.scaler_g.state_dict(), "D": self.scaler_d.state_dict()},
        }  # fmt: skip
        return t, meta

    def restore(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], where: Path) -> None:
        for name, mod in (("G", self.g), ("D", self.d), ("G_ema", self.g_ema)):
            ckpt.load_module(name, mod, tensors, where)
        ckpt.load_optimizer("opt_G", self.opt_g, tensors, meta["groups"]["opt_G"])
        ckpt.load_optimizer("opt_D", self.opt_d, tensors, meta["groups"]["opt_D"])
        ckpt.restore_rng(tensors, {"noise": self.noise})
        if meta.get("scalers"):
            self.scaler_g.load_state_dict(meta["scalers"]["G"])
            self.scaler_d.load_state_dict(meta["scalers"]["D"])
        self.step_index = int(meta["step"])


def _grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    norm: torch.Tensor = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    return norm
