"""MLP GAN (Goodfellow et al. 2014): min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))], both players MLPs.

Images are in [-1, 1]: the generator ends in tanh and the discriminator expects that range.
``num_classes > 0`` makes both players class-conditional (Mirza & Osindero 2014): a one-hot code of ``c``
is concatenated to the generator's ``z`` and to the discriminator's flattened image. A one-hot code feeding a
linear layer is exactly a learned class embedding added to that layer's pre-activation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def one_hot_labels(c: Tensor | None, num_classes: int, like: Tensor) -> Tensor | None:
    """Class indices ``c`` [N] -> one-hot [N, num_classes] in ``like``'s dtype; None for unconditional models.

    An unconditional model (``num_classes == 0``) ignores ``c``, so a training loop may pass labels uniformly.
    """
    if num_classes == 0:
        return None
    if c is None:
        raise ValueError(f"this model is class-conditional ({num_classes} classes): pass labels c")
    if c.dim() != 1 or c.shape[0] != like.shape[0]:
        raise ValueError(f"labels c must have shape [{like.shape[0]}], not {list(c.shape)}")
    return nn.functional.one_hot(c.long(), num_classes).to(like.dtype)  # [N, K]


def maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    """W / sigma(W) (Miyato et al. 2018) on ``layer.weight`` when ``enabled``; power iteration in train mode."""
    return _spectral_norm(layer) if enabled else layer


class MLPGenerator(nn.Module):
    """Goodfellow et al. 2014 generator x = G(z, c): z -> width -> 2 width -> 4 width -> C R R, tanh."""

    def __init__(
        self, z_dim: int = 100, resolution: int = 28, channels: int = 1, width: int = 256, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        # No batch norm (as in the paper): every sample is independent of the rest of the batch, so gradient
        # accumulation and data-parallel training take exactly the step of one big batch.
        self.net = nn.Sequential(
            nn.Linear(z_dim + num_classes, width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(width, 2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(2 * width, 4 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(4 * width, channels * resolution * resolution),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        y = one_hot_labels(c, self.num_classes, z)
        h = z if y is None else torch.cat([z, y], dim=1)  # [N, z_dim + K]
        x: Tensor = self.net(h)  # [N, C R R]
        return x.view(-1, self.channels, self.resolution, self.resolution)  # [N, C, R, R] in [-1, 1]


class MLPDiscriminator(nn.Module):
    """Goodfellow et al. 2014 discriminator logit D(x, c): flatten -> 2 width -> width -> 1, LeakyReLU 0.2."""

    def __init__(
        self,
        resolution: int = 28,
        channels: int = 1,
        width: int = 256,
        num_classes: int = 0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        sn = spectral_norm
        self.net = nn.Sequential(
            maybe_spectral_norm(nn.Linear(channels * resolution * resolution + num_classes, 2 * width), sn),
            nn.LeakyReLU(0.2, inplace=True),
            maybe_spectral_norm(nn.Linear(2 * width, width), sn),
            nn.LeakyReLU(0.2, inplace=True),
            maybe_spectral_norm(nn.Linear(width, 1), sn),
        )

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = x.flatten(1)  # [N, C R R]
        y = one_hot_labels(c, self.num_classes, h)
        if y is not None:
            h = torch.cat([h, y], dim=1)  # [N, C R R + K]
        logits: Tensor = self.net(h)  # [N, 1]
        return logits.squeeze(1)  # [N]
