"""Johnson's transformer network: odd sizes, the fast pixel-shuffle / space-to-depth / upsample-conv
forms against the plain torch ops, and the paper's layers."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from artforge.nn.transformer import (
    ConvLayer,
    TransformerNet,
    UpsampleConv,
    conv_space_to_depth,
    pixel_shuffle2,
    pixel_unshuffle2,
    upsample_conv,
)


@pytest.mark.parametrize("size", [(37, 50), (64, 64), (17, 90), (21, 19)])
def test_transformer_keeps_odd_sizes(size: tuple[int, int]) -> None:
    net = TransformerNet(width=4)
    x = torch.rand(2, 3, *size)
    assert net(x).shape == x.shape


@pytest.mark.parametrize("channels_last", [False, True])
def test_pixel_shuffle_fast_paths_are_the_torch_ops(channels_last: bool) -> None:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, 12, 5, 7).contiguous(memory_format=fmt)
    assert torch.equal(pixel_shuffle2(x), F.pixel_shuffle(x, 2))
    y = torch.randn(2, 3, 10, 14).contiguous(memory_format=fmt)
    assert torch.equal(pixel_unshuffle2(y), F.pixel_unshuffle(y, 2))
    assert torch.equal(pixel_shuffle2(pixel_unshuffle2(y)), y)


def test_transformer_upsamples_without_transposed_convolutions() -> None:
    net = TransformerNet(width=8)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules()) == 3 + 2 * 5 + 2
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in net.modules()) == 3 + 2 * 5 + 3


def test_upsample_conv_is_nearest_upsampling_then_a_reflection_padded_conv() -> None:
    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 5, 7, 6, generator=gen), torch.randn(4, 5, 3, 3, generator=gen), torch.randn(4)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(up, (1, 1, 1, 1), mode="reflect"), w, b)
    torch.testing.assert_close(upsample_conv(x, w, b), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [3, 5, 9])
def test_space_to_depth_conv_equals_the_full_resolution_conv(k: int) -> None:
    gen = torch.Generator().manual_seed(1)
    xp, w, b = (
        torch.randn(2, 3, 12 + k - 1, 6 + k - 1, generator=gen),
        torch.randn(5, 3, k, k, generator=gen),
        torch.randn(5),
    )
    torch.testing.assert_close(
        conv_space_to_depth(xp, w, b), torch.nn.functional.conv2d(xp, w, b), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("width", [4, 16])
def test_fast_transformer_matches_the_paper_layers(width: int) -> None:
    """The network's fast forms give the outputs of plain upsample -> pad -> conv modules (same weights)."""
    net = TransformerNet(width=width).eval()
    x = torch.rand(1, 3, 38, 45)
    with torch.no_grad():
        fast = net(x)
        for m in net.modules():
            if isinstance(m, ConvLayer):
                m.space_to_depth = False
            if isinstance(m, UpsampleConv):
                m.forward = partial(torch.nn.Sequential.forward, m)  # type: ignore[method-assign]
        ref = net(x)
    torch.testing.assert_close(fast, ref, rtol=1e-4, atol=1e-5)
