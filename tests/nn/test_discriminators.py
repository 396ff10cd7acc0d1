"""PatchGAN discriminator: a grid of logits, one per receptive-field patch, computed by hand from the
module's own weights; spectral normalisation divides each weight by its largest singular value."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from artforge.nn.discriminators import PatchDiscriminator

# (stride, padding) of each convolution: three 4x4 stride-2 downsamplings, a 3x3, and the 3x3 logit conv
LAYOUT = [(2, 1), (2, 1), (2, 1), (1, 1), (1, 0)]


def _by_hand(x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    h = x * 2 - 1  # [0, 1] -> [-1, 1]
    for i, (w, b, (stride, pad)) in enumerate(zip(weights, biases, LAYOUT, strict=True)):
        h = F.conv2d(h, w, b, stride, pad)
        if i < len(LAYOUT) - 1:
            h = F.leaky_relu(h, 0.2)
    return h


def test_patch_discriminator_gives_a_grid_of_logits() -> None:
    d = PatchDiscriminator(width=8)
    assert d(torch.rand(2, 3, 64, 64)).shape == (2, 1, 6, 6)


def test_patch_discriminator_is_its_convolutions_by_hand() -> None:
    torch.manual_seed(0)
    d = PatchDiscriminator(width=4, spectral_norm=False)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (3, 4, 4), (4, 8, 4), (8, 16, 4), (16, 16, 3), (16, 1, 3)
    ]  # fmt: skip
    x = torch.rand(2, 3, 40, 48)
    with torch.no_grad():
        out = d(x)
        ref = _by_hand(x, [c.weight for c in convs], [c.bias for c in convs])  # type: ignore[misc]
    assert out.shape == (2, 1, 40 // 8 - 2, 48 // 8 - 2)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_spectral_norm_divides_each_weight_by_its_largest_singular_value() -> None:
    torch.manual_seed(0)
    d = PatchDiscriminator(width=4)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for _ in range(100):  # one power iteration per training-mode forward
            d(x)
        d.eval()  # frozen u, v: W / sigma with sigma = u^T W v
        out = d(x)
        convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
        weights = []
        for c in convs:
            w, u, v = c.weight_orig, c.weight_u, c.weight_v
            sigma = torch.dot(u, w.reshape(w.shape[0], -1) @ v)
            top = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
            torch.testing.assert_close(sigma, top, rtol=1e-4, atol=0.0)  # the power iteration converged
            weights.append(w / sigma)
        ref = _by_hand(x, weights, [c.bias for c in convs])  # type: ignore[misc]
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
