"""R1 and path-length penalties against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from artforge.objectives.regularizers import path_lengths, path_noise, r1_gamma_auto, r1_penalty


def test_r1_is_the_squared_input_gradient_norm_per_image() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 4, requires_grad=True)
    a = torch.randn(2, 4, 4)
    logits = (a * x.square()).flatten(1).sum(1)  # D(x) = sum a x^2, so grad = 2 a x
    r1 = r1_penalty(logits, x)
    expected = (2 * a * x.detach()).square().flatten(1).sum(1)
    assert r1.shape == (3,)
    torch.testing.assert_close(r1, expected)


def test_r1_is_differentiable_with_respect_to_the_discriminator() -> None:
    w = torch.tensor(1.5, requires_grad=True)
    x = torch.randn(2, 1, 3, 3, requires_grad=True)
    r1 = r1_penalty((w * x).flatten(1).sum(1), x)  # grad_x = w everywhere: r1 = 9 w^2
    torch.testing.assert_close(r1, torch.full((2,), 9 * 1.5**2))
    (g,) = torch.autograd.grad(r1.sum(), w)
    assert g.item() == pytest.approx(2 * 2 * 9 * 1.5)  # d/dw of 2 * 9 w^2


def test_path_length_is_the_norm_of_j_transpose_y_averaged_over_layers() -> None:
    torch.manual_seed(0)
    n, layers, w_dim, pixels = 2, 3, 5, 4
    a = torch.randn(layers, w_dim, pixels)  # g(w) = sum_l w_l A_l, image [N, 1, 2, 2]
    ws = torch.randn(n, layers, w_dim, requires_grad=True)
    img = torch.einsum("nlw,lwp->np", ws, a).reshape(n, 1, 2, 2)
    y = torch.randn(n, 1, 2, 2)
    lengths = path_lengths(img, ws, y)
    jt_y = torch.einsum("lwp,np->nlw", a, y.flatten(1))  # J^T y per layer [N, L, w_dim]
    expected = jt_y.square().sum(2).mean(1).sqrt()
    torch.testing.assert_close(lengths, expected)


def test_path_noise_is_scaled_by_the_image_area() -> None:
    y = path_noise((64, 1, 16, 16), torch.Generator().manual_seed(0))
    assert y.std().item() * math.sqrt(16 * 16) == pytest.approx(1.0, abs=0.02)


def test_auto_gamma_follows_ada() -> None:
    assert r1_gamma_auto(256, 64) == pytest.approx(0.2048)  # 0.0002 * 256^2 / 64
    assert r1_gamma_auto(32, 32) == pytest.approx(0.0064)
