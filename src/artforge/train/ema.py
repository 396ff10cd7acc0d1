"""Exponential moving average of weights: theta_ema <- beta theta_ema + (1 - beta) theta (Karras et al. 2018)."""

from __future__ import annotations

import torch


def ema_beta(batch: int, ema_kimg: float) -> float:
    """Per-step decay with a half-life of ``ema_kimg`` thousand images (Karras et al.)."""
    return 0.5 ** (batch / (ema_kimg * 1000)) if ema_kimg > 0 else 0.0


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """theta_ema <- beta * theta_ema + (1 - beta) * theta; buffers are copied."""
    e_params: list[torch.Tensor] = list(ema.parameters())
    m_params: list[torch.Tensor] = list(model.parameters())
    torch._foreach_lerp_(e_params, m_params, 1.0 - beta)
    for eb, mb in zip(ema.buffers(), model.buffers(), strict=True):
        eb.copy_(mb)
