"""StyleGAN2's regularisers (pure functions): R1 (Mescheder et al. 2018) and path length (Karras et al. 2020, eq. 4).

R1:          ||grad_x D(x)||^2 on real x, per image        (loss term: gamma / 2 * mean)
path length: ||J_w^T y||_2, y ~ N(0, I) / sqrt(H W), per image   (loss term: (len - a)^2, a an EMA of len)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """``||d D(x) / d x||^2`` per image, ``[N]`` in float32; ``real`` ``[N, C, H, W]`` must require grad and
    ``real_logits`` ``[N]`` come from it. Differentiable w.r.t. D's parameters (create_graph)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)  # [N, C, H, W]
    return grad.float().square().flatten(1).sum(1)


def path_lengths(images: Tensor, ws: Tensor, y: Tensor) -> Tensor:
    """``||J_w^T y||_2`` per image, ``[N]``: the gradient of ``<g(w), y>`` w.r.t. ``ws`` ``[N, L, w_dim]``, its
    squared norm summed over w_dim and averaged over the L layers, then the square root (as stylegan2-ada does).
    ``y`` ``[N, C, H, W]`` is the caller's N(0, I) / sqrt(H W) noise, so the use of the RNG is explicit."""
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)  # [N, L, w_dim]
    return grad.float().square().sum(2).mean(1).sqrt()


def path_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
    """y ~ N(0, I) / sqrt(H W) for images of ``shape`` ``[N, C, H, W]``, drawn on the CPU."""
    return torch.randn(tuple(shape), generator=generator) / math.sqrt(shape[2] * shape[3])


def r1_gamma_auto(resolution: int, batch: int) -> float:
    """ADA's "auto" configuration: gamma = 0.0002 * resolution^2 / batch (Karras et al. 2020b, appendix)."""
    return 0.0002 * resolution**2 / batch
