"""AdaIN (Huang & Belongie 2017): the decoder's shape and skips, the formula by hand, target mixing."""

from __future__ import annotations

import pytest
import torch

from artforge.nn.adain import AdaINDecoder, adain, mean_std, mix_targets, target_layers


def test_decoder_mirrors_the_encoder_to_relu4_1() -> None:
    dec = AdaINDecoder("vgg16", width=8)
    t = torch.randn(1, 512, 5, 7)
    assert dec(t).shape == (1, 3, 40, 56)
    assert sum(isinstance(m, torch.nn.Upsample) for m in dec.modules()) == 3
    # forward runs each upsample + pad + conv at low resolution (upsample_conv): the same function
    assert torch.allclose(dec(t), dec.net(t), atol=1e-5)


def test_decoder_skips_add_each_layers_target_at_its_scale() -> None:
    dec = AdaINDecoder("vgg16", width=1, skips=["relu2_1", "relu3_1"])
    assert dec.skips == ("relu3_1", "relu2_1") and target_layers(dec) == ["relu4_1", "relu3_1", "relu2_1"]
    # an odd-sized image, as the ceil-mode encoder sees it: 21x30 -> 11x15 -> 6x8 -> 3x4
    t = {"relu4_1": torch.randn(1, 512, 3, 4), "relu3_1": torch.randn(1, 256, 6, 8),
         "relu2_1": torch.randn(1, 128, 11, 15)}  # fmt: skip
    z = torch.randn(1, 256, 6, 8)
    assert torch.equal(dec.proj["relu3_1"](z), z)  # starts as the identity: t_l itself is added
    out = dec(t["relu4_1"], t)
    assert out.shape == (1, 3, 22, 30)  # the caller crops to the image
    for name in dec.skips:  # each skip reaches the output
        assert not torch.allclose(dec(t["relu4_1"], {**t, name: torch.zeros_like(t[name])}), out)
    # by hand: the relu3_1 skip is added right after the first upsampling
    h = dec.net[:4](t["relu4_1"]) + t["relu3_1"]
    h = dec.net[4:14](h)[..., :11, :15] + t["relu2_1"]
    assert torch.allclose(dec.net[14:](h), out, atol=1e-5)
    with pytest.raises(ValueError, match="takes the AdaIN targets"):
        dec(t["relu4_1"])
    with pytest.raises(ValueError, match="must be among"):
        AdaINDecoder(skips=["relu4_2"])


def test_adain_transfers_channel_mean_and_std() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 9, 11) * 3 + 1
    y = torch.randn(2, 5, 13, 6) * torch.rand(1, 5, 1, 1) * 4 - 2
    out = adain(x, y)
    mu_o, sd_o = mean_std(out)
    mu_y, sd_y = mean_std(y)
    assert torch.allclose(mu_o, mu_y, atol=1e-5) and torch.allclose(sd_o, sd_y, atol=1e-3)
    # the paper's equation, channel by channel, by hand
    c = 3
    xs, ys = x[1, c], y[1, c]
    hand = (ys.var(correction=0) + 1e-5).sqrt() * (xs - xs.mean()) / (xs.var(correction=0) + 1e-5).sqrt() + ys.mean()
    assert torch.allclose(out[1, c], hand, atol=1e-5)


def test_mix_targets_alpha_weights_and_masks() -> None:
    torch.manual_seed(0)
    fc, s1, s2 = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6) + 3, torch.randn(1, 4, 6, 6) - 3
    assert torch.equal(mix_targets(fc, [s1], alpha=0.0), fc)
    half = mix_targets(fc, [s1], alpha=0.5)
    assert torch.allclose(half, 0.5 * fc + 0.5 * adain(fc, s1))
    blend = mix_targets(fc, [s1, s2], weights=[3, 1])
    assert torch.allclose(blend, 0.75 * adain(fc, s1) + 0.25 * adain(fc, s2), atol=1e-6)
    left = torch.zeros(1, 1, 6, 6)
    left[..., :3] = 1
    masked = mix_targets(fc, [s1, s2], masks=[left, 1 - left])
    assert torch.allclose(masked[..., :3], adain(fc, s1)[..., :3]) and torch.allclose(
        masked[..., 3:], adain(fc, s2)[..., 3:]
    )
