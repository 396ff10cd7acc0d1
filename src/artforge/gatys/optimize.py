"""Pixel optimisation of Gatys et al. 2016: x* = argmin_x L(x), by L-BFGS (one evaluation per
iteration, no line search, as in the paper's Torch code) or Adam.

The optimiser minimises H*W*L(x): artforge's losses are per-element means, whose per-pixel
gradients are so small that L-BFGS's curvature test (y.s > 1e-10) would never pass and it
would crawl as plain gradient descent. The reported losses stay the per-element means.

The iterate is projected onto the image range [0, 1] after every step. Left free, L-BFGS drifts
outside it (VGG responds to any value), and the clamp that turns the result into an image then
raises the objective by ~10%; projected, the saved image is the optimum found.

``bf16=True`` evaluates the loss under bf16 autocast (the loss module keeps its own arithmetic in
fp32), except the first ``FP32_EVALUATIONS``. L-BFGS's first step is deliberately tiny, and across
it the difference of two bf16 gradients is mostly rounding noise: the curvature pair made from it
sent the next steps far off (objective 0.68 -> 119 after a pyramid hand-off, in a probe). Exact
first evaluations give a sound first pair; later steps are large enough for bf16's noise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from artforge.core.errors import ArtforgeError

LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]
StepFn = Callable[[dict[str, torch.Tensor], torch.Tensor], None]

LBFGS_HISTORY = 20  # memory: 2 * history image-sized vectors; 20 converges like 100 here
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
FP32_EVALUATIONS = 2  # under bf16: the evaluations that make L-BFGS's first curvature pair


def optimize(
    loss_fn: LossFn,
    x0: torch.Tensor,
    iterations: int,
    optimizer: str = "lbfgs",
    lr: float | None = None,
    on_step: StepFn | None = None,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    bf16: bool = False,
) -> torch.Tensor:
    """Run ``iterations`` steps from ``x0``, each followed by projection onto ``bounds`` (None: no
    projection) and ``on_step(losses, x)``; ``bf16``: evaluate under bf16 autocast."""
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
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        opt.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16 and evaluations >= FP32_EVALUATIONS):
            loss, p = loss_fn(x)
        evaluations += 1
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
