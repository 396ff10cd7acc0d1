"""Arbitrary style transfer, Huang & Belongie 2017: AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y).

T(c, s) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), with f a frozen VGG encoder up to relu4_1
and g a decoder that mirrors it (pooling -> nearest upsampling, reflection padding, no
normalisation). Several styles mix as sum_k w_k AdaIN(f(c), f(s_k)); masks give each style a region.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from artforge.nn.encoders import VGG_PLANS

EPS = 1e-5
LAYER = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def mean_std(x: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mu and sigma = sqrt(var + eps) over H, W of ``[N, C, H, W]``; each ``[N, C, 1, 1]``."""
    var, mu = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    return mu, (var + eps).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), channel by channel."""
    mu_x, sigma_x = mean_std(content, eps)
    mu_y, sigma_y = mean_std(style, eps)
    return sigma_y * (content - mu_x) / sigma_x + mu_y


def mix_targets(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """t = (1 - alpha) f(c) + alpha sum_k w_k AdaIN(f(c), f(s_k)); with masks ``[N, 1, h, w]``
    (resized here to the features), w_k is the mask of style k, normalised to sum to 1 per pixel."""
    ts = [adain(content, s) for s in styles]
    if masks is not None:
        m = torch.cat([F.interpolate(mk.float(), size=content.shape[-2:], mode="bilinear") for mk in masks], 1)
        m = m / m.sum(1, keepdim=True).clamp_min(1e-6)  # [N, K, h, w]
        mixed = sum(t * m[:, k : k + 1] for k, t in enumerate(ts))
    else:
        w = [1.0 / len(ts)] * len(ts) if weights is None else [float(v) / float(sum(weights)) for v in weights]
        mixed = sum(wk * t for wk, t in zip(w, ts, strict=True))
    return (1 - alpha) * content + alpha * mixed  # type: ignore[operator, no-any-return]


def _conv(c_in: int, c_out: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class AdaINDecoder(nn.Module):
    """g: relu4_1 features ``[N, C4, H/8, W/8]`` -> image ``[N, 3, H, W]``; the mirror of the VGG
    encoder's first four blocks (its hidden channel counts divided by ``width``)."""

    def __init__(self, arch: str = "vgg16", width: int = 1, in_channels: int | None = None) -> None:
        super().__init__()
        self.arch, self.width = arch, width
        plan = [[max(c // width, 1) for c in block] for block in VGG_PLANS[arch][:4]]
        layers: list[nn.Module] = []
        c = in_channels or VGG_PLANS[arch][3][0]  # relu4_1 of the (full-width) encoder
        for b in (2, 1, 0):  # block 3 -> 1, mirrored: conv to the block's width, then its remaining convs
            block = plan[b]
            layers += _conv(c, block[-1]) + [nn.Upsample(scale_factor=2, mode="nearest")]
            c = block[-1]
            for c_out in block[:-1][::-1]:
                layers += _conv(c, c_out)
                c = c_out
        layers += _conv(c, 3, relu=False)
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net(t)  # type: ignore[no-any-return]
