"""Content as structure on luminance: SSIM (Wang et al. 2004) and gradient correlation (Penney et al. 1998).

SSIM(x, y) = mean over windows of (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
Gaussian windows (sigma 1.5, 11 x 11), C1 = (0.01 L)^2, C2 = (0.03 L)^2, borders cropped as scikit-image does;
GC(x, y) = sum_i <g_i, h_i> / sqrt(sum_i |g_i|^2 sum_i |h_i|^2), g and h the Sobel gradient fields of x and y.
Both take ``[N, 1, H, W]`` luminance in [0, 1] (``data.color.luminance``), are 1 for identical images and higher
is better. Wang et al.'s reference code first averages the image down by f = max(1, round(min(H, W) / 256)), so
that SSIM sees the structure at viewing distance rather than pixel texture: :func:`viewing_scale` does that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # scikit-image: int(3.5 * sigma + 0.5), an 11 x 11 window
SSIM_K1, SSIM_K2 = 0.01, 0.03
VIEWING_SIDE = 256  # Wang et al.'s reference ssim.m: downsample by round(min(H, W) / 256)

FLAT_RMS = 1e-6  # a gradient field whose RMS is below this (rounding; 1/255 is ~4e-3) counts as flat
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def viewing_scale(y: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` averaged over f x f blocks, f = max(1, round(min(H, W) / 256)) (Wang et al.'s ssim.m)."""
    f = max(1, round(min(y.shape[-2:]) / VIEWING_SIDE))
    return y if f == 1 else F.avg_pool2d(y, f, stride=f)


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> torch.Tensor:
    """The normalised 2-D Gaussian ``[1, 1, 2r + 1, 2r + 1]``, the outer product of two normalised 1-D ones."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    return torch.outer(g, g)[None, None]


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """The SSIM index of every window fully inside ``[N, 1, H, W]`` x and y: ``[N, 1, H - 2r, W - 2r]``."""
    if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"ssim needs two [N, 1, H, W] images of one size, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) <= 2 * SSIM_RADIUS:
        raise ValueError(f"ssim needs images larger than {2 * SSIM_RADIUS + 1} px, got {tuple(x.shape[-2:])}")
    x, y = x.double(), y.double()
    w = gaussian_window().to(x.device)
    mu_x, mu_y = F.conv2d(x, w), F.conv2d(y, w)
    var_x = F.conv2d(x * x, w) - mu_x.square()
    var_y = F.conv2d(y * y, w) - mu_y.square()
    cov = F.conv2d(x * y, w) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image, ``[N]`` (float64): 1 for identical images, ~0 for unrelated ones, higher is better."""
    return ssim_map(x, y, data_range).mean(dim=(1, 2, 3))


def sobel(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives (d/dx, d/dy) of ``[N, 1, H, W]``, valid part only: two ``[N, 1, H - 2, W - 2]`` float64."""
    y = y.double()
    kx = SOBEL_X.to(y)[None, None]
    return F.conv2d(y, kx), F.conv2d(y, kx.transpose(-1, -2))


def gradient_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The cosine between the Sobel gradient fields of ``[N, 1, H, W]`` x and y, per image ``[N]`` in [-1, 1]:
    1 for the same edges (at any contrast or offset), 0 for unrelated or flat images (gradient RMS under
    :data:`FLAT_RMS`), -1 for inverted ones; higher is better. Penney et al. (1998) average the correlation of d/dx
    and of d/dy, each centred on its mean; a gradient field's mean is ~0, and without centring a ramp (a constant
    gradient) still correlates with itself."""
    if x.shape != y.shape:
        raise ValueError(f"gradient_correlation needs images of one size, got {tuple(x.shape)} and {tuple(y.shape)}")
    g, h = torch.cat(sobel(x), 1).flatten(1), torch.cat(sobel(y), 1).flatten(1)  # [N, 2 (H - 2) (W - 2)]
    ss_g, ss_h = g.square().sum(1), h.square().sum(1)
    flat = (g.shape[1] / 2) * FLAT_RMS**2
    r = (g * h).sum(1) / (ss_g * ss_h).sqrt().clamp_min(1e-300)
    return torch.where((ss_g > flat) & (ss_h > flat), r, torch.zeros_like(r))
