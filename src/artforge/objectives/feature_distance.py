"""LPIPS-like perceptual distance (Zhang et al. 2018, eq. 1 with unit layer weights), as StyleGAN2's projector uses:

    d(x, y) = sum_l mean_hw || f_l(x)_hw / ||f_l(x)_hw|| - f_l(y)_hw / ||f_l(y)_hw|| ||^2

where f_l are VGG16 features (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, LPIPS's layers) unit-normalised along the
channels at every position. Each layer contributes 0 at a match and at most 4, so d is in [0, 4 L]. LPIPS learns one
weight per channel on top; without those weights (not available offline) every channel counts the same.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
EPS = 1e-10


def unit_channels(f: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``[N, C, H, W]`` features divided by their L2 norm over the channels at every position."""
    return f * (f.square().sum(dim=1, keepdim=True) + eps).rsqrt()


def feature_distance(features: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """d = sum_l mean_hw ||unit(F_l) - unit(T_l)||^2 per image: ``[N]``. ``targets`` may have batch 1 (broadcast)."""
    total: torch.Tensor | None = None
    for name, f in features.items():
        diff = unit_channels(f.float()) - unit_channels(targets[name].float())  # [N, C, H, W]
        d = diff.square().sum(dim=1).mean(dim=(1, 2))  # [N]
        total = d if total is None else total + d
    if total is None:
        raise ValueError("feature_distance needs at least one layer")
    return total
