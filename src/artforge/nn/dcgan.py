"""DCGAN (Radford et al. 2016): all-convolutional G and D, stride-2 (transposed) 4x4 convolutions, batch norm.

Resolutions R = 4 * 2^n (8, 16, 32, 64, 128, ...) start from a 4x4 map; R = 7 * 2^n (14, 28, 56) from 7x7.
Channels double at every halving of the resolution, with ``width`` channels at R/2:

    R    G: map sizes                  stride-2 stages   channels of the smallest map
    28   1 -> 7 -> 14 -> 28            2                 2 width
    32   1 -> 4 -> 8 -> 16 -> 32       3                 4 width
    64   1 -> 4 -> ... -> 64           4                 8 width
    128  1 -> 4 -> ... -> 128          5                 16 width

The discriminator mirrors the generator and ends in a conv over the whole 4x4 (7x7) map: one logit.
Images are in [-1, 1]. ``num_classes > 0``: G concatenates a one-hot code of ``c`` to ``z``; D adds the
projection term <embed(c), phi(x)> (Miyato & Koyama 2018) with phi(x) the spatially summed final features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from artforge.nn.gan import maybe_spectral_norm, one_hot_labels

NORMS = ("batch", "none", "layer")


def stage_plan(resolution: int) -> tuple[int, int]:
    """(s0, n): the smallest map size (4 or 7) and the number of stride-2 stages, R = s0 * 2^n, n >= 1."""
    for s0 in (4, 7):
        n, r = 0, resolution
        while r > s0 and r % 2 == 0:
            r, n = r // 2, n + 1
        if r == s0 and n >= 1:
            return s0, n
    raise ValueError(f"resolution must be 4 * 2^n or 7 * 2^n (e.g. 28, 32, 64, 128), not {resolution}")


def init_weights(module: nn.Module) -> None:
    """Radford et al. 2016 initialisation: conv weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02), shift 0.

    Use as ``model.apply(init_weights)``. A spectrally normalised conv has its unnormalised weight initialised.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        weight: Tensor = module.weight
        if parametrize.is_parametrized(module, "weight"):
            weight = getattr(module, "parametrizations")["weight"].original  # noqa: B009
        nn.init.normal_(weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # layer norm over [C, H, W] with a per-channel affine (Gulrajani 2017)
    return nn.Identity()


class DCGANGenerator(nn.Module):
    """Radford et al. 2016 generator x = G(z, c): ConvTranspose 1 -> s0, then stride-2 ConvTranspose+BN+ReLU, tanh."""

    def __init__(
        self, z_dim: int = 100, resolution: int = 64, channels: int = 3, width: int = 64, num_classes: int = 0
    ) -> None:
        super().__init__()
        s0, n = stage_plan(resolution)
        self.z_dim = z_dim
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, ch, s0, 1, 0, bias=False),  # [N, ch, s0, s0]
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]  # [N, C, R, R]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        y = one_hot_labels(c, self.num_classes, z)
        h = z if y is None else torch.cat([z, y], dim=1)  # [N, z_dim + K]
        x: Tensor = self.net(h[:, :, None, None])  # [N, C, R, R] in [-1, 1]
        return x


class DCGANDiscriminator(nn.Module):
    """Radford et al. 2016 discriminator logit D(x, c): stride-2 Conv+norm+LeakyReLU(0.2), conv to a 1x1 logit.

    ``norm``: "batch" (DCGAN), "layer" (for WGAN-GP, whose per-sample penalty forbids batch norm) or "none";
    the first layer is never normalised. ``spectral_norm`` normalises every conv (and the class embedding).
    """

    def __init__(
        self,
        resolution: int = 64,
        channels: int = 3,
        width: int = 64,
        num_classes: int = 0,
        spectral_norm: bool = False,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
        s0, n = stage_plan(resolution)
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        sn = spectral_norm
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=norm != "batch"), _norm(norm, 2 * ch)]
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch *= 2
        self.features = nn.Sequential(*layers)  # [N, ch, s0, s0]
        self.head = nn.Conv2d(ch, 1, s0, 1, 0)  # [N, 1, 1, 1]
        self.apply(init_weights)
        # embed(c) = V onehot(c): a class embedding [K] -> [ch], as a bias-free linear map of the one-hot code.
        self.embed: nn.Linear | None = None
        if num_classes > 0:
            self.embed = nn.Linear(num_classes, ch, bias=False)
            nn.init.xavier_uniform_(self.embed.weight)  # as in the projection discriminator's reference code
        if sn:
            for m in [*self.features, self.head, self.embed]:
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    maybe_spectral_norm(m, True)  # registers the parametrisation in place

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h: Tensor = self.features(x)  # [N, ch, s0, s0]
        logits: Tensor = self.head(h).flatten()  # [N]
        y = one_hot_labels(c, self.num_classes, h)
        if self.embed is not None and y is not None:
            phi = h.sum(dim=(2, 3))  # [N, ch]
            logits = logits + (self.embed(y) * phi).sum(dim=1)  # projection <embed(c), phi(x)>
        return logits
