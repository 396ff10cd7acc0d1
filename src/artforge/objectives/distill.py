"""Collaborative distillation's embedding loss (Wang et al. 2020): mean_l ||E_l(f'_l(x)) - f_l(x)||^2 / ||f_l(x)||^2."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from artforge.nn.distill import Embeddings
from artforge.objectives import functional as Fn


def embedding_loss(
    student: Mapping[str, torch.Tensor], teacher: Mapping[str, torch.Tensor], embed: Embeddings
) -> torch.Tensor:
    """mean_l ||E_l(f'_l(x)) - f_l(x)||^2 / ||f_l(x)||^2 over ``embed.layers``."""
    e = embed(student)
    return sum(Fn.relative_mse(e[k], teacher[k]) for k in embed.layers) / len(embed.layers)  # type: ignore[return-value]
