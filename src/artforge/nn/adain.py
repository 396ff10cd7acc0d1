"""Arbitrary style transfer, Huang & Belongie 2017: AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y).

T(c, s) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), with f a frozen VGG encoder up to relu4_1
and g a decoder that mirrors it (pooling -> nearest upsampling, reflection padding, no
normalisation). Several styles mix as sum_k w_k AdaIN(f(c), f(s_k)); masks give each style a region.

Optional multi-level skips (artforge's, after Avatar-Net's multi-scale AdaIN, Sheng et al. 2018):
the decoder also adds a 1x1 projection of t_l = AdaIN(f_l(c), f_l(s)) at the scale of each listed
shallower layer l (relu3_1, relu2_1), so it does not have to rebuild the photo's layout from
relu4_1 alone. It trains in far fewer steps (docs/models.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from artforge.nn.encoders import VGG_PLANS
from artforge.nn.fast_layers import step
from artforge.nn.transformer import upsample_conv

EPS = 1e-5
LAYER = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
SKIP_LAYERS = ("relu3_1", "relu2_1", "relu1_1")  # the decoder's scales after each upsampling, in order
DEFAULT_SKIPS = ("relu3_1",)  # what `artforge train --model adain` builds unless --no-skip (docs/models.md)


def mean_std(x: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mu and sigma = sqrt(var + eps) over H, W of ``[N, C, H, W]``; each ``[N, C, 1, 1]``."""
    var, mu = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    return mu, (var + eps).sqrt()


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), channel by channel (as one affine pass)."""
    a, b = adain_affine(mean_std(content, eps), style, eps)
    return torch.addcmul(b, a, content)


def adain_affine(
    content_stats: tuple[torch.Tensor, torch.Tensor], style: torch.Tensor, eps: float = EPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """AdaIN(x, y) = a x + b per channel: a = sigma(y) / sigma(x), b = mu(y) - a mu(x); ``content_stats``
    is ``mean_std(x)``. Each ``[N, C, 1, 1]``."""
    mu_x, sigma_x = content_stats
    mu_y, sigma_y = mean_std(style, eps)
    a = sigma_y / sigma_x
    return a, mu_y - a * mu_x


def mix_targets(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    alpha: float | torch.Tensor = 1.0,
    weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """t = (1 - alpha) f(c) + alpha sum_k w_k AdaIN(f(c), f(s_k)); with masks ``[N, 1, h, w]``
    (resized here to the features), w_k is the mask of style k, normalised to sum to 1 per pixel.
    Without masks t is one per-channel affine map of f(c), applied in a single pass."""
    stats = mean_std(content)
    affines = [adain_affine(stats, s) for s in styles]
    if masks is not None:
        ts = [torch.addcmul(b, a, content) for a, b in affines]
        m = torch.cat([F.interpolate(mk.float(), size=content.shape[-2:], mode="bilinear") for mk in masks], 1)
        m = m / m.sum(1, keepdim=True).clamp_min(1e-6)  # [N, K, h, w]
        mixed = sum(t * m[:, k : k + 1] for k, t in enumerate(ts))
        return (1 - alpha) * content + alpha * mixed  # type: ignore[operator, no-any-return]
    w = [1.0 / len(affines)] * len(affines) if weights is None else [float(v) / float(sum(weights)) for v in weights]
    scale = (1 - alpha) + alpha * sum(wk * a for wk, (a, _) in zip(w, affines, strict=True))
    shift = alpha * sum(wk * b for wk, (_, b) in zip(w, affines, strict=True))
    return torch.addcmul(shift, scale, content)  # type: ignore[arg-type]


def _conv(c_in: int, c_out: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
    return layers + [nn.ReLU(inplace=True)] if relu else layers


class AdaINDecoder(nn.Module):
    """g: relu4_1 features ``[N, C4, H/8, W/8]`` -> image ``[N, 3, H, W]``; the mirror of the VGG
    encoder's first four blocks (its hidden channel counts divided by ``width``).

    ``skips`` (a subset of :data:`SKIP_LAYERS`): after the upsampling to layer l's scale, add
    ``proj_l(t_l)``, a 1x1 conv of that layer's AdaIN target, initialised to the identity where the
    channel counts agree. ``encoder_width`` divides the encoder's channel counts (tests' tiny VGGs).
    """

    def __init__(self, arch: str = "vgg16", width: int = 1, encoder_width: int = 1, skips: Sequence[str] = ()) -> None:
        super().__init__()
        unknown = set(skips) - set(SKIP_LAYERS)
        if unknown:
            raise ValueError(f"AdaIN decoder skips must be among {SKIP_LAYERS}, not {sorted(unknown)}")
        self.arch, self.width = arch, width
        self.skips = tuple(name for name in SKIP_LAYERS if name in skips)
        vgg = VGG_PLANS[arch][:4]
        plan = [[max(c // width, 1) for c in block] for block in vgg]
        layers: list[nn.Module] = []
        self.inject: dict[int, str] = {}  # index in net of an upsampling -> the skip added after it
        self.proj = nn.ModuleDict()
        c = vgg[3][0] // encoder_width  # relu4_1 of the encoder
        for b in (2, 1, 0):  # block 3 -> 1, mirrored: conv to the block's width, then its remaining convs
            block = plan[b]
            layers += _conv(c, block[-1]) + [nn.Upsample(scale_factor=2, mode="nearest")]
            c = block[-1]
            name = f"relu{b + 1}_1"
            if name in self.skips:
                self.inject[len(layers) - 1] = name
                self.proj[name] = _identity_1x1(vgg[b][0] // encoder_width, c)
            for c_out in block[:-1][::-1]:
                layers += _conv(c, c_out)
                c = c_out
        layers += _conv(c, 3, relu=False)
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor, skips: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``t`` the relu4_1 target; ``skips`` the targets of :attr:`skips` by name (a dict of all
        targets, relu4_1 included, will do)."""
        if self.skips and skips is None:
            raise ValueError(f"this decoder also takes the AdaIN targets of {', '.join(self.skips)}")
        h, layers, i = t, list(self.net), 0
        while i < len(layers):
            layer = layers[i]
            name = self.inject.get(i)
            if isinstance(layer, nn.Upsample) and name is None:  # up + pad + conv: the exact low-resolution form
                conv = layers[i + 2]
                assert isinstance(conv, nn.Conv2d)
                h, i = upsample_conv(h, conv.weight, conv.bias), i + 3
                continue
            h, i = step(layers, i, h)  # pad + conv without the padded copy; bf16 ReLU on its bits
            if name is not None:
                assert skips is not None
                s = skips[name]  # ceil-mode pooling: 2 x the coarser size may exceed it by one; crop
                h = h[..., : s.shape[-2], : s.shape[-1]] + self.proj[name](s)
        return h


def target_layers(decoder: nn.Module) -> list[str]:
    """The encoder layers whose AdaIN targets ``decoder`` takes: relu4_1, then its skips (if any)."""
    return [LAYER, *getattr(decoder, "skips", ())]


def _identity_1x1(c_in: int, c_out: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 1)
    assert conv.bias is not None
    if c_in == c_out:
        with torch.no_grad():
            conv.weight.copy_(torch.eye(c_out).view(c_out, c_out, 1, 1))
            nn.init.zeros_(conv.bias)
    return conv


def adain_forward(
    encoder: nn.Module,
    decoder: nn.Module,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    alpha: float | torch.Tensor = 1.0,
    weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """y = g(t), t = (1 - alpha) f(c) + alpha sum_k w_k AdaIN(f(c), f(s_k)) at relu4_1 and the decoder's skips
    (Huang & Belongie 2017), cropped to the content's size, not clamped. ``content`` ``[N, 3, H, W]``; each style
    ``[1, 3, h, w]`` (its statistics broadcast over N) or ``[N, 3, h, w]`` (one style per content image)."""
    layers = target_layers(decoder)
    fc = encoder(content, layers)  # relu4_1: [N, C4, H/8, W/8], and the skips
    fs = [encoder(s, layers) for s in styles]
    t = {k: mix_targets(fc[k], [f[k] for f in fs], alpha, weights, masks) for k in layers}
    return decoder(t[LAYER], t)[..., : content.shape[-2], : content.shape[-1]]  # type: ignore[no-any-return]
