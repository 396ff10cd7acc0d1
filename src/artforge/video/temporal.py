"""Temporal consistency at inference: o_t = (m w) * W(o_{t-1}) + (1 - m w) * f(x_t), where W warps the previous
stylised frame along the flow of frame t to t-1, m is Ruder et al. 2016's reliability mask (``flow.reliability``),
w the temporal weight and f the per-frame styliser: an exponential moving average along motion trajectories.

Why blend after the network and not feed a blend into it (as Ruder et al. 2016 initialise their optimisation with
W(o_{t-1}), and Ruder et al. 2018 / ReCoNet train networks to take it): our networks were trained on photographs, so
a warped stylised frame fed back in is stylised twice and drifts. Blending the outputs keeps every pixel a mix of
outputs of f, so the style statistics stay those of f, while noise that f adds independently per frame is averaged
over ~1/(1 - w) frames along each trajectory. Bicubic warping keeps repeated resampling from blurring the texture;
occluded and newly visible pixels (m = 0) take the fresh stylisation at once, so nothing ghosts.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from artforge.video.flow import FlowEstimator, backward_flow

DEFAULT_WEIGHT = 0.8  # w: the share of the warped previous output where the flow is reliable
MASK_BLUR = 5  # px: soften the mask's edges so fresh and carried texture meet without a seam


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bicubic") -> torch.Tensor:
    """Backward warp: ``x`` ``[N, C, H, W]`` read at p + flow(p), ``flow`` ``[N, 2, H, W]`` (x, y) in px; borders
    replicated. ``bicubic`` results may overshoot [0, 1] slightly; callers clamp."""
    n, _, h, w = x.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=x.dtype, device=x.device), torch.arange(w, dtype=x.dtype, device=x.device), indexing="ij"
    )
    px = (gx + flow[:, 0]) * (2 / max(w - 1, 1)) - 1  # [N, H, W], align_corners=True coordinates
    py = (gy + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack([px, py], dim=-1)  # [N, H, W, 2]
    return F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=True)


def soften(mask: np.ndarray, px: int = MASK_BLUR) -> np.ndarray:
    """min(mask, box blur of mask over ``px``): unreliable pixels stay 0, and the weight of the carried texture ramps
    up over ``px // 2`` px on the reliable side, so fresh and carried texture meet without a seam or a ghost."""
    if px <= 1:
        return mask
    import cv2

    blurred: np.ndarray = cv2.blur(mask, (px, px), borderType=cv2.BORDER_REPLICATE)
    soft: np.ndarray = np.minimum(mask, blurred)
    return soft


class TemporalBlender:
    """Feed frames in order: ``blender(frame, stylised)`` -> the consistent output ``[1, 3, H, W]`` in [0, 1].

    ``frame`` is the content frame as RGB uint8 ``[H, W, 3]`` (flow is estimated on content, which is what moves),
    ``stylised`` its per-frame stylisation ``f(x_t)``. ``weight`` 0 turns blending off.
    """

    def __init__(self, weight: float = DEFAULT_WEIGHT, preset: str = "medium", mask_blur: int = MASK_BLUR) -> None:
        if not 0 <= weight < 1:
            raise ValueError(f"temporal weight must be in [0, 1), got {weight}")
        self.weight, self.mask_blur = weight, mask_blur
        self.flow = FlowEstimator(preset) if weight > 0 else None
        self.prev_frame: np.ndarray | None = None
        self.prev_out: torch.Tensor | None = None
        self.coverage: list[float] = []  # share of reliable pixels per frame, for diagnostics

    def reset(self) -> None:
        self.prev_frame, self.prev_out = None, None

    def __call__(self, frame: np.ndarray, stylised: torch.Tensor) -> torch.Tensor:
        out = stylised
        if self.flow is not None and self.prev_frame is not None and self.prev_out is not None:
            back, mask = backward_flow(self.flow, self.prev_frame, frame)
            self.coverage.append(float(mask.mean()))
            mask = soften(mask, self.mask_blur)
            flow_t = torch.from_numpy(back).permute(2, 0, 1)[None].to(stylised)  # [1, 2, H, W]
            m = torch.from_numpy(mask)[None, None].to(stylised) * self.weight  # [1, 1, H, W]
            out = (m * warp(self.prev_out, flow_t) + (1 - m) * stylised).clamp_(0, 1)
        self.prev_frame, self.prev_out = frame, out
        return out
