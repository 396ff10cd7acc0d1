"""Exact, cheaper forms of two CPU-bound inference layers: reflection pad + conv, and ReLU in bf16.

conv_kxk(reflect_pad_p(x)), p = k // 2, without materialising the padded tensor: the interior of the output
does not see the padding, so it is the same convolution with zero padding (which oneDNN applies inside the
kernel, with no copy); only the outer p rows and columns differ, and they are recomputed from thin reflection-
padded strips. In fp32 the result equals the padded form bit for bit; under bf16 autocast it is within one
bf16 step. On CPU the copy that ``ReflectionPad2d`` makes of a wide bf16 full-resolution activation costs about
as much as the convolution itself (AdaIN's decoder at 512 px: 70% of the network's time). :func:`step` uses it
only where it pays on whole networks (2 cores, AMX; medians of 7 interleaved runs): bf16 inference, AdaIN's
decoder x1.46. In fp32 inference and in training the four strip convolutions (and their backward passes) cost
about what the copy saves (single runs: x0.9-1.07 and x0.8-1.0), so those keep the padded form.

max(x, 0) on bf16 as an int16 clamp of its bits (a negative bf16 has the sign bit set, i.e. is a negative
int16; -0.0 becomes +0.0): 5x faster than PyTorch's bf16 ``relu_`` on CPU, which is not vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _exporting() -> bool:
    """ONNX export, torch.export or tracing: the graph keeps the plain layers (no shape-dependent branches)."""
    return bool(torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling() or torch._C._get_tracing_state())


def reflect_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.conv2d(F.pad(x, (p,) * 4, mode="reflect"), weight, bias)`` for an odd square kernel, stride 1."""
    p = weight.shape[-1] // 2
    h, w = x.shape[-2:]
    if p == 0 or _exporting() or h < 2 * p or w < 2 * p:
        return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), weight, bias)
    y = F.conv2d(x, weight, bias, padding=p)
    y[..., :p, :] = F.conv2d(F.pad(x[..., : 2 * p, :], (p, p, p, 0), mode="reflect"), weight, bias)
    y[..., -p:, :] = F.conv2d(F.pad(x[..., -2 * p :, :], (p, p, 0, p), mode="reflect"), weight, bias)
    y[..., :, :p] = F.conv2d(F.pad(x[..., :, : 2 * p], (p, 0, p, p), mode="reflect"), weight, bias)
    y[..., :, -p:] = F.conv2d(F.pad(x[..., :, -2 * p :], (0, p, p, p), mode="reflect"), weight, bias)
    return y


def fusable(pad: nn.Module, conv: nn.Module) -> bool:
    """``pad`` then ``conv`` is a symmetric reflection pad of k // 2 before an unpadded stride-1 k x k conv."""
    if not (isinstance(pad, nn.ReflectionPad2d) and isinstance(conv, nn.Conv2d)):
        return False
    k = conv.kernel_size
    return (
        k[0] == k[1] and k[0] % 2 == 1 and tuple(pad.padding) == (k[0] // 2,) * 4 and conv.stride == (1, 1)
        and conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1
    )  # fmt: skip


def relu_(x: torch.Tensor) -> torch.Tensor:
    """``x.relu_()``; a bf16 CPU tensor outside autograd through its int16 bits (NaN with the sign set -> 0)."""
    if (
        x.dtype == torch.bfloat16
        and x.device.type == "cpu"
        and not (torch.is_grad_enabled() and x.requires_grad or _exporting())
    ):
        x.view(torch.int16).clamp_min_(0)
        return x
    return x.relu_()


def _bf16_inference(x: torch.Tensor, conv: nn.Module) -> bool:
    """A bf16 activation (e.g. under autocast) and nothing to differentiate: where :func:`reflect_conv` pays."""
    grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in conv.parameters()))
    return x.dtype == torch.bfloat16 and not grad


def step(layers: Sequence[nn.Module], i: int, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Layer ``i`` on ``x`` -> (output, index of the next layer): a fusable (ReflectionPad2d, Conv2d) pair on a
    bf16 activation outside autograd as :func:`reflect_conv`, an in-place ReLU as :func:`relu_`, any other layer as
    itself."""
    layer = layers[i]
    if i + 1 < len(layers) and fusable(layer, layers[i + 1]) and _bf16_inference(x, layers[i + 1]):
        conv = layers[i + 1]
        assert isinstance(conv, nn.Conv2d)
        return reflect_conv(x, conv.weight, conv.bias), i + 2
    if isinstance(layer, nn.ReLU) and layer.inplace:
        return relu_(x), i + 1
    return layer(x), i + 1


def run_layers(layers: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The layers in order, through :func:`step`."""
    i = 0
    while i < len(layers):
        x, i = step(layers, i, x)
    return x
