"""Pixel optimisation of Gatys et al. 2016: x* = argmin_x L(x), by L-BFGS (one evaluation per
iteration, no line search, as in the paper's Torch code) or Adam.

The optimiser minimises H*W*L(x): artforge's losses are per-element means, whose per-pixel
gradients are so small that L-BFGS's curvature test (y.s > 1e-10) would never pass and it
would crawl as plain gradient descent. The reported losses stay the per-element means.

The iterate is projected onto the image range [0, 1] after every step. Left free, L-BFGS drifts
outside it (VGG responds to any value), and the clamp that turns the result into an image then
raises the objective by ~10%; projected, the saved image is the optimum found.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from artforge.errors import ArtforgeError

LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
StepFn = Callable[[dict[str, torch.Tensor], torch.Tensor], None]

LBFGS_HISTORY = 20  # memory: 2 * history image-sized vectors; 20 converges like 100 here
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


def optimize(
    loss_fn: LossFn,
    x0: torch.Tensor,
    iterations: int,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    on_step: StepFn | None = None,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> torch.Tensor:
    """Run ``iterations`` steps from ``x0``, each followed by projection onto ``bounds`` (None: no
    projection) and ``on_step(losses, x)``."""
    x = x0.detach().clone().requires_grad_(True)
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    opt: torch.optim.Optimizer
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(
            [x], lr=lr, max_iter=1, history_size=LBFGS_HISTORY, tolerance_grad=-1.0, tolerance_change=-1.0
        )
    else:
        opt = torch.optim.Adam([x], lr=lr)
    parts: dict[str, torch.Tensor] = {}

    scale = float(x.shape[-1] * x.shape[-2])

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss, p = loss_fn(x)
        (loss * scale).backward()  # type: ignore[no-untyped-call]
        parts.update(p, total=loss.detach())
        return loss * scale

    for _ in range(iterations):
        opt.step(closure)  # type: ignore[no-untyped-call]
        if bounds is not None:
            with torch.no_grad():
                x.clamp_(*bounds)
        if not torch.isfinite(parts["total"]):
            raise ArtforgeError("the loss became NaN/inf; lower --learning-rate or the loss weights")
        if on_step is not None:
            on_step(parts, x)
    return x.detach()
