"""Weight EMA (Karras et al. 2018): theta_ema <- beta theta_ema + (1 - beta) theta, with beta set by a
half-life in thousands of images; buffers are copied."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from artforge.train.ema import ema_beta, ema_update


@pytest.mark.parametrize(("batch", "ema_kimg"), [(32, 10.0), (64, 1.0), (4, 0.1), (1, 0.5)])
def test_beta_is_half_to_the_power_of_batch_over_the_half_life(batch: int, ema_kimg: float) -> None:
    assert ema_beta(batch, ema_kimg) == pytest.approx(0.5 ** (batch / (ema_kimg * 1000)), rel=1e-12)


def test_beta_zero_half_life_turns_the_ema_off() -> None:
    assert ema_beta(64, 0.0) == 0.0
    ema, model = nn.Linear(2, 2), nn.Linear(2, 2)
    ema_update(ema, model, ema_beta(64, 0.0))
    assert all(torch.equal(e, m) for e, m in zip(ema.parameters(), model.parameters(), strict=True))


def test_the_gap_to_a_constant_target_halves_every_half_life() -> None:
    batch, ema_kimg = 4, 0.1
    steps = round(ema_kimg * 1000 / batch)  # one half-life: 100 images = 25 steps
    beta = ema_beta(batch, ema_kimg)
    ema, target = nn.Linear(3, 1), nn.Linear(3, 1)
    with torch.no_grad():
        for p in ema.parameters():
            p.fill_(0.0)
        for p in target.parameters():
            p.fill_(1.0)
    gaps = []
    for _ in range(3):
        for _ in range(steps):
            ema_update(ema, target, beta)
        gaps.append([float(1.0 - p.detach().max()) for p in ema.parameters()])
    for got, expect in zip(gaps, (0.5, 0.25, 0.125), strict=True):
        assert got == pytest.approx([expect, expect], abs=1e-5)


def test_update_matches_a_hand_computation_and_copies_buffers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = copy.deepcopy(model)
    with torch.no_grad():
        for p in ema.parameters():
            p.copy_(torch.randn_like(p))
    model.train()(torch.randn(8, 3))  # moves the model's running statistics and its batch counter
    before = [p.detach().clone() for p in ema.parameters()]
    beta = 0.9
    ema_update(ema, model, beta)
    for e, b, m in zip(ema.parameters(), before, model.parameters(), strict=True):
        torch.testing.assert_close(e.detach(), beta * b + (1 - beta) * m.detach(), rtol=0, atol=1e-6)
    bn_e, bn_m = ema[1], model[1]
    assert isinstance(bn_e, nn.BatchNorm1d) and isinstance(bn_m, nn.BatchNorm1d)
    assert int(bn_e.num_batches_tracked) == 1  # type: ignore[arg-type]
    for eb, mb in zip(ema.buffers(), model.buffers(), strict=True):
        assert torch.equal(eb, mb) and eb.data_ptr() != mb.data_ptr()  # copied, not shared
    model(torch.randn(8, 3))
    assert not torch.equal(bn_e.running_mean, bn_m.running_mean)  # type: ignore[arg-type]
