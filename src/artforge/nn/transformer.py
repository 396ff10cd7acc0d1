"""Johnson et al. 2016 feed-forward stylisation network y = f_W(x), trained once per style.

Reflection padding, instance normalisation (Ulyanov et al. 2016), five residual blocks, and
nearest-neighbour upsampling followed by a convolution instead of transposed convolutions, which
avoids checkerboard artefacts (Odena et al. 2016). ``width`` is the first layer's channel count:
32 is the paper's network, 16 the half-width default, 8 the quarter-width fast network.

Two layers are computed in exactly equivalent but cheaper forms (same weights, same outputs up to
float rounding): conv3x3(pad(up2(x))) as one low-resolution convolution with 4x the outputs followed
by a pixel shuffle (Shi et al. 2016), and the full-resolution 9x9 convolutions of narrow networks
at half resolution through space-to-depth, where convolutions with few outputs run badly on CPUs;
and reflection pad + conv without the padded copy (``nn.fast_layers``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from artforge.nn.fast_layers import run_layers

S2D_MAX_OUT = 8  # 9x9 layers with at most this many output channels run through space-to-depth (2x faster on CPU)


def pixel_shuffle2(x: torch.Tensor) -> torch.Tensor:
    """``F.pixel_shuffle(x, 2)``, exactly. On NCHW-contiguous tensors a reshape-permute copy is ~2x
    faster than its CPU kernel; channels-last tensors and ONNX export (DepthToSpace) keep the op."""
    if not x.is_contiguous() or torch.onnx.is_in_onnx_export():
        return F.pixel_shuffle(x, 2)
    n, c, h, w = x.shape
    return x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)


def pixel_unshuffle2(x: torch.Tensor) -> torch.Tensor:
    """``F.pixel_unshuffle(x, 2)``, exactly; the same fast path as :func:`pixel_shuffle2`."""
    if not x.is_contiguous() or torch.onnx.is_in_onnx_export():
        return F.pixel_unshuffle(x, 2)
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def _phase_taps(w: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A 3-tap kernel along ``dim`` seen from a 2x nearest-upsampled signal's even and odd outputs.

    up[2i + a] = x[i] for a in {0, 1}, so the even output y[2i] = w0 x[i-1] + (w1 + w2) x[i] and
    the odd output y[2i+1] = (w0 + w1) x[i] + w2 x[i+1]: two 3-tap kernels on x (offsets -1, 0, 1).
    """
    w0, w1, w2 = w.unbind(dim)
    zero = torch.zeros_like(w0)
    return torch.stack([w0, w1 + w2, zero], dim), torch.stack([zero, w0 + w1, w2], dim)


def upsample_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv3x3(reflect_pad_1(nearest_up_2(x))), computed at x's resolution (exact).

    Reflection-padding the upsampled image by one pixel equals replicate-padding x by one, so each
    of the four output phases (a, b) is a 3x3 convolution of replicate-padded x; the phases become
    channels o*4 + 2a + b, which ``pixel_shuffle`` interleaves into [N, O, 2H, 2W].
    """
    o, c = weight.shape[:2]
    rows = _phase_taps(weight, 2)
    phases = [_phase_taps(rows[a], 3)[b] for a in (0, 1) for b in (0, 1)]
    kernel = torch.stack(phases, 1).reshape(4 * o, c, 3, 3)
    b4 = None if bias is None else bias.repeat_interleave(4)
    return pixel_shuffle2(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, b4))


def space_to_depth_kernel(weight: torch.Tensor) -> torch.Tensor:
    """[O, C, k, k] -> [4 O, 4 C, m, m], m = (k + 2) // 2: the same stride-1 convolution between
    space-to-depth (``pixel_unshuffle(2)``) input and output phases. Output phase (a, b) at (i, j) is
    pixel (2i + a, 2j + b) = sum w[dy, dx] x[2i + a + dy, 2j + b + dx]; with a + dy = 2 m' + p that is
    input phase (p, q) at tap (m', n')."""
    o, c, k, _ = weight.shape
    m = (k + 2) // 2
    kernels = []
    for a in (0, 1):
        for b in (0, 1):
            big = weight.new_zeros(o, c, 2 * m, 2 * m)
            big[:, :, a : a + k, b : b + k] = weight
            kernels.append(big.reshape(o, c, m, 2, m, 2).permute(0, 1, 3, 5, 2, 4).reshape(o, 4 * c, m, m))
    return torch.stack(kernels, 1).reshape(4 * o, 4 * c, m, m)


def conv_space_to_depth(xp: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv2d(xp, weight, bias)`` (stride 1, no padding, odd k, even-sized output) at half resolution."""
    b4 = None if bias is None else bias.repeat_interleave(4)
    return pixel_shuffle2(F.conv2d(pixel_unshuffle2(xp), space_to_depth_kernel(weight), b4))


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv (k x k, stride s) [-> instance norm -> ReLU]."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, norm_act: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride)]
        if norm_act:
            layers += [nn.InstanceNorm2d(c_out, affine=True), nn.ReLU(inplace=True)]
        super().__init__(*layers)
        self.space_to_depth = stride == 1 and k >= 5 and c_out <= S2D_MAX_OUT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if not (self.space_to_depth and h % 2 == 0 and w % 2 == 0):
            return run_layers(list(self), x)
        pad, conv, *rest = list(self)
        assert isinstance(conv, nn.Conv2d)
        return run_layers(rest, conv_space_to_depth(pad(x), conv.weight, conv.bias))


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))) (He et al. 2016, as in Johnson et al.'s supplement)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + run_layers(list(self.conv2), self.conv1(x))


class UpsampleConv(nn.Sequential):
    """Nearest x2 upsampling -> ConvLayer (no checkerboard, unlike ConvTranspose2d).

    Runs as ``upsample_conv`` (the same function at a quarter of the pixels) when the convolution
    is 3x3; the modules stay as the paper's so the weights and the reference path are unchanged.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(c_in, c_out, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self[1]
        assert isinstance(layer, ConvLayer)
        _, conv, *rest = list(layer)
        assert isinstance(conv, nn.Conv2d)
        return run_layers(rest, upsample_conv(x, conv.weight, conv.bias))


class TransformerNet(nn.Module):
    """Image transformation network: ``[N, 3, H, W]`` in [0, 1] -> ``[N, 3, H, W]`` (any H, W >= 1).

    Inputs are reflection-padded to a multiple of 4 (two stride-2 convolutions) and the output is
    cropped back, so odd sizes come out at exactly the input's size.

    ``skip`` (artforge's default for new models, not in the paper): y = x + f_W(x) with the last
    convolution zero-initialised, so training starts from the identity and only learns the
    stylisation. The paper's network has to learn to reproduce the photo through instance-normalised
    features first; in a short CPU budget (a few thousand 128 px steps) it never got there and lost
    the content (docs/models.md), while the skip network keeps it from the first step.
    """

    def __init__(self, width: int = 16, blocks: int = 5, skip: bool = False) -> None:
        super().__init__()
        self.width, self.blocks, self.skip = width, blocks, skip
        c1, c2, c3 = width, 2 * width, 4 * width
        self.down = nn.Sequential(ConvLayer(3, c1, 9), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2))
        self.res = nn.Sequential(*[ResidualBlock(c3) for _ in range(blocks)])
        out = ConvLayer(c1, 3, 9, norm_act=False)
        self.up = nn.Sequential(UpsampleConv(c3, c2), UpsampleConv(c2, c1), out)
        if skip:  # start as the identity: y = x + 0
            last = out[1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        y: torch.Tensor = self.up(self.res(self.down(x)))  # [N, 3, H', W']
        if self.skip:
            y = x + y
        return y[..., :h, :w]
