"""Optical flow and where to trust it: DIS flow (Kroeger et al. 2016) both ways between consecutive frames, and the
forward-backward check of Ruder et al. 2016, "Artistic style transfer for videos": a pixel x of frame t with backward
flow w^(x) (t -> t-1) and the forward flow carried back to it, w~(x) = w(x + w^(x)) (t-1 -> t), is unreliable where

    |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5        (disocclusion: the two flows disagree)
    |grad w^_u|^2 + |grad w^_v|^2 > 0.01 |w^|^2 + 0.002  (motion boundary)

or where x + w^(x) leaves the frame. A photometric check, |I_t(x) - I_{t-1}(x + w^(x))| > 0.1 (mean over RGB, in
[0, 1], after a 3x3 Gaussian blur), also drops pixels whose flow matched the wrong thing (fast lighting changes,
reflections). At a scene cut almost no pixel passes, so the new shot starts from fresh stylisations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from artforge.core.errors import ArtforgeError

PHOTOMETRIC = 0.1  # mean |RGB difference| in [0, 1] above which a warped pixel is not the same surface


def _cv2() -> Any:
    try:
        import cv2  # noqa: PLC0415 - lazy: optional [video] extra (OpenCV), ~0.2 s to import
    except ImportError:
        raise ArtforgeError("video needs PyAV and OpenCV: pip install 'artforge[video]'") from None
    return cv2


class FlowEstimator:
    """DIS optical flow: ``flow(a, b)`` ``[H, W, 2]`` (x, y) in px, with a(x) ~ b(x + flow(x)); a, b RGB uint8."""

    def __init__(self, preset: str = "medium") -> None:
        cv2 = _cv2()
        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        self.cv2, self.dis = cv2, cv2.DISOpticalFlow_create(presets[preset])

    def gray(self, rgb: np.ndarray) -> np.ndarray:
        return self.cv2.cvtColor(np.ascontiguousarray(rgb), self.cv2.COLOR_RGB2GRAY)  # type: ignore[no-any-return]

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ga = a if a.ndim == 2 else self.gray(a)
        gb = b if b.ndim == 2 else self.gray(b)
        return self.dis.calc(ga, gb, None)  # type: ignore[no-any-return]


def sample(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` ``[H, W, ...]`` read at x + flow(x), bilinear, borders replicated: the backward warp of ``img``."""
    cv2 = _cv2()
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)  # type: ignore[no-any-return]


def reliability(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s mask ``[H, W]`` float32 (1 = trust the warp) for frame t, from its flow to t-1 (``backward``)
    and frame t-1's flow to t (``forward``)."""
    h, w = backward.shape[:2]
    fwd = sample(forward, backward)  # w~(x) = w(x + w^(x))  [H, W, 2]
    sq = np.square
    disagree = sq(fwd + backward).sum(-1) > 0.01 * (sq(fwd).sum(-1) + sq(backward).sum(-1)) + 0.5
    du = np.gradient(backward[..., 0])
    dv = np.gradient(backward[..., 1])
    grad = sq(du[0]) + sq(du[1]) + sq(dv[0]) + sq(dv[1])
    boundary = grad > 0.01 * sq(backward).sum(-1) + 0.002
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = gx + backward[..., 0], gy + backward[..., 1]
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    keep: np.ndarray = ~(disagree | boundary | outside)
    return keep.astype(np.float32)


def backward_flow(est: FlowEstimator, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow of frame ``cur`` to ``prev`` ``[H, W, 2]`` and its reliability mask ``[H, W]`` (RGB uint8 frames)."""
    gp, gc = est.gray(prev), est.gray(cur)
    back, fwd = est(gc, gp), est(gp, gc)
    mask = reliability(back, fwd)
    blur = est.cv2.GaussianBlur  # 3x3: sub-pixel resampling of sharp edges is not a photometric mismatch
    warped: np.ndarray = blur(sample(prev, back), (3, 3), 0)
    diff = np.abs(warped.astype(np.float32) - blur(cur, (3, 3), 0).astype(np.float32)).mean(-1) / 255
    mask[diff > PHOTOMETRIC] = 0
    return back, mask
