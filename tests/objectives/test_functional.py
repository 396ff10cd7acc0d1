"""Loss functions against hand computations, and each module against its pure-function twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artforge.objectives import functional as L
from artforge.objectives.perceptual import ContentLoss, StyleLoss, TVLoss


def test_gram_matches_hand_computation() -> None:
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [-1.0, 2.0]]]])  # [1, 2, 2, 2]
    a = np.array([[1, 2, 3, 4], [0, 1, -1, 2]], dtype=np.float64)
    expected = a @ a.T / 4  # F F^T / (H W)
    assert torch.allclose(L.gram(f)[0].double(), torch.from_numpy(expected))
    assert expected[0, 1] == pytest.approx((0 + 2 - 3 + 8) / 4)


def test_masked_gram_is_gram_of_the_region() -> None:
    torch.manual_seed(0)
    f = torch.randn(1, 3, 4, 6)
    mask = torch.zeros(1, 1, 4, 6)
    mask[..., :, :2] = 1.0  # the left two columns
    region = f[..., :, :2]
    assert torch.allclose(L.gram(f, mask), L.gram(region), atol=1e-6)


def test_content_loss_is_relative_squared_error() -> None:
    p = torch.tensor([1.0, 2.0, 2.0])
    f = torch.tensor([1.0, 0.0, 3.0])
    # ((0)^2 + (-2)^2 + (1)^2) / (1 + 4 + 4)
    assert float(L.content_loss(f, p)) == pytest.approx(5 / 9)
    assert float(L.content_loss(p, p)) == 0.0


def test_style_loss_weights_layers_and_normalises_by_target() -> None:
    torch.manual_seed(1)
    feats = {"a": torch.randn(1, 2, 3, 3), "b": torch.randn(1, 4, 2, 2)}
    targets = {k: L.gram(torch.randn_like(v)) for k, v in feats.items()}
    w = {"a": 1.0, "b": 3.0}
    per_layer = {}
    for k, v in feats.items():
        g = v.reshape(v.shape[1], -1).double()
        g = g @ g.T / g.shape[1]
        t = targets[k][0].double()
        per_layer[k] = float(((g - t) ** 2).sum() / (t**2).sum())
    expected = (1.0 * per_layer["a"] + 3.0 * per_layer["b"]) / 4.0
    assert float(L.style_loss(feats, targets, w)) == pytest.approx(expected, rel=1e-5)


def test_style_loss_is_zero_at_its_target_and_scale_free() -> None:
    torch.manual_seed(2)
    f = {"x": torch.randn(1, 3, 5, 5)}
    assert float(L.style_loss(f, {"x": L.gram(f["x"])}, {"x": 1.0})) == pytest.approx(0.0, abs=1e-6)
    # Relative error: scaling features and target together leaves the loss unchanged.
    t = {"x": L.gram(torch.randn(1, 3, 5, 5))}
    a = L.style_loss(f, t, {"x": 1.0})
    b = L.style_loss({"x": 10 * f["x"]}, {"x": 100 * t["x"]}, {"x": 1.0})
    assert float(a) == pytest.approx(float(b), rel=1e-5)


def test_tv_loss_hand_computation() -> None:
    x = torch.tensor([[[[0.0, 1.0], [1.0, 3.0]]]])
    # vertical diffs: 1, 2 -> mean of squares 2.5 ; horizontal: 1, 2 -> 2.5
    assert float(L.tv_loss(x)) == pytest.approx(5.0)
    assert float(L.tv_loss(torch.ones(1, 3, 4, 4))) == 0.0


def test_blend_grams_is_weighted_mean() -> None:
    g1 = {"l": torch.ones(1, 2, 2)}
    g2 = {"l": 3 * torch.ones(1, 2, 2)}
    out = L.blend_grams([g1, g2], [1.0, 3.0])
    assert torch.allclose(out["l"], torch.full((1, 2, 2), 2.5))


def test_modules_equal_their_functional_twins() -> None:
    torch.manual_seed(3)
    f = {"a": torch.randn(1, 3, 4, 4), "b": torch.randn(1, 5, 2, 2)}
    t = {k: L.gram(torch.randn_like(v)) for k, v in f.items()}
    w = {"a": 0.5, "b": 2.0}
    assert torch.equal(StyleLoss(t, w)(f), L.style_loss(f, t, w))
    p = torch.randn(1, 3, 4, 4)
    assert torch.equal(ContentLoss(p)(f["a"]), L.content_loss(f["a"], p))
    img = torch.rand(1, 3, 8, 8)
    assert torch.equal(TVLoss()(img), L.tv_loss(img))


def test_gram_targets_tiled_equals_untiled(tiny_vgg: torch.nn.Module) -> None:
    from artforge.objectives.perceptual import gram_targets

    torch.manual_seed(4)
    img = torch.rand(1, 3, 64, 64)
    layers = ["relu1_1", "relu2_1"]
    whole = gram_targets(tiny_vgg, img, layers, tile=1024)  # type: ignore[arg-type]
    tiled = gram_targets(tiny_vgg, img, layers, tile=32)  # type: ignore[arg-type]
    # Tiles see zero padding at their borders, so equality is approximate; relu1_1 is 3x3-local.
    for name in layers:
        rel = (whole[name] - tiled[name]).norm() / whole[name].norm()
        assert float(rel) < 0.08, name


def test_gram_custom_backward_matches_numerical_gradient() -> None:
    torch.manual_seed(5)
    f = torch.randn(2, 4, 5, 3, dtype=torch.double, requires_grad=True)
    m = torch.rand(2, 1, 5, 3, dtype=torch.double)
    assert torch.autograd.gradcheck(lambda t: L.gram(t), (f,))
    assert torch.autograd.gradcheck(lambda t: L.gram(t, m), (f,))
    nhwc = f.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: L.gram(t), (nhwc,))


def test_encoder_conv_outputs_survive_in_place_relu(tiny_vgg: torch.nn.Module) -> None:
    out = tiny_vgg(torch.rand(1, 3, 32, 32), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()  # not clobbered by the in-place ReLU
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp_min(0))
