"""Colour helpers: colour matching (mean and covariance) and the YIQ round trip."""

from __future__ import annotations

import torch

from artforge.data import color


def test_match_color_transfers_mean_and_covariance() -> None:
    torch.manual_seed(0)
    style = torch.rand(1, 3, 32, 32) * torch.tensor([1.0, 0.3, 0.5]).view(1, 3, 1, 1)
    content = 0.2 + 0.5 * torch.rand(1, 3, 32, 32)
    out = color.match_color(style, content)
    flat = lambda x: x[0].reshape(3, -1).double()  # noqa: E731
    assert torch.allclose(flat(out).mean(1), flat(content).mean(1), atol=1e-3)
    assert torch.allclose(torch.cov(flat(out)), torch.cov(flat(content)), atol=2e-3)


def test_yiq_round_trip() -> None:
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(x)), x, atol=1e-5)
