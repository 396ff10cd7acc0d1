"""GAN objectives on discriminator logits (pure functions), each a mean over the batch:

    kind      d_loss                                          g_loss
    bce       -log D(x) - log(1 - D(G(z)))  (Goodfellow 2014)   -log D(G(z))  (non-saturating)
    hinge     relu(1 - D(x)) + relu(1 + D(G(z)))  (Lim & Ye 2017, Miyato et al. 2018)   -D(G(z))
    wgan-gp   D(G(z)) - D(x)  (Gulrajani et al. 2017, plus gradient_penalty)           -D(G(z))

For bce, D(.) = sigmoid(logit), and the losses are written with softplus for stability:
-log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

LOSSES = ("bce", "hinge", "wgan-gp")


def _check(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; choose from {LOSSES}")


def d_loss(kind: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's (critic's) loss on logits of real images and of generated ones, [N] each -> scalar."""
    _check(kind)
    if kind == "bce":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return fake_logits.mean() - real_logits.mean()


def g_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """The generator's loss on logits of generated images [N] -> scalar; bce is the non-saturating -log D(G(z))."""
    _check(kind)
    if kind == "bce":
        return F.softplus(-fake_logits).mean()
    return -fake_logits.mean()


def gradient_penalty(
    discriminator: Callable[[Tensor, Tensor | None], Tensor],
    real: Tensor,
    fake: Tensor,
    c: Tensor | None,
    eps: Tensor,
) -> Tensor:
    """Gulrajani et al. 2017: E[(||grad_xhat D(xhat)||_2 - 1)^2], xhat = eps real + (1 - eps) fake.

    ``eps`` ~ U[0, 1] of shape [N, 1, 1, 1] comes from the caller, so the use of the RNG is explicit. Real and
    fake are detached (the penalty trains D only); the result is differentiable w.r.t. D's parameters.
    """
    xhat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)  # [N, C, H, W]
    out = discriminator(xhat, c)  # [N]
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)  # [N, C, H, W]
    # [N], in float32 even under autocast; the epsilon keeps d sqrt finite at a zero gradient.
    norm = (grad.flatten(1).float().square().sum(dim=1) + 1e-12).sqrt()
    return (norm - 1.0).square().mean()
