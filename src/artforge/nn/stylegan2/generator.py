"""StyleGAN2 generator x = g(f(z, c)) (Karras et al. 2020, config F): mapping f to ws, 'skip' synthesis g.

Synthesis starts from a learned 4x4 constant. Each block doubles the resolution with two modulated 3x3 convs (the
first upsamples x2), adds per-channel-scaled noise, a bias and a leaky ReLU after each, and adds its ToRGB output to
the FIR-upsampled image of the block below. A block at resolution r has min(channel_base // r, channel_max) channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from artforge.nn.gan import one_hot_labels
from artforge.nn.stylegan2.layers import (
    FullyConnected,
    ModulatedConv2d,
    NoiseInjection,
    ToRGB,
    activate,
    fir_filter,
    upsample2d,
)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps of the block at resolution ``res``: min(channel_base // res, channel_max)."""
    return min(channel_base // res, channel_max)


def check_resolution(resolution: int) -> int:
    """log2(resolution) for a power of two >= 4; ValueError otherwise."""
    log2 = int(math.log2(resolution)) if resolution > 0 else 0
    if resolution < 4 or 2**log2 != resolution:
        raise ValueError(f"StyleGAN2 resolution must be a power of two >= 4 (8, 16, 32, ...), not {resolution}")
    return log2


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x / sqrt(mean_j x_j^2 + eps) over dim 1: projects each row onto the sphere of radius sqrt(dim)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """Karras et al. 2019 mapping w = f(z, c): 8 equalised-lr FC + lrelu layers at lr x 0.01, broadcast to num_ws.

    ``z`` and the class embedding are each normalised to unit second moment and concatenated. Truncation
    (Karras et al. 2019, sec. 3.2): w' = w_avg + psi (w - w_avg) on ws[:, :cutoff]; w_avg is a running mean of w,
    updated with w_avg <- beta w_avg + (1 - beta) mean_n(w) when ``update_w_avg`` is set. ``z_dim = 0`` maps c alone
    (the discriminator's projection uses that; pass ``z`` as an [N, 0] tensor).
    """

    w_avg: Tensor

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_classes: int = 0,
        num_layers: int = 8,
        lr_mul: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        if z_dim + num_classes == 0:
            raise ValueError("a mapping network needs z_dim > 0 or num_classes > 0")
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_classes = num_classes
        self.w_avg_beta = w_avg_beta
        self.embed = FullyConnected(num_classes, w_dim) if num_classes > 0 else None
        features = [z_dim + (w_dim if num_classes > 0 else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnected(a, b, lr_mul=lr_mul, activation="lrelu")
            for a, b in zip(features[:-1], features[1:], strict=True)
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))  # [w_dim]

    def forward(
        self,
        z: Tensor,
        c: Tensor | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [N, {self.z_dim}], not {list(z.shape)}")
        parts: list[Tensor] = [normalize_2nd_moment(z)] if self.z_dim > 0 else []  # [N, z_dim]
        onehot = one_hot_labels(c, self.num_classes, like=z)  # [N, K] or None
        if self.embed is not None and onehot is not None:
            parts.append(normalize_2nd_moment(self.embed(onehot)))  # [N, w_dim]
        x = torch.cat(parts, dim=1)  # [N, z_dim + w_dim]
        for layer in self.layers:
            x = layer(x)  # [N, w_dim]
        if update_w_avg:
            mean = x.detach().mean(dim=0).to(self.w_avg.dtype)
            self.w_avg.copy_(self.w_avg * self.w_avg_beta + mean * (1.0 - self.w_avg_beta))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)  # [N, num_ws, w_dim]
        if psi != 1.0:
            avg = self.w_avg.to(ws.dtype)
            head = avg + psi * (ws[:, :cutoff] - avg)  # [N, cutoff, w_dim]
            ws = torch.cat([head, ws[:, head.shape[1] :]], dim=1)
        return ws


class SynthesisLayer(nn.Module):
    """x' = lrelu(modconv(x, A(w)) + b_c n + bias) (Karras et al. 2020, fig. 2d), optionally upsampling x2."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, w_dim, kernel_size=3, up=up)
        self.noise = NoiseInjection(out_channels, resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))  # [O]

    def forward(
        self, x: Tensor, w: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:  # [N, I, H, W], [N, w_dim] -> [N, O, H*up, W*up]  # fmt: skip
        x = self.noise(self.conv(x, w), noise_mode, generator, noise)
        return activate(x + self.bias.reshape(1, -1, 1, 1), "lrelu")


class SynthesisBlock(nn.Module):
    """One resolution of the 'skip' generator: x -> conv0 (up x2) -> conv1; img = up2(img) + ToRGB(x)."""

    resample_filter: Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int) -> None:
        super().__init__()
        self.resolution = resolution
        if in_channels == 0:  # the first block starts from a learned constant
            self.const: nn.Parameter | None = nn.Parameter(torch.randn(out_channels, resolution, resolution))
            self.conv0: SynthesisLayer | None = None
        else:
            self.const = None
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if in_channels == 0 else 2
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        noise_mode: str = "random",
        generator: torch.Generator | None = None,
        noise: Sequence[Tensor | None] = (None, None),
    ) -> tuple[Tensor, Tensor]:  # ws [N, num_conv + 1, w_dim] -> x [N, O, R, R], img [N, C_img, R, R]
        if self.conv0 is None or x is None:
            assert self.const is not None
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # [N, O, 4, 4]
            x = self.conv1(x, ws[:, 0], noise_mode, generator, noise[0])
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, generator, noise[0])  # [N, O, R, R]
            x = self.conv1(x, ws[:, 1], noise_mode, generator, noise[1])
        y = self.torgb(x, ws[:, self.num_conv])  # [N, C_img, R, R]
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """Karras et al. 2020 'skip' synthesis g(ws): 4x4 constant -> blocks up to the resolution; 2 log2(R) - 2 ws."""

    def __init__(
        self, w_dim: int, resolution: int, channels: int, channel_base: int = 16384, channel_max: int = 512
    ) -> None:
        super().__init__()
        log2 = check_resolution(resolution)
        self.w_dim = w_dim
        self.resolution = resolution
        self.channels = channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        self.blocks = nn.ModuleList()
        for res in self.block_resolutions:
            in_ch = 0 if res == 4 else channels_at(res // 2, channel_base, channel_max)
            out_ch = channels_at(res, channel_base, channel_max)
            self.blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, channels))
        # block b uses ws[i : i + num_conv + 1] and the next starts at i + num_conv: its ToRGB w is the next conv0's
        self.num_ws = 2 * log2 - 2

    @property
    def noise_resolutions(self) -> list[int]:
        """The size of each noise input, in the order ``forward``'s ``noise`` takes them (one per conv layer)."""
        blocks = [b for b in self.blocks if isinstance(b, SynthesisBlock)]
        return [b.resolution for b in blocks for _ in range(b.num_conv)]

    def forward(
        self, ws: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None,
        noise: Sequence[Tensor] | None = None,
    ) -> Tensor:  # [N, num_ws, w_dim] -> [N, channels, R, R]  # fmt: skip
        """``noise``: explicit maps ``[N or 1, 1, r, r]`` for every layer (see ``noise_resolutions``), overriding
        ``noise_mode``."""
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], not {list(ws.shape)}")
        sizes = self.noise_resolutions
        if noise is not None and [tuple(t.shape[-2:]) for t in noise] != [(r, r) for r in sizes]:
            raise ValueError(f"noise must be {len(sizes)} maps of sizes {sizes}")
        x: Tensor | None = None
        img: Tensor | None = None
        i = 0
        for block in self.blocks:
            assert isinstance(block, SynthesisBlock)
            maps: Sequence[Tensor | None] = (None, None) if noise is None else noise[i : i + block.num_conv]
            x, img = block(x, img, ws[:, i : i + block.num_conv + 1], noise_mode, generator, maps)
            i += block.num_conv
        assert img is not None
        return img


class Generator(nn.Module):
    """StyleGAN2 generator x = g(f(z, c)) (Karras et al. 2020, config F): MappingNetwork + SynthesisNetwork."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        resolution: int,
        channels: int,
        num_classes: int = 0,
        channel_base: int = 16384,
        channel_max: int = 512,
        mapping_layers: int = 8,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.resolution = resolution
        self.channels = channels
        self.num_classes = num_classes
        self.synthesis = SynthesisNetwork(w_dim, resolution, channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, num_classes, num_layers=mapping_layers)

    def forward(
        self,
        z: Tensor,
        c: Tensor | None = None,
        psi: float = 1.0,
        noise_mode: str = "random",
        generator: torch.Generator | None = None,
    ) -> Tensor:  # z [N, z_dim], c [N] -> [N, channels, R, R]
        ws = self.mapping(z, c, psi=psi)  # [N, num_ws, w_dim]
        return self.synthesis(ws, noise_mode=noise_mode, generator=generator)  # type: ignore[no-any-return]
