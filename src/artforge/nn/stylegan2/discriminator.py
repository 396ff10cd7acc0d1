"""StyleGAN2 residual discriminator D(x, c) (Karras et al. 2020, fig. 7c and config F).

FromRGB at full resolution; per resolution a block y = sqrt(1/2) (conv3x3_down(conv3x3(x)) + conv1x1_down(x)), the
downsampling convs blurring with [1,3,3,1] first; at 4x4 an epilogue of minibatch stddev (Karras et al. 2018,
sec. 3), conv3x3, FC and the output FC. Class-conditional by projection (Miyato & Koyama 2018), as stylegan2-ada:
D(x, c) = <phi(x), cmap(c)> / sqrt(cmap_dim) with cmap from a mapping network of the labels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from artforge.nn.stylegan2.generator import MappingNetwork, channels_at, check_resolution
from artforge.nn.stylegan2.layers import Conv2d, FullyConnected


def mbstd_group_size(batch: int, group_size: int) -> int:
    """The largest divisor of ``batch`` that is <= min(group_size, batch) (stylegan2-ada asserts it divides)."""
    g = max(1, min(group_size, batch))
    while batch % g:
        g -= 1
    return g


class MinibatchStd(nn.Module):
    """Karras et al. 2018 minibatch stddev: append mean_{c,h,w} sqrt(Var_group(x) + 1e-8) as ``num_channels`` maps.

    Sample j belongs to group j mod (N / G), as in stylegan2-ada (reshape to [G, N/G, ...]). The channels split into
    ``num_channels`` equal parts, each giving one feature map. Statistics are taken in fp32 or wider (bf16 promoted).
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: Tensor) -> Tensor:  # [N, C, H, W] -> [N, C + F, H, W]
        n, c, h, w = x.shape
        g = mbstd_group_size(n, self.group_size)
        f = self.num_channels
        y = x.to(torch.promote_types(x.dtype, torch.float32)).reshape(g, n // g, f, c // f, h, w)  # [G, n, F, c, H, W]
        y = y - y.mean(dim=0)  # deviations from the group mean
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n, F, c, H, W]: stddev over the group
        y = y.mean(dim=(2, 3, 4)).reshape(n // g, f, 1, 1)  # [n, F, 1, 1]
        y = y.repeat(g, 1, h, w).to(x.dtype)  # [N, F, H, W]
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorBlock(nn.Module):
    """Residual block y = sqrt(1/2) (conv3x3_down(conv3x3(x)) + conv1x1_down(x)), [N, C, R, R] -> [N, O, R/2, R/2]."""

    def __init__(self, channels: int, out_channels: int, img_channels: int = 0) -> None:
        super().__init__()
        self.fromrgb = Conv2d(img_channels, channels, 1, activation="lrelu") if img_channels > 0 else None
        self.conv0 = Conv2d(channels, channels, 3, activation="lrelu")
        self.conv1 = Conv2d(channels, out_channels, 3, activation="lrelu", down=2)
        self.skip = Conv2d(channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)  # [N, C, R, R]
        y: Tensor = self.skip(x)  # [N, O, R/2, R/2]
        x = self.conv1(self.conv0(x))  # [N, O, R/2, R/2]
        return (x + y) * math.sqrt(0.5)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch stddev, conv3x3, FC (C*16 -> C), output FC (-> 1 logit, or cmap_dim for projection)."""

    def __init__(self, channels: int, cmap_dim: int = 0, mbstd_group: int = 4) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStd(mbstd_group, num_channels=1)
        self.conv = Conv2d(channels + 1, channels, 3, activation="lrelu")
        self.fc = FullyConnected(channels * 4 * 4, channels, activation="lrelu")
        self.out = FullyConnected(channels, cmap_dim if cmap_dim > 0 else 1)

    def forward(self, x: Tensor, cmap: Tensor | None = None) -> Tensor:  # [N, C, 4, 4], [N, cmap_dim] -> [N]
        x = self.conv(self.mbstd(x))  # [N, C, 4, 4]
        x = self.fc(x.flatten(1))  # [N, C]
        x = self.out(x)  # [N, cmap_dim or 1]
        if cmap is None:
            return x[:, 0]
        return (x * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator D(x, c) -> logits [N] (Karras et al. 2020, fig. 7c; projection for c)."""

    def __init__(
        self,
        resolution: int,
        channels: int,
        num_classes: int = 0,
        channel_base: int = 16384,
        channel_max: int = 512,
        mbstd_group: int = 4,
    ) -> None:
        super().__init__()
        log2 = check_resolution(resolution)
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        self.blocks = nn.ModuleList()
        for res in (2**i for i in range(log2, 2, -1)):  # R, R/2, ..., 8
            ch, out = channels_at(res, channel_base, channel_max), channels_at(res // 2, channel_base, channel_max)
            self.blocks.append(DiscriminatorBlock(ch, out, channels if res == resolution else 0))
        ch4 = channels_at(4, channel_base, channel_max)
        self.fromrgb = Conv2d(channels, ch4, 1, activation="lrelu") if resolution == 4 else None
        self.cmap_dim = ch4 if num_classes > 0 else 0
        # the labels alone (z_dim = 0) through a mapping network, as stylegan2-ada's D
        self.mapping = MappingNetwork(0, ch4, 1, num_classes) if num_classes > 0 else None
        self.epilogue = DiscriminatorEpilogue(ch4, self.cmap_dim, mbstd_group)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:  # [N, C, R, R], c [N] -> [N]
        r = self.resolution
        if x.dim() != 4 or x.shape[1:] != (self.channels, r, r):
            raise ValueError(f"images must have shape [N, {self.channels}, {r}, {r}], not {list(x.shape)}")
        cmap: Tensor | None = None
        if self.mapping is not None:
            cmap = self.mapping(x.new_empty(x.shape[0], 0), c)[:, 0]  # [N, cmap_dim]
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        for block in self.blocks:
            x = block(x)  # [N, C_r, r, r] -> [N, C_{r/2}, r/2, r/2]
        return self.epilogue(x, cmap)  # type: ignore[no-any-return]
