"""ADA (Karras et al. 2020, "Training GANs with Limited Data"): applying the sampled matrices to images.

Geometry uses centred pixel coordinates: pixel (i, j) of an H x W image sits at (j - (W-1)/2, i - (H-1)/2), and a
matrix G [N, 3, 3] maps an output position to the input position it reads (the inverse transform). Outside the
image, the input is its reflection about the border pixel centres (``F.pad(mode="reflect")``).

* ``blit``: G with integer entries (flips, quarter turns, integer shifts) moves whole pixels, exactly, by gathering.
* ``resample``: any other G. As in the official pipeline, the reflect-padded image is upsampled 2x with the
  orthogonal sym6 wavelet low-pass, resampled bilinearly at twice the output resolution, and filtered back down
  with the same low-pass. Up then down is the identity for this filter, so the only loss is the bilinear step at
  2x, and the down filter removes what a shrink or rotation would alias.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# sym6 (Daubechies' least-asymmetric wavelet, 12 taps) low-pass decomposition coefficients, as in PyWavelets.
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip
_TAPS = len(SYM6)
_LEFT = _TAPS // 2 - 1  # 5: u[k] = 2 sum_i x[i] f[k + 5 - 2i]
# sym6 is not symmetric: its centre of mass is at tap 5.098, not 5.5. Sample k of the 2x image therefore sits at
# input position k/2 - _DELAY (not the usual k/2 - 1/4); using the true delay keeps flips and turns unbiased.
_DELAY = (sum(k * c for k, c in enumerate(SYM6)) / sum(SYM6) - _LEFT) / 2


def lowpass(device: torch.device) -> Tensor:
    """The sym6 low-pass normalised to unit DC gain: [12] float32. sum f[k] f[k + 2m] = delta_m / 2."""
    f = torch.tensor(SYM6, dtype=torch.float64)
    return (f / f.sum()).to(device=device, dtype=torch.float32)


def reflect_index(i: Tensor, size: int) -> Tensor:
    """Integer positions -> [0, size): reflection about the first and last pixel centres, any distance away."""
    if size == 1:
        return torch.zeros_like(i)
    period = 2 * (size - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - i, i)


def _centred(n: int, device: torch.device) -> Tensor:
    """Pixel-centre coordinates of n pixels about the image centre: [n] float32."""
    return torch.arange(n, device=device, dtype=torch.float32) - (n - 1) / 2


def blit(x: Tensor, g: Tensor) -> Tensor:
    """Exact pixel moves: x [N, C, H, W], g [N, 3, 3] with integer entries -> [N, C, H, W]."""
    n, c, h, w = x.shape
    ox = _centred(w, x.device).view(1, 1, w)
    oy = _centred(h, x.device).view(1, h, 1)
    sx = g[:, 0, 0, None, None] * ox + g[:, 0, 1, None, None] * oy + g[:, 0, 2, None, None]  # [N, H, W]
    sy = g[:, 1, 0, None, None] * ox + g[:, 1, 1, None, None] * oy + g[:, 1, 2, None, None]
    col = reflect_index(torch.round(sx + (w - 1) / 2).long(), w)
    row = reflect_index(torch.round(sy + (h - 1) / 2).long(), h)
    index = (row * w + col).view(n, 1, h * w).expand(n, c, h * w)
    return x.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)


def _upsample_matrix(n: int, before: int, after: int, f: Tensor) -> Tensor:
    """Reflect-pad n samples by (before, after), then upsample 2x, as one matrix [2(n + before + after), n].

    Row k is u[k] = 2 sum_p f[k + 5 - 2p] x_pad[p]: a banded filter, applied with a matrix product (BLAS), which on
    CPU is far faster than a one-channel convolution, forward and backward.
    """
    padded = n + before + after
    k = torch.arange(2 * padded, device=f.device)[:, None]
    tap = k + _LEFT - 2 * torch.arange(padded, device=f.device)[None, :]  # [2P, P]
    up = torch.where((tap >= 0) & (tap < _TAPS), 2 * f[tap.clamp(0, _TAPS - 1)], 0.0)
    source = reflect_index(torch.arange(-before, n + after, device=f.device), n)
    return torch.zeros(2 * padded, n, device=f.device).index_add_(1, source, up)  # fold the padding in


def _downsample_matrix(n: int, f: Tensor) -> Tensor:
    """y[j] = sum_k v[k] f[k + 5 - 2j] for v indexed from k = -5: [n, 2n + 10]."""
    tap = torch.arange(2 * n + 10, device=f.device)[None, :] - 2 * torch.arange(n, device=f.device)[:, None]
    return torch.where((tap >= 0) & (tap < _TAPS), f[tap.clamp(0, _TAPS - 1)], 0.0)


def _margins(g: Tensor, h: int, w: int) -> tuple[int, int, int, int]:
    """Reflect padding (left, right, top, bottom) that holds every position read at 2x, plus the filter support."""
    ex, ey = (w - 1) / 2 + 2.75, (h - 1) / 2 + 2.75  # the 2x output grid spans +-(c + 2.75) px
    corners = torch.tensor([[-ex, -ey, 1.0], [ex, -ey, 1.0], [ex, ey, 1.0], [-ex, ey, 1.0]], device=g.device)
    src = g[:, :2, :] @ corners.T  # [N, 2, 4] centred input positions
    lo = (-src.amin(dim=(0, 2)) - torch.tensor([(w - 1) / 2, (h - 1) / 2], device=g.device)).tolist()
    hi = (src.amax(dim=(0, 2)) - torch.tensor([(w - 1) / 2, (h - 1) / 2], device=g.device)).tolist()
    # bilinear reads +-1/2 px; the 2x image is exact from 2.5 - _DELAY px inside its padded edge (taken as 2.75)
    need = [lo[0] + 3.25, hi[0] + 4.25, lo[1] + 3.25, hi[1] + 4.25]
    caps = [w - 1, w - 1, h - 1, h - 1]  # as the official pipeline; further out, grid_sample reflects
    left, right, top, bottom = (min(max(math.ceil(m), 0), cap) for m, cap in zip(need, caps, strict=True))
    return left, right, top, bottom


def resample(x: Tensor, g: Tensor) -> Tensor:
    """General affine warp with the sym6 2x supersampled filter: x [N, C, H, W] float32, g [N, 3, 3] -> same shape."""
    n, c, h, w = x.shape
    f = lowpass(x.device)
    left, right, top, bottom = _margins(g, h, w)
    up_w, up_h = _upsample_matrix(w, left, right, f), _upsample_matrix(h, top, bottom, f)
    u = up_h @ (x @ up_w.T)  # [N, C, 2(H + top + bottom), 2(W + left + right)]
    # the 2x output grid, k = -5 .. 2W + 4, at centred output positions k/2 - _DELAY - (W-1)/2
    ox = (torch.arange(-5, 2 * w + 5, device=x.device, dtype=torch.float32) / 2 - _DELAY - (w - 1) / 2).view(1, 1, -1)
    oy = (torch.arange(-5, 2 * h + 5, device=x.device, dtype=torch.float32) / 2 - _DELAY - (h - 1) / 2).view(1, -1, 1)
    sx = g[:, 0, 0, None, None] * ox + g[:, 0, 1, None, None] * oy + g[:, 0, 2, None, None]  # [N, 2H+10, 2W+10]
    sy = g[:, 1, 0, None, None] * ox + g[:, 1, 1, None, None] * oy + g[:, 1, 2, None, None]
    # centred input position -> index in u -> grid_sample's [-1, 1] (align_corners: -1 and 1 are the end samples)
    ku = 2 * (sx + (w - 1) / 2 + left + _DELAY)
    kv = 2 * (sy + (h - 1) / 2 + top + _DELAY)
    grid = torch.stack([2 * ku / (u.shape[3] - 1) - 1, 2 * kv / (u.shape[2] - 1) - 1], dim=-1)
    v = F.grid_sample(u, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    return _downsample_matrix(h, f) @ v @ _downsample_matrix(w, f).T  # [N, C, H, W]


def recolor(x: Tensor, cm: Tensor) -> Tensor:
    """Per-pixel colour matrix: x [N, C, H, W] float32 (C = 3, or 1 for grey), cm [N, 4, 4] -> same shape.

    A grey pixel y is taken as the colour (y, y, y); the result is the mean of the three output channels.
    """
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    if c == 3:
        out = torch.bmm(cm[:, :3, :3], flat) + cm[:, :3, 3:]  # [N, 3, HW]
    else:
        gain = cm[:, :3, :3].sum(dim=2).mean(dim=1)  # [N]
        out = flat * gain[:, None, None] + cm[:, :3, 3].mean(dim=1)[:, None, None]
    return out.view(n, c, h, w)
