"""StyleGAN2 networks: modulated conv vs a per-sample loop, demodulation, FIR resampling vs scipy, equalised lr,
truncation, noise modes, shapes, gradients, minibatch stddev by hand, bf16 autocast."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d
from torch import Tensor

from artforge.nn.stylegan2 import (
    Conv2d,
    Discriminator,
    FullyConnected,
    Generator,
    MappingNetwork,
    MinibatchStd,
    NoiseInjection,
    SynthesisNetwork,
    channels_at,
    demodulation,
    downsample2d,
    fir_filter,
    mbstd_group_size,
    modulated_conv2d,
    upfirdn2d,
    upsample2d,
)

TINY = {"channel_base": 128, "channel_max": 8}  # 8 channels up to 16 px, 4 at 32 px
F14 = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0


def _generator(resolution: int = 16, num_classes: int = 0) -> Generator:
    return Generator(z_dim=8, w_dim=8, resolution=resolution, channels=3, num_classes=num_classes, **TINY)


def _set_noise_strength(g: Generator, value: float) -> None:
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.strength.fill_(value)


# --- modulated convolution -------------------------------------------------------------------------------------------


def _modulated_weight(weight: Tensor, s: Tensor, demodulate: bool) -> Tensor:
    """One sample's weight, written out: w'_oikl = s_i w_oikl, then divided by sqrt(sum_ikl w'^2 + 1e-8)."""
    w = weight * s.reshape(1, -1, 1, 1)  # [O, I, k, k]
    if demodulate:
        w = w / torch.sqrt(w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
    return w


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_modulated_conv2d_matches_a_per_sample_loop(k: int, demodulate: bool) -> None:
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 5), torch.randn(5, 4, k, k), torch.randn(3, 4) + 1.0
    y = modulated_conv2d(x, weight, styles, demodulate)
    ref = torch.cat(
        [F.conv2d(x[n : n + 1], _modulated_weight(weight, styles[n], demodulate), padding=k // 2) for n in range(3)]
    )
    assert y.shape == (3, 5, 6, 5)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


def test_demodulation_matmul_equals_the_norm_of_each_modulated_weight() -> None:
    """d_no from one matmul equals 1 / sqrt(sum_ikl (s_ni w_oikl)^2 + 1e-8) of the written-out weight, per sample."""
    torch.manual_seed(1)
    weight, styles = torch.randn(6, 4, 3, 3), torch.randn(5, 4) + 1.0
    d = demodulation(styles, weight)
    norms = [(weight * s.reshape(1, -1, 1, 1)).pow(2).sum(dim=(1, 2, 3)) for s in styles]  # [O] each
    ref = torch.stack([1 / torch.sqrt(n + 1e-8) for n in norms])
    assert d.shape == (5, 6)
    torch.testing.assert_close(d, ref, atol=1e-6, rtol=1e-5)


def test_modulated_conv2d_up2_matches_zero_insertion_conv_and_blur() -> None:
    """up=2 = zero insertion, 'full' correlation with each sample's weight, then the x4 [1,3,3,1] blur (in scipy)."""
    torch.manual_seed(0)
    n, i, o, h, w = 2, 3, 2, 4, 5
    x, weight, styles = torch.randn(n, i, h, w), torch.randn(o, i, 3, 3), torch.randn(n, i)
    y = modulated_conv2d(x, weight, styles, up=2, resample_filter=fir_filter()).numpy()
    assert y.shape == (n, o, 2 * h, 2 * w)
    blur = 4.0 * np.outer(F14, F14)
    for s in range(n):
        wm = _modulated_weight(weight, styles[s], True).double().numpy()
        for oc in range(o):
            acc = np.zeros((2 * h + 1, 2 * w + 1))
            for ic in range(i):
                u = np.zeros((2 * h - 1, 2 * w - 1))
                u[::2, ::2] = x[s, ic].double().numpy()
                acc += convolve2d(u, wm[oc, ic, ::-1, ::-1], mode="full")  # correlation with w
            ref = convolve2d(acc, blur, mode="full")[2 : 2 + 2 * h, 2 : 2 + 2 * w]
            np.testing.assert_allclose(y[s, oc], ref, atol=1e-5)


def test_modulated_conv2d_up2_with_a_centre_tap_kernel_is_upsample2d() -> None:
    """Alignment: the upsampling conv adds no shift, so an identity 3x3 kernel reproduces the FIR upsampler."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4)
    weight = torch.zeros(3, 3, 3, 3)
    weight[torch.arange(3), torch.arange(3), 1, 1] = 1.0
    y = modulated_conv2d(x, weight, torch.ones(2, 3), demodulate=True, up=2, resample_filter=fir_filter())
    torch.testing.assert_close(y, upsample2d(x, fir_filter()), atol=1e-5, rtol=1e-5)


def test_demodulation_gives_unit_output_std() -> None:
    torch.manual_seed(0)
    x, weight = torch.randn(4, 64, 20, 20), torch.randn(32, 64, 3, 3)
    styles = torch.randn(4, 64) * 3.0 + 1.0
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # away from the zero padding
    assert modulated_conv2d(x, weight, styles)[inner].std().item() == pytest.approx(1.0, abs=0.05)
    assert modulated_conv2d(x, weight, styles, demodulate=False)[inner].std().item() > 10.0  # without: unscaled


# --- FIR resampling --------------------------------------------------------------------------------------------------


def _upfirdn2d_ref(x: np.ndarray, f2: np.ndarray, up: int, down: int, pad: tuple[int, int, int, int]) -> np.ndarray:
    """The definition on one 2-D map: zero insertion, pad/crop, valid true 2-D convolution, keep every down-th."""
    h, w = x.shape
    u = np.zeros((h * up, w * up))
    u[::up, ::up] = x
    x0, x1, y0, y1 = pad
    u = np.pad(u, ((max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))))
    u = u[max(-y0, 0) : u.shape[0] - max(-y1, 0), max(-x0, 0) : u.shape[1] - max(-x1, 0)]
    out: np.ndarray = convolve2d(u, f2, mode="valid")[::down, ::down]
    return out


@pytest.mark.parametrize(
    ("up", "down", "pad", "separable"),
    [(1, 1, (1, 2, 2, 1), False), (2, 1, (2, 1, 2, 1), True), (1, 2, (1, 1, 1, 1), True), (2, 2, (3, -1, 0, 2), False)],
)
def test_upfirdn2d_matches_the_definition(up: int, down: int, pad: tuple[int, int, int, int], separable: bool) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    if separable:
        f1 = torch.tensor([1.0, 2.0, 5.0, 1.0], dtype=torch.float64)  # asymmetric: catches a missing flip
        f2 = np.outer(f1.numpy(), f1.numpy())
        y = upfirdn2d(x, f1, up, down, pad, gain=3.0)
    else:
        f2 = np.arange(12.0).reshape(3, 4) - 4.0
        y = upfirdn2d(x, torch.from_numpy(f2), up, down, pad, gain=3.0)
    for n in range(2):
        for c in range(3):
            np.testing.assert_allclose(y[n, c].numpy(), 3.0 * _upfirdn2d_ref(x[n, c].numpy(), f2, up, down, pad))


def test_upsample2d_and_downsample2d_closed_forms() -> None:
    """[1,3,3,1]: up = 0.25 x[i-1] + 0.75 x[i] at 2i (bilinear, half-pixel centres); down = (x[2p-1] + 3x[2p] ..)/8."""
    torch.manual_seed(0)
    x, f = torch.randn(2, 3, 6, 8, dtype=torch.float64), fir_filter().double()
    up = upsample2d(x, f)
    assert up.shape == (2, 3, 12, 16)
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1])  # borders: zero padding vs clamping
    down = downsample2d(x, f)
    assert down.shape == (2, 3, 3, 4)
    blur = np.outer(F14, F14)
    for n in range(2):
        for c in range(3):
            full = convolve2d(x[n, c].numpy(), blur, mode="full")  # full[q] = sum_t f[t] x[q - t]
            np.testing.assert_allclose(down[n, c].numpy(), full[2:-2:2, 2:-2:2][:3, :4], atol=1e-12)


def test_fir_resampling_keeps_a_constant_image_constant() -> None:
    x, f = torch.full((1, 2, 8, 8), 0.7), fir_filter()
    torch.testing.assert_close(upsample2d(x, f)[..., 1:-1, 1:-1], torch.full((1, 2, 14, 14), 0.7))
    torch.testing.assert_close(downsample2d(x, f)[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 0.7))


# --- equalised learning rate -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr_mul", [1.0, 0.01])
def test_fully_connected_equalised_lr(lr_mul: float) -> None:
    torch.manual_seed(0)
    fc = FullyConnected(256, 128, bias_init=0.5, lr_mul=lr_mul)
    assert fc.weight.std().item() == pytest.approx(1.0 / lr_mul, rel=0.02)  # stored N(0, 1) / lr_mul
    torch.testing.assert_close(fc.effective_weight(), fc.weight * lr_mul / 16.0)
    effective_bias = fc.effective_bias()
    assert effective_bias is not None
    torch.testing.assert_close(effective_bias, torch.full((128,), 0.5))
    x = torch.randn(512, 256)
    assert fc.bias is not None
    torch.testing.assert_close(fc(x), F.linear(x, fc.weight * lr_mul / 16.0, fc.bias * lr_mul))
    assert (fc(x) - 0.5).std().item() == pytest.approx(1.0, abs=0.05)
    lrelu = FullyConnected(256, 128, lr_mul=lr_mul, activation="lrelu")
    assert lrelu(x).pow(2).mean().item() == pytest.approx(1.0, abs=0.1)  # gain sqrt(2) keeps the second moment


def test_conv2d_equalised_lr_and_downsampling() -> None:
    torch.manual_seed(0)
    conv = Conv2d(32, 16, 3)
    torch.testing.assert_close(conv.effective_weight(), conv.weight / math.sqrt(32 * 9))
    x = torch.randn(4, 32, 16, 16)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(32 * 9), padding=1))
    assert conv(x)[..., 1:-1, 1:-1].std().item() == pytest.approx(1.0, abs=0.05)
    f = fir_filter()
    down = Conv2d(32, 16, 3, down=2)
    down.weight = conv.weight
    # blur + stride 2 = 'same' conv, then the FIR downsampler (same taps, same centre; borders differ by padding)
    torch.testing.assert_close(down(x)[..., 1:-1, 1:-1], downsample2d(conv(x), f)[..., 1:-1, 1:-1])
    skip = Conv2d(32, 16, 1, bias=False, down=2)
    torch.testing.assert_close(skip(x), downsample2d(F.conv2d(x, skip.weight / math.sqrt(32)), f))


# --- mapping, truncation, noise --------------------------------------------------------------------------------------


def test_truncation_and_w_avg() -> None:
    torch.manual_seed(0)
    mapping = MappingNetwork(z_dim=8, w_dim=6, num_ws=5)
    z = torch.randn(16, 8)
    ws = mapping(z, update_w_avg=True)
    assert ws.shape == (16, 5, 6)
    torch.testing.assert_close(mapping.w_avg, 0.005 * ws[:, 0].mean(0))  # from zeros, beta 0.995
    assert torch.equal(ws[:, 0], ws[:, 4])  # one w broadcast to every layer
    avg = mapping.w_avg
    torch.testing.assert_close(mapping(z, psi=1.0, cutoff=2), ws)
    torch.testing.assert_close(mapping(z, psi=0.0), avg.expand(16, 5, 6))
    torch.testing.assert_close(mapping(z, psi=0.7), avg + 0.7 * (ws - avg))
    cut = mapping(z, psi=0.7, cutoff=2)
    torch.testing.assert_close(cut[:, :2], avg + 0.7 * (ws[:, :2] - avg))
    assert torch.equal(cut[:, 2:], ws[:, 2:])

    g = _generator(8)
    g.mapping(torch.randn(64, 8), update_w_avg=True)
    x = g(torch.randn(4, 8), psi=0.0, noise_mode="const")
    torch.testing.assert_close(x, x[:1].expand_as(x))  # psi = 0: every z gives the same image


def test_noise_modes() -> None:
    torch.manual_seed(0)
    g = _generator(8)
    _set_noise_strength(g, 1.0)
    ws = g.mapping(torch.randn(2, 8))
    const = g.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(g.synthesis(ws, noise_mode="const"), const, rtol=0, atol=0)
    seeded = g.synthesis(ws, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(g.synthesis(ws, generator=torch.Generator().manual_seed(3)), seeded, rtol=0, atol=0)
    assert not torch.allclose(g.synthesis(ws, generator=torch.Generator().manual_seed(4)), seeded)
    assert not torch.allclose(g.synthesis(ws), g.synthesis(ws))  # fresh noise per call
    none = g.synthesis(ws, noise_mode="none")
    assert not torch.allclose(none, const) and not torch.allclose(none, seeded)
    _set_noise_strength(g, 0.0)
    torch.testing.assert_close(g.synthesis(ws, noise_mode="const"), g.synthesis(ws, noise_mode="none"))
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesis(ws, noise_mode="fixed")


def test_noise_strength_is_per_channel() -> None:
    layer = NoiseInjection(channels=3, resolution=4)
    with torch.no_grad():
        layer.strength.copy_(torch.tensor([0.0, 2.0, 0.0]))
    x = torch.zeros(2, 3, 4, 4)
    y = layer(x, noise_mode="const")
    assert torch.equal(y[:, 0], x[:, 0]) and torch.equal(y[:, 2], x[:, 2])
    torch.testing.assert_close(y[:, 1], 2.0 * layer.noise_const.expand(2, 4, 4))


def test_const_noise_is_saved_with_the_weights() -> None:
    torch.manual_seed(0)
    g = _generator(8)
    _set_noise_strength(g, 0.5)
    state = g.state_dict()
    assert any(k.endswith("noise_const") for k in state) and "mapping.w_avg" in state
    assert not any("resample_filter" in k for k in state)  # a constant, not a weight
    torch.manual_seed(1)
    h = _generator(8)
    h.load_state_dict(state)
    z = torch.randn(2, 8)
    torch.testing.assert_close(h(z, noise_mode="const"), g(z, noise_mode="const"))


# --- whole networks --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_classes", [0, 5])
@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_shapes_and_num_ws(resolution: int, num_classes: int) -> None:
    torch.manual_seed(0)
    g = _generator(resolution, num_classes)
    d = Discriminator(resolution, 3, num_classes, **TINY)
    assert g.num_ws == g.synthesis.num_ws == g.mapping.num_ws == 2 * int(math.log2(resolution)) - 2
    c = torch.tensor([0, 4, 1]) if num_classes else None
    ws = g.mapping(torch.randn(3, 8), c)
    assert ws.shape == (3, g.num_ws, 8)
    x = g.synthesis(ws)
    assert x.shape == (3, 3, resolution, resolution) and torch.isfinite(x).all()
    assert d(x, c).shape == (3,)
    if num_classes:
        z = torch.randn(3, 8)
        assert not torch.allclose(g(z, torch.tensor([0, 0, 0]), noise_mode="none"), g(z, c, noise_mode="none"))
        assert not torch.allclose(d(x, torch.tensor([0, 0, 0])), d(x, c))
        with pytest.raises(ValueError, match="conditional"):
            d(x)
    with pytest.raises(ValueError, match="ws must have shape"):
        g.synthesis(ws[:, 1:])
    with pytest.raises(ValueError, match="images must have shape"):
        d(x[:, :1])


def test_channels_and_resolution_checks() -> None:
    assert [channels_at(r, 16384, 512) for r in (4, 32, 64, 256)] == [512, 512, 256, 64]
    assert [channels_at(r, 2048, 128) for r in (4, 16, 32)] == [128, 128, 64]
    with pytest.raises(ValueError, match="power of two"):
        SynthesisNetwork(8, 24, 3, 128, 8)
    with pytest.raises(ValueError, match="power of two"):
        Discriminator(2, 3)


@pytest.mark.parametrize("num_classes", [0, 3])
def test_gradients_reach_every_parameter(num_classes: int) -> None:
    torch.manual_seed(0)
    g, d = _generator(16, num_classes), Discriminator(16, 3, num_classes, **TINY)
    c = torch.tensor([0, 1, 2, 1]) if num_classes else None
    d(g(torch.randn(4, 8), c), c).square().sum().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bf16_autocast() -> None:
    torch.manual_seed(0)
    g, d = _generator(16, 3), Discriminator(16, 3, 3, **TINY)
    z, c = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    ref = g(z, c, noise_mode="const")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = g(z, c, noise_mode="const")
        logits = d(x, c)
    assert torch.isfinite(logits).all() and logits.shape == (4,)
    assert (x.float() - ref).abs().max().item() < 0.1 * ref.abs().max().item()
    logits.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())


# --- minibatch standard deviation ------------------------------------------------------------------------------------


def test_minibatch_std_by_hand() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 6, 3, 3, dtype=torch.float64)
    y = MinibatchStd(group_size=4)(x)
    assert y.shape == (8, 7, 3, 3) and torch.equal(y[:, :6], x)
    xs = x.numpy()
    for members in ([0, 2, 4, 6], [1, 3, 5, 7]):  # sample j is in group j mod (N / G)
        g = xs[members]  # [4, 6, 3, 3]
        std = np.sqrt(((g - g.mean(axis=0)) ** 2).mean(axis=0) + 1e-8).mean()  # population std, mean over c, h, w
        for j in members:
            np.testing.assert_allclose(y[j, 6].numpy(), np.full((3, 3), std))
    # a group size that does not divide N falls back to the largest one that does
    assert [mbstd_group_size(n, 4) for n in (8, 6, 5, 2, 1)] == [4, 3, 1, 2, 1]
    y3 = MinibatchStd(group_size=4)(x[:6])
    g3 = xs[[0, 2, 4]]
    np.testing.assert_allclose(y3[0, 6, 0, 0].item(), np.sqrt(((g3 - g3.mean(0)) ** 2).mean(0) + 1e-8).mean())
