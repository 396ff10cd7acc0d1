"""PatchGAN discriminator (Isola et al. 2017): D(x) = a grid of logits, one per receptive-field patch.

Used by GAN-based stylisation (L_total = l1 L_content + l2 L_style + l3 L_adv): it learns to tell
crops of the style image(s) from crops of stylised photographs, so the generator is pushed toward
the style's local texture statistics beyond what Gram matrices capture.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import spectral_norm as sn


class PatchDiscriminator(nn.Module):
    """``[N, 3, H, W]`` in [0, 1] -> logits ``[N, 1, H/8 - 2, W/8 - 2]``; spectral-normalised convolutions
    (Miyato et al. 2018) instead of batch norm, so a batch of one is fine."""

    def __init__(self, width: int = 64, layers: int = 3, spectral_norm: bool = True) -> None:
        super().__init__()
        wrap = sn if spectral_norm else (lambda m: m)
        mods: list[nn.Module] = []
        c_in = 3
        for i in range(layers):
            c_out = width * 2**i
            mods += [wrap(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c_out
        mods += [wrap(nn.Conv2d(c_in, c_in, 3, 1, 1)), nn.LeakyReLU(0.2, inplace=True), wrap(nn.Conv2d(c_in, 1, 3))]
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)  # type: ignore[no-any-return]
