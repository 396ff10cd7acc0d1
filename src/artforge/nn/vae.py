"""Convolutional VAE (Kingma & Welling 2014): q(z|x) = N(mu, diag exp(logvar)), p(z) = N(0, I), p(x|z) by decoder.

Images are in [0, 1]. The encoder halves the resolution with stride-2 4x4 convs (width, 2 width, ...) down to a
4x4 map (7x7 for R = 7 * 2^n, e.g. 28), then a linear layer gives mu and logvar; the decoder mirrors it with
stride-2 transposed convs. ``num_classes > 0`` (a conditional VAE, Sohn et al. 2015) concatenates a one-hot code
of ``c`` to the encoder's flattened features and to z.

The decoder's output parametrises p(x|z) (see :func:`artforge.objectives.likelihood.log_px_given_z`):
``"bernoulli"``: logits; ``"gaussian"`` and ``"logistic"`` (discretised over 256 bins): the location in [0, 1]
via a sigmoid, with a learned per-channel ``log_scale`` [C] (None for bernoulli).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from artforge.nn.dcgan import stage_plan
from artforge.nn.gan import one_hot_labels

LIKELIHOODS = ("bernoulli", "gaussian", "logistic")


def reparameterise(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (Kingma & Welling 2014, the reparameterisation trick)."""
    return mu + torch.exp(0.5 * logvar) * eps


class ConvVAE(nn.Module):
    """Kingma & Welling 2014 VAE, max E_q[log p(x|z)] - beta KL(q(z|x) || p(z)) (beta: Higgins et al. 2017)."""

    log_scale: nn.Parameter | None

    def __init__(
        self,
        resolution: int = 28,
        channels: int = 1,
        z_dim: int = 32,
        width: int = 32,
        num_classes: int = 0,
        likelihood: str = "bernoulli",
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, not {likelihood!r}")
        s0, n = stage_plan(resolution)
        self.resolution = resolution
        self.channels = channels
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.likelihood = likelihood
        chs = [width * 2**i for i in range(n)]  # channels after each stride-2 stage
        enc: list[nn.Module] = []
        c_in = channels
        for ch in chs:
            enc += [nn.Conv2d(c_in, ch, 4, 2, 1), nn.ReLU(inplace=True)]
            c_in = ch
        self.encoder = nn.Sequential(*enc, nn.Flatten())  # [N, ch s0 s0]
        self._map = (chs[-1], s0, s0)
        features = chs[-1] * s0 * s0
        self.to_posterior = nn.Linear(features + num_classes, 2 * z_dim)  # [N, 2 z_dim] -> mu, logvar
        self.from_z = nn.Sequential(nn.Linear(z_dim + num_classes, features), nn.ReLU(inplace=True))
        dec: list[nn.Module] = []
        for ch in chs[:0:-1]:
            dec += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.ReLU(inplace=True)]
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(chs[0], channels, 4, 2, 1))  # [N, C, R, R]
        if likelihood == "bernoulli":
            self.register_parameter("log_scale", None)
        else:
            # Per-channel log-scale of p(x|z); a tenth of the [0, 1] range to start with.
            self.log_scale = nn.Parameter(torch.full((channels,), math.log(0.1)))

    def encode(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """q(z|x, c): mu, logvar [N, z_dim] for x [N, C, R, R] in [0, 1]."""
        h: Tensor = self.encoder(2.0 * x - 1.0)  # [N, ch s0 s0]
        y = one_hot_labels(c, self.num_classes, h)
        if y is not None:
            h = torch.cat([h, y], dim=1)  # [N, ch s0 s0 + K]
        mu, logvar = self.to_posterior(h).chunk(2, dim=1)  # [N, z_dim] each
        return mu, logvar

    def decode(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Parameters of p(x|z, c) [N, C, R, R]: logits (bernoulli) or the location in [0, 1] (gaussian, logistic)."""
        y = one_hot_labels(c, self.num_classes, z)
        h = z if y is None else torch.cat([z, y], dim=1)  # [N, z_dim + K]
        h = self.from_z(h).view(-1, *self._map)  # [N, ch, s0, s0]
        out: Tensor = self.decoder(h)  # [N, C, R, R]
        return out if self.likelihood == "bernoulli" else torch.sigmoid(out)

    def mean(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """E[x|z] in [0, 1] for pictures: sigmoid(logits), or the location of the discretised distribution."""
        params = self.decode(z, c)
        return torch.sigmoid(params) if self.likelihood == "bernoulli" else params

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(decoder parameters, mu, logvar) with one z ~ q(z|x, c) by the reparameterisation trick."""
        mu, logvar = self.encode(x, c)
        z = reparameterise(mu, logvar, torch.randn_like(mu))  # [N, z_dim]
        return self.decode(z, c), mu, logvar
