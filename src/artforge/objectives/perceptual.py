"""Perceptual losses of Gatys et al. 2016 as modules: alpha*L_content + beta*L_style + gamma*L_tv."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from artforge.nn.encoders import VGGEncoder
from artforge.objectives import functional as L

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]  # Gatys et al. 2016


class ContentLoss(nn.Module):
    """L_c = ||F - P||^2 / ||P||^2 against fixed target features P."""

    target: torch.Tensor

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", target.detach())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return L.content_loss(features, self.target)


class StyleLoss(nn.Module):
    """L_s = sum_l w_l ||G_l - A_l||^2 / ||A_l||^2 / sum_l w_l against fixed target Grams A_l."""

    def __init__(self, targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float]) -> None:
        super().__init__()
        self.layer_weights = dict(layer_weights)
        self.targets = {k: v.detach() for k, v in targets.items()}

    def forward(
        self, features: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return L.style_loss(features, self.targets, self.layer_weights, masks)


class TVLoss(nn.Module):
    """Total variation regulariser (Mahendran & Vedaldi 2015), squared-difference form."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return L.tv_loss(image)


@torch.no_grad()
def gram_targets(
    encoder: VGGEncoder, image: torch.Tensor, layers: Sequence[str], tile: int = 1024
) -> dict[str, torch.Tensor]:
    """Gram matrices of ``image`` ([1, 3, H, W]); images larger than ``tile`` are encoded in
    tiles and their F F^T summed, so a 4096 px style image needs only a tile's memory."""
    _, _, h, w = image.shape
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            patch = image[..., y : y + tile, x : x + tile]
            if min(patch.shape[-2:]) < 16 and (h > tile or w > tile):
                continue  # a sliver at the border; the neighbouring tiles already cover the statistics
            feats = encoder(patch, layers)
            for name, f in feats.items():
                n, c, fh, fw = f.shape
                flat = f.reshape(c, fh * fw)
                sums[name] = sums[name] + flat @ flat.T if name in sums else flat @ flat.T
                counts[name] = counts.get(name, 0) + fh * fw
    return {name: (sums[name] / counts[name]).unsqueeze(0) for name in layers}


class GatysLoss(nn.Module):
    """alpha*L_content + beta*L_style + gamma*L_tv, with one VGG forward for every term.

    ``regions`` is a list of (target Grams, mask or None, weight). Without masks there is one
    region holding the blended Grams of all styles; with masks each style owns the region where
    its mask is bright (style-only spatial control, Gatys et al. 2017).

    The VGG forward runs under the caller's autocast, if any (``optimize(..., bf16=True)``); the
    features are cast back to fp32 and every loss term is computed in fp32, autocast off.
    """

    def __init__(
        self,
        encoder: VGGEncoder,
        content_targets: Mapping[str, torch.Tensor],
        regions: Sequence[tuple[Mapping[str, torch.Tensor], torch.Tensor | None, float]],
        style_layer_weights: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.content = nn.ModuleDict({k: ContentLoss(v) for k, v in content_targets.items()})
        self.styles = nn.ModuleList([StyleLoss(t, style_layer_weights) for t, _, _ in regions])
        self.masks = [m for _, m, _ in regions]
        self.region_weights = [w for _, _, w in regions]
        self.tv = TVLoss()
        self.weights = (content_weight, style_weight, tv_weight)
        self.layers = sorted(set(content_targets) | set(style_layer_weights))
        self._layer_masks: list[dict[str, torch.Tensor] | None] | None = None

    def _masks_at(self, feats: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor] | None]:
        if self._layer_masks is None:  # masks resampled to each layer's size once per scale
            self._layer_masks = [
                None
                if m is None
                else {
                    k: F.interpolate(m, size=f.shape[-2:], mode="bilinear", align_corners=False)
                    for k, f in feats.items()
                }
                for m in self.masks
            ]
        return self._layer_masks

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image  # luminance-only runs
        feats = self.encoder(x, self.layers)
        with torch.autocast(image.device.type, enabled=False):
            return self._terms({k: f.float() for k, f in feats.items()}, image)

    def _terms(
        self, feats: Mapping[str, torch.Tensor], image: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        alpha, beta, gamma = self.weights
        l_c = sum((loss(feats[k]) for k, loss in self.content.items()), torch.zeros((), device=image.device))
        l_c = l_c / max(len(self.content), 1)
        l_s = torch.zeros((), device=image.device)
        for style, masks, w in zip(self.styles, self._masks_at(feats), self.region_weights, strict=True):
            l_s = l_s + w * style(feats, masks)
        l_tv = self.tv(image) if gamma else torch.zeros((), device=image.device)
        total = alpha * l_c + beta * l_s + gamma * l_tv
        return total, {"content": l_c.detach(), "style": l_s.detach(), "tv": l_tv.detach()}
