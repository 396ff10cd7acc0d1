"""ADA (Karras et al. 2020, "Training GANs with Limited Data"): batched homogeneous 2-D and colour matrices.

Every builder takes per-image parameters of shape [N] and returns float32 matrices [N, 3, 3] (geometry, pixel
units) or [N, 4, 4] (colour, homogeneous RGB in [-1, 1]). The colour matrices act about mid-grey 0, along or
around the luma axis v = (1, 1, 1) / sqrt(3).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _matrix(rows: list[list[Tensor | float]], like: Tensor) -> Tensor:
    """Stack per-image entries (tensors [N] or Python floats) into [N, R, K] float32 matrices."""
    n = like.shape[0]
    entries = [
        e.to(torch.float32) if isinstance(e, Tensor) else torch.full((n,), e, dtype=torch.float32, device=like.device)
        for row in rows
        for e in row
    ]
    return torch.stack(entries, dim=-1).reshape(n, len(rows), len(rows[0]))  # [N, R, K]


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    """(x, y) -> (x + tx, y + ty): [N, 3, 3]."""
    return _matrix([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]], tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    """(x, y) -> (sx x, sy y) about the origin: [N, 3, 3]."""
    return _matrix([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]], sx)


def rotate2d(cos: Tensor, sin: Tensor) -> Tensor:
    """Rotation by theta given (cos theta, sin theta), counter-clockwise in (x, y): [N, 3, 3].

    Taking cos and sin rather than theta lets quarter turns be built from exact 0 / +-1 entries.
    """
    return _matrix([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]], cos)


def translate3d(t: Tensor) -> Tensor:
    """Brightness: rgb -> rgb + t (t added to every channel): [N, 4, 4]."""
    return _matrix([[1.0, 0.0, 0.0, t], [0.0, 1.0, 0.0, t], [0.0, 0.0, 1.0, t], [0.0, 0.0, 0.0, 1.0]], t)


def scale3d(s: Tensor) -> Tensor:
    """Contrast: rgb -> s rgb, about mid-grey 0: [N, 4, 4]."""
    return _matrix([[s, 0.0, 0.0, 0.0], [0.0, s, 0.0, 0.0], [0.0, 0.0, s, 0.0], [0.0, 0.0, 0.0, 1.0]], s)


def _luma_outer(device: torch.device) -> Tensor:
    """v v^T for the luma axis v = (1, 1, 1, 0) / sqrt(3): [4, 4]."""
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=device) / math.sqrt(3.0)
    return torch.outer(v, v)


def luma_flip3d(flip: Tensor) -> Tensor:
    """Householder reflection I - 2 v v^T where ``flip`` is 1, identity where 0: [N, 4, 4].

    The luma component (v . rgb) changes sign, the chroma (the part orthogonal to v) is kept.
    """
    eye = torch.eye(4, device=flip.device)
    return eye - 2.0 * _luma_outer(flip.device) * flip.to(torch.float32)[:, None, None]


def hue_rotate3d(theta: Tensor) -> Tensor:
    """Rotation by theta about the luma axis (Rodrigues): luma and chroma magnitude are kept: [N, 4, 4]."""
    a = 1.0 / math.sqrt(3.0)
    c, s = torch.cos(theta.to(torch.float32)), torch.sin(theta.to(torch.float32))
    d = (1.0 - c) * a * a  # (1 - cos) v_i v_j, the same for every pair since v = a (1, 1, 1)
    diag, lo, hi = d + c, d - a * s, d + a * s  # the skew part of Rodrigues: +-a sin off the diagonal
    return _matrix([[diag, lo, hi, 0.0], [hi, diag, lo, 0.0], [lo, hi, diag, 0.0], [0.0, 0.0, 0.0, 1.0]], theta)


def saturate3d(s: Tensor) -> Tensor:
    """v v^T + s (I - v v^T) on rgb: keeps luma, scales chroma by s (s = 0 gives grey): [N, 4, 4]."""
    vv = _luma_outer(s.device)
    chroma = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=s.device)) - vv  # I - v v^T on rgb only
    out = vv + chroma * s.to(torch.float32)[:, None, None]
    out[:, 3, 3] = 1.0  # homogeneous coordinate untouched
    return out
