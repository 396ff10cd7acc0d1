"""nn.fast_layers against the layers they replace: reflection pad + conv, and ReLU on bf16."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from artforge.nn.fast_layers import fusable, reflect_conv, relu_, run_layers


def _padded(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    p = w.shape[-1] // 2
    return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), w, b)


@pytest.mark.parametrize(("k", "h", "w"), [(3, 9, 13), (3, 2, 5), (5, 6, 7), (9, 11, 8), (1, 4, 4)])
def test_reflect_conv_equals_padded_form_in_fp32(k: int, h: int, w: int) -> None:
    g = torch.Generator().manual_seed(k * 100 + h)
    x = torch.randn(2, 4, h, w, generator=g)
    wt, b = torch.randn(5, 4, k, k, generator=g), torch.randn(5, generator=g)
    assert torch.equal(reflect_conv(x, wt, b), _padded(x, wt, b))  # bit for bit: the same sums, in the same order
    assert torch.equal(reflect_conv(x, wt, None), _padded(x, wt, None))


def test_reflect_conv_too_small_for_strips_falls_back() -> None:
    x, wt = torch.randn(1, 2, 3, 9), torch.randn(3, 2, 5, 5)  # h = 3 < 2 p = 4
    assert torch.equal(reflect_conv(x, wt, None), _padded(x, wt, None))


def test_reflect_conv_bf16_within_one_step_and_gradients_match() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, 20, 24, generator=g, requires_grad=True)
    wt = torch.randn(6, 8, 3, 3, generator=g, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, ref = reflect_conv(x.bfloat16(), wt, None).float(), _padded(x.bfloat16(), wt, None).float()
    assert (got - ref).abs().max() <= ref.abs().max() * 2**-7  # one bf16 step of the largest output
    (gx, gw), (rx, rw) = (torch.autograd.grad(f(x, wt, None).square().sum(), (x, wt)) for f in (reflect_conv, _padded))
    for got_g, ref_g in ((gx, rx), (gw, rw)):  # the border's terms are summed in another order: float rounding
        assert (got_g - ref_g).abs().max() <= 1e-5 * ref_g.abs().max()


def test_bf16_relu_on_bits_equals_relu() -> None:
    x = torch.tensor([-3.0, -0.0, 0.0, 1e-30, -1e-30, 2.5, float("inf"), -float("inf")]).bfloat16()
    want = torch.relu(x)
    got = relu_(x.clone())
    assert torch.equal(got, want) and not torch.signbit(got).any()
    y = torch.randn(3, 4, 5)
    assert torch.equal(relu_(y.clone()), torch.relu(y))  # fp32: PyTorch's own


def test_run_layers_matches_sequential_and_fuses_only_the_paper_form() -> None:
    torch.manual_seed(0)
    layers = nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True),
        nn.ReflectionPad2d(1), nn.Conv2d(4, 4, 3, stride=2), nn.InstanceNorm2d(4),  # stride 2: not fused
        nn.ReflectionPad2d(2), nn.Conv2d(4, 3, 5),
    )  # fmt: skip
    x = torch.rand(2, 3, 16, 18)
    assert torch.equal(run_layers(list(layers), x), layers(x))
    assert fusable(layers[0], layers[1]) and not fusable(layers[3], layers[4]) and fusable(layers[6], layers[7])
    assert not fusable(nn.ReflectionPad2d(2), nn.Conv2d(3, 3, 3))  # pad != k // 2


def test_run_layers_takes_the_strip_form_only_for_bf16_outside_autograd() -> None:
    """bf16 inference runs reflect_conv (within a bf16 step of the padded form); fp32 and training keep the pad."""
    torch.manual_seed(1)
    layers = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(6, 6, 3), nn.ReLU(inplace=True))
    x = torch.randn(2, 6, 12, 10).bfloat16()
    calls: list[str] = []
    layers[0].register_forward_hook(lambda *_: calls.append("pad"))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got, ref = run_layers(list(layers), x.clone()).float(), layers(x.clone()).float()
    assert calls == ["pad"]  # the reference ran the pad module; run_layers did not
    assert (got - ref).abs().max() <= ref.abs().max() * 2**-7
    calls.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # weights that want gradients: the padded form
        run_layers(list(layers), x.clone())
    with torch.no_grad():
        run_layers(list(layers), x.float())  # fp32: the padded form
    assert calls == ["pad", "pad"]
