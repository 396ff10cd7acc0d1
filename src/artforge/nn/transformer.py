"""Johnson et al. 2016 feed-forward stylisation network y = f_W(x), trained once per style.

Reflection padding, instance normalisation (Ulyanov et al. 2016), five residual blocks, and
nearest-neighbour upsampling followed by a convolution instead of transposed convolutions, which
avoids checkerboard artefacts (Odena et al. 2016). ``width`` is the first layer's channel count:
32 is the paper's network, 16 the half-width default that runs ~3x faster.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv (k x k, stride s) [-> instance norm -> ReLU]."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, norm_act: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride)]
        if norm_act:
            layers += [nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))) (He et al. 2016, as in Johnson et al.'s supplement)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv2(self.conv1(x))
        return x + y


class UpsampleConv(nn.Sequential):
    """Nearest x2 upsampling -> ConvLayer (no checkerboard, unlike ConvTranspose2d)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(c_in, c_out, 3))


class TransformerNet(nn.Module):
    """Image transformation network: ``[N, 3, H, W]`` in [0, 1] -> ``[N, 3, H, W]`` (any H, W >= 1).

    Inputs are reflection-padded to a multiple of 4 (two stride-2 convolutions) and the output is
    cropped back, so odd sizes come out at exactly the input's size.
    """

    def __init__(self, width: int = 16, blocks: int = 5) -> None:
        super().__init__()
        self.width, self.blocks = width, blocks
        c1, c2, c3 = width, 2 * width, 4 * width
        self.down = nn.Sequential(ConvLayer(3, c1, 9), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2))
        self.res = nn.Sequential(*[ResidualBlock(c3) for _ in range(blocks)])
        self.up = nn.Sequential(UpsampleConv(c3, c2), UpsampleConv(c2, c1), ConvLayer(c1, 3, 9, norm_act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        y: torch.Tensor = self.up(self.res(self.down(x)))  # [N, 3, H', W']
        return y[..., :h, :w]
