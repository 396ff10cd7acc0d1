"""StyleGAN2-ADA training (Karras et al. 2020a, 2020b): non-saturating logistic loss, lazy R1 every 16 and path-length
regularisation every 4 minibatches, style mixing, G_ema with ramp-up, adaptive augmentation; exact resume, torchrun."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from artforge.core import checkpoint as ckpt
from artforge.families.base import Family
from artforge.families.config import TrainConfig
from artforge.nn.augment import AugmentParams, AugmentPipe, ada_update, parse_augment
from artforge.nn.stylegan2 import Generator
from artforge.objectives.regularizers import path_lengths, path_noise, r1_gamma_auto, r1_penalty
from artforge.train.batches import Batches
from artforge.train.ema import ema_update
from artforge.train.gan import GRID, amp_dtype
from artforge.train.processes import Processes, all_reduce_grads
from artforge.train.stats import Stats

R1_INTERVAL = 16  # lazy regularisation (the paper's section 3.1)
PL_INTERVAL = 4
PL_BATCH_SHRINK = 2
PL_DECAY = 0.01
ADA_INTERVAL = 4  # steps between updates of p
EMA_RAMPUP = 0.05  # G_ema's half-life is at most 5% of the images seen so far


class StyleGAN2Trainer:
    """Owns G, D, G_ema, the augmentation pipe, their optimisers and every RNG; ``step()`` runs the phases
    G main, G path length (every 4th), D main, D R1 (every 16th), then the EMA and ADA updates."""

    def __init__(
        self, cfg: TrainConfig, family: Family, g: Generator, d: nn.Module, data: Tensor, labels: Tensor | None,
        num_classes: int, procs: Processes,
    ) -> None:  # fmt: skip
        self.cfg, self.procs, self.num_classes = cfg, procs, num_classes
        dev = procs.device
        self.fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.g: Generator = g.to(dev)
        self.d = d.to(dev, memory_format=self.fmt)  # type: ignore[call-overload]
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        lr, (b1, b2) = family.adam(cfg)
        # Lazy regularisation: the optimiser's lr and betas rescaled by interval / (interval + 1) (the paper, 3.1).
        rg, rd = PL_INTERVAL / (PL_INTERVAL + 1), R1_INTERVAL / (R1_INTERVAL + 1)
        g_params, d_params = list(self.g.parameters()), list(self.d.parameters())
        self.opt_g = torch.optim.Adam(g_params, lr=lr * rg, betas=(b1**rg, b2**rg), eps=1e-8, foreach=True)
        self.opt_d = torch.optim.Adam(d_params, lr=lr * rd, betas=(b1**rd, b2**rd), eps=1e-8, foreach=True)
        if dev.type == "cuda" and data.nbytes < 2**31:
            data, labels = data.to(dev), None if labels is None else labels.to(dev)
        self.data, self.labels = data, labels  # uint8 [N, C, R, R]; int64 [N] or None
        self.batches = Batches(len(data), cfg.batch, cfg.seed)
        self.noise = torch.Generator().manual_seed(cfg.seed + 1)  # z, labels, mixing, noise inputs, pl noise
        self.aug_rng = torch.Generator().manual_seed(cfg.seed + 4)  # augmentations
        self.mode, p0 = parse_augment(cfg.augment or "ada")
        self.augment = AugmentPipe().to(dev)
        self.augment.p.fill_(p0)
        self.ada_stats = torch.zeros(2, device=dev)  # [sum of sign(D(real)), count] since the last update of p
        self.pl_mean = torch.zeros((), device=dev)
        self.r1_gamma = cfg.r1_gamma if cfg.r1_gamma is not None else r1_gamma_auto(g.resolution, cfg.batch)
        self.ema_kimg = family.ema_kimg(cfg)
        self.step_index = 0
        autocast, _ = amp_dtype(cfg, dev)  # bf16 on CUDA needs no loss scaler; without bf16, fp32 (no fp16 here)
        self.autocast = autocast if autocast == torch.bfloat16 else None
        self.stats = Stats()
        fixed = torch.Generator().manual_seed(cfg.seed + 2)
        self.grid_z = torch.randn(GRID, g.z_dim, generator=fixed).to(dev)
        self.grid_c = torch.arange(GRID).remainder(num_classes).to(dev) if num_classes else None

    # ------------------------------------------------------------ helpers

    def _ctx(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if self.autocast is None else torch.autocast("cuda", dtype=self.autocast)

    def _local(self, t: Tensor) -> Tensor:
        """This process's share of a global-batch tensor (drawn whole on every process, so all agree): every
        world-th image from its rank, so that the discriminator's minibatch-stddev groups (image j in group
        j mod N/G) hold the same images as in a one-process run."""
        return t[self.procs.rank :: self.procs.world]

    def _latents(self, n: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """z, a second z for mixing, labels and the mixing cutoff per image (num_ws = no mixing), each ``[n, ...]``
        for the global batch, then sliced to this process."""
        g, dev, num_ws = self.noise, self.procs.device, self.g.num_ws
        z = torch.randn(n, self.g.z_dim, generator=g)
        z2 = torch.randn(n, self.g.z_dim, generator=g)
        c = torch.randint(self.num_classes, (n,), generator=g) if self.num_classes else None
        cut = torch.randint(1, num_ws, (n,), generator=g) if num_ws > 1 else torch.full((n,), num_ws)
        mix = torch.rand(n, generator=g) < self.cfg.style_mixing
        cut = torch.where(mix, cut, torch.full_like(cut, num_ws))
        return (self._local(z).to(dev), self._local(z2).to(dev), None if c is None else self._local(c).to(dev),
                self._local(cut).to(dev))  # fmt: skip

    def _run_g(self, n: int, update_w_avg: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """Images, their ws ``[N, num_ws, w_dim]`` (style mixing applied) and labels, for a global batch of ``n``."""
        z, z2, c, cut = self._latents(n)
        ws = self.g.mapping(z, c, update_w_avg=update_w_avg)  # [N, num_ws, w_dim]
        if self.cfg.style_mixing > 0:
            ws2 = self.g.mapping(z2, c)
            layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]  # [1, num_ws, 1]
            ws = torch.where(layer < cut[:, None, None], ws, ws2)
        dev = ws.device  # noise inputs drawn for the global batch, like the latents
        noise = [self._local(torch.randn(n, 1, r, r, generator=self.noise)).to(dev)
                 for r in self.g.synthesis.noise_resolutions]  # fmt: skip
        img = self.g.synthesis(ws, noise=noise)
        return img, ws, c

    def _run_d(self, img: Tensor, c: Tensor | None) -> Tensor:
        if self.mode != "none":  # transforms drawn for the global batch, this process's share applied
            n, ch, h, w = img.shape
            a = self.augment.sample(n * self.procs.world, ch, h, w, device=img.device, generator=self.aug_rng)
            share = AugmentParams(self._local(a.geom), self._local(a.color), {k: self._local(v) for k, v in
                                                                                a.applied.items()})  # fmt: skip
            img = self.augment.transform(img, share)
        out: Tensor = self.d(img.contiguous(memory_format=self.fmt), c)
        return out.float()

    def _real(self) -> tuple[Tensor, Tensor | None]:
        idx = self._local(self.batches.indices(self.step_index)).to(self.data.device)
        x = self.data[idx].to(self.procs.device).float().div_(127.5).sub_(1)  # [B, C, R, R] in [-1, 1]
        c = self.labels[idx].to(self.procs.device) if self.labels is not None else None
        return x, c

    def _update(self, module: nn.Module, opt: torch.optim.Optimizer, name: str) -> None:
        all_reduce_grads(module.parameters(), self.procs.world)
        for p in module.parameters():  # stylegan2-ada's guard: a rare non-finite gradient is zeroed, not applied
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)
        self.stats.add(f"grad_norm/{name}", _grad_norm(module))
        opt.step()

    # ------------------------------------------------------------ one step

    def step(self) -> None:
        cfg, b, i = self.cfg, self.cfg.batch, self.step_index
        real, c_real = self._real()

        # G main: non-saturating logistic loss -log D(G(z)).
        self.d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with self._ctx():
            img, _, c = self._run_g(b, update_w_avg=True)
            loss_g = F.softplus(-self._run_d(img, c)).mean()
        loss_g.backward()
        self.stats.add("loss/G", loss_g.detach())
        self._update(self.g, self.opt_g, "G")

        # G path length, lazily: (|J_w^T y| - a)^2 on a smaller batch, times the interval.
        if cfg.pl_weight > 0 and i % PL_INTERVAL == 0:
            self.opt_g.zero_grad(set_to_none=True)
            n = max(b // PL_BATCH_SHRINK, self.procs.world)
            n -= n % self.procs.world
            with self._ctx():
                img, ws, _ = self._run_g(n, update_w_avg=False)
            y = self._local(path_noise((n, *img.shape[1:]), self.noise)).to(img)
            lengths = path_lengths(img.float(), ws, y.float())  # [n / world]
            mean = lengths.detach().mean()
            if self.procs.world > 1:
                torch.distributed.all_reduce(mean)
                mean /= self.procs.world
            self.pl_mean.lerp_(mean, PL_DECAY)
            loss_pl = (lengths - self.pl_mean).square().mean() * cfg.pl_weight * PL_INTERVAL
            (loss_pl + img[:, 0, 0, 0].sum() * 0).backward()  # every G parameter gets a gradient
            self.stats.add("loss/G_pl", loss_pl.detach())
            self.stats.add("pl_mean", self.pl_mean)
            self._update(self.g, self.opt_g, "G_pl")
        self.d.requires_grad_(True)

        # D main: -log(1 - D(G(z))) - log D(x), both through the augmentations.
        self.opt_d.zero_grad(set_to_none=True)
        with self._ctx():
            with torch.no_grad():
                fake, _, c = self._run_g(b, update_w_avg=False)
            fake_logits = self._run_d(fake, c)
            real_logits = self._run_d(real, c_real)
            loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        loss_d.backward()
        self.ada_stats[0] += real_logits.detach().sign().sum()
        self.ada_stats[1] += real_logits.numel()
        self.stats.add("loss/D", loss_d.detach())
        self.stats.add("D/real", real_logits.detach().mean())
        self.stats.add("D/fake", fake_logits.detach().mean())
        self._update(self.d, self.opt_d, "D")

        # D R1, lazily: gamma / 2 * |grad_x D(x)|^2 on (augmented) reals, times the interval.
        if self.r1_gamma > 0 and i % R1_INTERVAL == 0:
            self.opt_d.zero_grad(set_to_none=True)
            x = real.detach().requires_grad_(True)
            with self._ctx():
                logits = self._run_d(x, c_real)
            r1 = r1_penalty(logits, x)  # [B]
            loss_r1 = r1.mean() * (self.r1_gamma / 2) * R1_INTERVAL
            (loss_r1 + logits.sum() * 0).backward()
            self.stats.add("loss/D_r1", loss_r1.detach())
            self._update(self.d, self.opt_d, "D_r1")

        # G_ema with ramp-up, then ADA's p.
        seen = (i + 1) * b
        half_life = min(self.ema_kimg * 1000, seen * EMA_RAMPUP)
        ema_update(self.g_ema, self.g, 0.5 ** (b / max(half_life, 1e-8)) if self.ema_kimg > 0 else 0.0)
        if self.mode == "ada" and (i + 1) % ADA_INTERVAL == 0:
            s = self.ada_stats.clone()
            if self.procs.world > 1:
                torch.distributed.all_reduce(s)
            s = s.cpu()
            p = ada_update(float(self.augment.p), float(s[0] / s[1]), b, ADA_INTERVAL, cfg.ada_target, cfg.ada_kimg)
            self.augment.p.fill_(p)
            self.ada_stats.zero_()
        self.stats.add("augment/p", self.augment.p.detach().clone())
        self.step_index += 1

    @torch.no_grad()
    def samples(self) -> Tensor:
        """The fixed-z grid from G_ema with the constant noise, ``[GRID, C, R, R]`` in [0, 1]."""
        out = self.g_ema(self.grid_z, self.grid_c, noise_mode="const")
        return out.float().add(1).div(2).clamp(0, 1).cpu()  # type: ignore[no-any-return]

    # ------------------------------------------------------------ state

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        t: dict[str, Tensor] = {}
        for name, mod in (("G", self.g), ("D", self.d), ("G_ema", self.g_ema), ("augment", self.augment)):
            t.update(ckpt.module_tensors(name, mod))
        tg, groups_g = ckpt.optimizer_tensors("opt_G", self.opt_g)
        td, groups_d = ckpt.optimizer_tensors("opt_D", self.opt_d)
        t.update(tg | td | ckpt.rng_tensors({"noise": self.noise, "augment": self.aug_rng}))
        t["pl_mean"], t["ada_stats"] = self.pl_mean.detach().clone(), self.ada_stats.clone()
        meta = {
            "step": self.step_index, "kimg": self.step_index * self.cfg.batch / 1000,
            "groups": {"opt_G": groups_g, "opt_D": groups_d}, "augment_p": float(self.augment.p),
        }  # fmt: skip
        return t, meta

    def restore(self, tensors: dict[str, Tensor], meta: dict[str, Any], where: Path) -> None:
        for name, mod in (("G", self.g), ("D", self.d), ("G_ema", self.g_ema), ("augment", self.augment)):
            ckpt.load_module(name, mod, tensors, where)
        ckpt.load_optimizer("opt_G", self.opt_g, tensors, meta["groups"]["opt_G"])
        ckpt.load_optimizer("opt_D", self.opt_d, tensors, meta["groups"]["opt_D"])
        ckpt.restore_rng(tensors, {"noise": self.noise, "augment": self.aug_rng})
        self.pl_mean.copy_(tensors["pl_mean"])
        self.ada_stats.copy_(tensors["ada_stats"])
        self.step_index = int(meta["step"])


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    norm: Tensor = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    return norm
