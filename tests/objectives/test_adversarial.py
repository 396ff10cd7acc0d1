"""GAN objectives against their formulas on hand-picked logits; the WGAN-GP gradient penalty on known critics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from artforge.nn.dcgan import DCGANDiscriminator
from artforge.objectives.adversarial import LOSSES, d_loss, g_loss, gradient_penalty

REAL = [0.0, 2.0, -1.0]
FAKE = [1.0, -2.0, 0.25]


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_d_loss_matches_the_formulas() -> None:
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    bce = _mean([-math.log(_sigmoid(r)) for r in REAL]) + _mean([-math.log(1 - _sigmoid(f)) for f in FAKE])
    assert float(d_loss("bce", real, fake)) == pytest.approx(bce, rel=1e-6)
    # relu(1 - r): 1, 0, 2; relu(1 + f): 2, 0, 1.25
    assert float(d_loss("hinge", real, fake)) == pytest.approx(3 / 3 + 3.25 / 3, rel=1e-6)
    assert float(d_loss("wgan-gp", real, fake)) == pytest.approx(_mean(FAKE) - _mean(REAL), rel=1e-6)


def test_g_loss_matches_the_formulas() -> None:
    fake = torch.tensor(FAKE)
    assert float(g_loss("bce", fake)) == pytest.approx(_mean([-math.log(_sigmoid(f)) for f in FAKE]), rel=1e-6)
    assert float(g_loss("hinge", fake)) == pytest.approx(-_mean(FAKE), rel=1e-6)
    assert float(g_loss("wgan-gp", fake)) == pytest.approx(-_mean(FAKE), rel=1e-6)


def test_bce_generator_loss_is_non_saturating() -> None:
    # D confidently rejects the fake (logit -6): log(1 - D(G(z))) saturates, -log D(G(z)) does not.
    f = torch.tensor([-6.0], requires_grad=True)
    g_loss("bce", f).backward()
    assert f.grad is not None
    non_saturating = -(1 - _sigmoid(-6.0))  # d/dl -log sigmoid(l)
    saturating = -_sigmoid(-6.0)  # d/dl log(1 - sigmoid(l)), the minimax generator loss
    assert float(f.grad) == pytest.approx(non_saturating, rel=1e-5)
    assert abs(float(f.grad)) > 100 * abs(saturating)
    value = float(g_loss("bce", f.detach()))
    assert value == pytest.approx(-math.log(_sigmoid(-6.0)), rel=1e-6)
    assert value != pytest.approx(math.log(1 - _sigmoid(-6.0)), rel=1e-2)


def test_losses_are_stable_for_extreme_logits() -> None:
    big = torch.tensor([80.0, -80.0])
    for kind in LOSSES:
        assert torch.isfinite(d_loss(kind, big, -big)) and torch.isfinite(g_loss(kind, big))
    assert float(d_loss("bce", big, big)) == pytest.approx((0 + 80) / 2 + (80 + 0) / 2)


def test_unknown_loss_is_rejected() -> None:
    with pytest.raises(ValueError, match="hinge"):
        d_loss("lsgan", torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="hinge"):
        g_loss("lsgan", torch.zeros(2))


class LinearCritic(nn.Module):
    """D(x) = <w, x> + b: its gradient is w everywhere."""

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dims, 1)

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        out: Tensor = self.linear(x.flatten(1))
        return out.squeeze(1)


def test_gradient_penalty_of_a_linear_critic_is_norm_w_minus_one_squared() -> None:
    torch.manual_seed(0)
    critic = LinearCritic(2 * 3 * 3)
    real, fake = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    eps = torch.rand(4, 1, 1, 1)
    gp = gradient_penalty(critic, real, fake, None, eps)
    w = critic.linear.weight.detach()
    norm = float(w.norm())
    assert float(gp.detach()) == pytest.approx((norm - 1) ** 2, rel=1e-5)
    gp.backward()  # differentiable w.r.t. the critic's parameters: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert critic.linear.weight.grad is not None
    assert torch.allclose(critic.linear.weight.grad, 2 * (norm - 1) * w / norm, atol=1e-6)


def test_gradient_penalty_evaluates_at_the_interpolates() -> None:
    # D(x) = ||x||^2 / 2 has gradient x, so the penalty is mean((||xhat|| - 1)^2) with xhat = eps real + (1-eps) fake.
    def critic(x: Tensor, c: Tensor | None) -> Tensor:
        return 0.5 * x.square().flatten(1).sum(dim=1)

    torch.manual_seed(1)
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    eps = torch.tensor([0.0, 0.25, 1.0]).view(3, 1, 1, 1)
    xhat = eps * real + (1 - eps) * fake
    expected = (xhat.flatten(1).norm(dim=1) - 1).square().mean()
    gp = gradient_penalty(critic, real, fake, None, eps).detach()
    assert float(gp) == pytest.approx(float(expected), rel=1e-5)


def test_gradient_penalty_trains_a_conditional_critic_and_not_the_generator() -> None:
    torch.manual_seed(0)
    d = DCGANDiscriminator(16, 1, 4, num_classes=3, norm="layer")
    fake = torch.randn(2, 1, 16, 16, requires_grad=True)
    gp = gradient_penalty(d, torch.randn(2, 1, 16, 16), fake, torch.tensor([0, 2]), torch.rand(2, 1, 1, 1))
    gp.backward()
    weights = [p for name, p in d.named_parameters() if name.endswith("weight")]  # biases don't move grad_x D
    assert len(weights) == 5  # 2 convs, 1 layer norm, the head, the projection embedding
    for w in weights:
        assert w.grad is not None and torch.isfinite(w.grad).all() and float(w.grad.abs().sum()) > 0
    assert fake.grad is None
