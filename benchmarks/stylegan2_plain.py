"""The reference of ``stylegan2_overhead.py``: StyleGAN2-ADA's training step as one plain loop, in one file.

Same networks (artforge's ``Generator``, ``Discriminator``, ``AugmentPipe``), same losses and schedule as
``artforge.train.stylegan2`` (non-saturating logistic loss; path length every 4th step on half the batch; R1 every
16th; style mixing 0.9; Adam with the lazy-regularisation rescaling; G_ema with ramp-up; ADA's p every 4 steps), and
nothing else: no statistics, no gradient guards, no distributed hooks, random batches from ``torch.randint``.
"""

from __future__ import annotations

import copy
import math

import torch
from torch.nn import functional as F

from artforge.nn.augment import AugmentPipe, ada_update
from artforge.nn.stylegan2 import Discriminator, Generator


class PlainStyleGAN2:
    def __init__(self, g: Generator, d: Discriminator, data: torch.Tensor, batch: int, r1_gamma: float,
                 ema_kimg: float, lr: float = 0.0025, p: float = 0.0, ada: bool = True) -> None:  # fmt: skip
        self.g, self.d, self.data, self.batch, self.gamma = g, d, data, batch, r1_gamma
        self.g_ema = copy.deepcopy(g).eval().requires_grad_(False)
        rg, rd = 4 / 5, 16 / 17
        self.opt_g = torch.optim.Adam(g.parameters(), lr=lr * rg, betas=(0.0, 0.99**rg))
        self.opt_d = torch.optim.Adam(d.parameters(), lr=lr * rd, betas=(0.0, 0.99**rd))
        self.aug = AugmentPipe()
        self.aug.p.fill_(p)
        self.ada, self.signs, self.count, self.pl_mean, self.i, self.ema_kimg = ada, 0.0, 0, 0.0, 0, ema_kimg

    def _g(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.g.mapping(torch.randn(n, self.g.z_dim))
        if torch.rand(()) < 0.9:
            cut = int(torch.randint(1, ws.shape[1], ()))
            ws = ws.clone()
            ws[:, cut:] = self.g.mapping(torch.randn(n, self.g.z_dim))[:, cut:]
        return self.g.synthesis(ws), ws

    def step(self) -> None:
        b = self.batch
        real = self.data[torch.randint(len(self.data), (b,))].float() / 127.5 - 1
        self.d.requires_grad_(False)
        self.opt_g.zero_grad()
        img, _ = self._g(b)
        F.softplus(-self.d(self.aug(img))).mean().backward()
        self.opt_g.step()
        if self.i % 4 == 0:
            self.opt_g.zero_grad()
            img, ws = self._g(b // 2)
            y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
            (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
            lengths = grad.square().sum(2).mean(1).sqrt()
            self.pl_mean += 0.01 * (float(lengths.detach().mean()) - self.pl_mean)
            ((lengths - self.pl_mean).square().mean() * 2 * 4).backward()
            self.opt_g.step()
        self.d.requires_grad_(True)
        self.opt_d.zero_grad()
        with torch.no_grad():
            fake, _ = self._g(b)
        real_logits = self.d(self.aug(real))
        (F.softplus(self.d(self.aug(fake))).mean() + F.softplus(-real_logits).mean()).backward()
        self.opt_d.step()
        self.signs += float(real_logits.detach().sign().sum())
        self.count += b
        if self.i % 16 == 0:
            self.opt_d.zero_grad()
            x = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.d(self.aug(x)).sum(), x, create_graph=True)
            (grad.square().flatten(1).sum(1).mean() * self.gamma / 2 * 16).backward()
            self.opt_d.step()
        half = min(self.ema_kimg * 1000, (self.i + 1) * b * 0.05)
        beta = 0.5 ** (b / max(half, 1e-8))
        with torch.no_grad():
            for pe, p in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
                pe.lerp_(p, 1 - beta)
            for be, bb in zip(self.g_ema.buffers(), self.g.buffers(), strict=True):
                be.copy_(bb)
        if self.ada and (self.i + 1) % 4 == 0:
            self.aug.p.fill_(ada_update(float(self.aug.p), self.signs / self.count, b, 4))
            self.signs, self.count = 0.0, 0
        self.i += 1
