"""Pure loss functions of Gatys et al. 2016, normalised so that the weights are comparable.

- Gram matrix: G = F F^T / (H W)                                   (per image, [N, C, C])
- Content:     L_c = ||F - P||^2 / ||P||^2                          (relative squared error)
- Style layer: E_l = ||G_l - A_l||^2 / ||A_l||^2                     (relative, so layers balance)
- Style:       L_s = sum_l w_l E_l / sum_l w_l
- TV:          L_tv = mean((x[..., 1:, :] - x[..., :-1, :])^2) + mean((x[..., 1:] - x[..., :-1])^2)

Relative errors make every term ~1 when the image is unrelated to its target and 0 at a perfect
match, whatever the layer, image size or VGG variant, so ``content_weight`` and ``style_weight``
keep their meaning across settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

EPS = 1e-8


class _OuterProduct(torch.autograd.Function):
    """A A^T for ``[N, C, P]``, with the one-matmul backward dA = (dG + dG^T) A.

    Autograd would differentiate through A and A^T separately (two matmuls and an add); at 512 px
    the Gram matrices cost ~10% of a VGG pass, so the saved matmul is worth its few lines.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, a: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a)
        return torch.bmm(a, a.transpose(1, 2))

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (a,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return torch.bmm(grad + grad.transpose(1, 2), a)


def gram(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """G = F F^T / (H W) for ``[N, C, H, W]`` features; with a ``[N, 1, H, W]`` mask m,
    G = (F m)(F m)^T / sum(m^2), the Gram matrix of the masked region (Gatys et al. 2017)."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)  # a view for NCHW and channels-last alike
    if mask is None:
        return _OuterProduct.apply(f) / (h * w)  # type: ignore[no-untyped-call, no-any-return]
    m = mask.reshape(n, 1, h * w)
    outer: torch.Tensor = _OuterProduct.apply(f * m)  # type: ignore[no-untyped-call]
    return outer / (m.square().sum(-1, keepdim=True) + EPS)


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - t||^2 / ||t||^2 over all elements."""
    return (x - target).square().sum() / (target.square().sum() + EPS)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_c = ||F - P||^2 / ||P||^2."""
    return relative_mse(features, target)


def style_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    masks: Mapping[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """L_s = sum_l w_l ||G(F_l) - A_l||^2 / ||A_l||^2 / sum_l w_l, with A_l a target Gram matrix."""
    total = sum(layer_weights.values())
    loss = torch.zeros((), device=next(iter(features.values())).device)
    for name, w in layer_weights.items():
        g = gram(features[name], None if masks is None else masks[name])
        loss = loss + w * relative_mse(g, targets[name])
    return loss / total


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of vertical and of horizontal neighbours."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.square().mean() + dx.square().mean()


def blend_grams(grams: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """A_l = sum_k b_k A_{k,l} / sum_k b_k: one target Gram per layer for several styles."""
    total = float(sum(weights))
    return {name: sum(w * g[name] for g, w in zip(grams, weights, strict=True)) / total for name in grams[0]}  # type: ignore[misc]


def moment_loss(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """AdaIN style loss (Huang & Belongie 2017, eq. 4) in relative form:
    L_s = mean_l ||mu(phi_l(g)) - mu(phi_l(s))||^2 / ||mu(phi_l(s))||^2 + the same for sigma."""
    loss = torch.zeros((), device=next(iter(features.values())).device)
    for name, f in features.items():
        s = targets[name]
        var_f, mu_f = torch.var_mean(f, dim=(2, 3), correction=0)
        var_s, mu_s = torch.var_mean(s, dim=(2, 3), correction=0)
        loss = loss + relative_mse(mu_f, mu_s) + relative_mse((var_f + 1e-5).sqrt(), (var_s + 1e-5).sqrt())
    return loss / len(features)
