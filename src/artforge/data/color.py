"""Colour preservation of Gatys et al. 2016 ("Preserving color in neural artistic style transfer").

- Luminance-only transfer: stylise Y of YIQ, keep the content's I and Q.
- Colour matching: x' = C_c^{1/2} C_s^{-1/2} (x - mu_s) + mu_c moves the style's RGB mean and
  covariance to the content's before transfer (the linear histogram match of the paper).
"""

from __future__ import annotations

import torch

# NTSC YIQ (FCC 1953 coefficients).
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` RGB -> YIQ."""
    return torch.einsum("ij,njhw->nihw", RGB_TO_YIQ.to(x), x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` YIQ -> RGB."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(RGB_TO_YIQ.double()).to(x), x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y of YIQ, ``[N, 1, H, W]``."""
    return rgb_to_yiq(x)[:, :1]


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Affine map of the style's luminance to the content's mean and std (Gatys et al. 2016, eq. 2)."""
    s_mu, s_sd = style_y.mean(), style_y.std().clamp_min(1e-5)
    return (style_y - s_mu) / s_sd * content_y.std() + content_y.mean()


def combine_luminance(y: torch.Tensor, content_rgb: torch.Tensor) -> torch.Tensor:
    """RGB image with luminance ``y`` and the chroma (I, Q) of ``content_rgb``."""
    yiq = rgb_to_yiq(content_rgb)
    return yiq_to_rgb(torch.cat([y, yiq[:, 1:]], dim=1)).clamp(0, 1)


def _sqrtm(c: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(c)
    vals = vals.clamp_min(1e-6)
    root: torch.Tensor = vecs @ torch.diag(vals.rsqrt() if inverse else vals.sqrt()) @ vecs.T
    return root


def match_color(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Give ``style`` ([1, 3, H, W]) the RGB mean and covariance of ``content``."""
    s = style[0].reshape(3, -1).double()
    c = content[0].reshape(3, -1).double()
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    cov_s = torch.cov(s) + 1e-5 * torch.eye(3, dtype=s.dtype)
    cov_c = torch.cov(c) + 1e-5 * torch.eye(3, dtype=c.dtype)
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    out = a @ (s - mu_s) + mu_c
    return out.reshape_as(style[0]).unsqueeze(0).to(style.dtype).clamp(0, 1)
