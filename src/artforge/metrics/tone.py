"""Tone and colour vividness: RMS contrast (Peli 1990) and colourfulness M (Hasler & Süsstrunk 2003), and retention.

C_rms = std(Y) for luminance Y in [0, 1];  M = sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2) with rg = R - G,
yb = (R + G) / 2 - B on the 0-255 scale, where Hasler & Süsstrunk's panel put 0 "not colourful", 33 "moderately",
59 "quite" and 109 "extremely colourful". retention(v, ref) = min(1, v / ref): the share of the reference's contrast
or colourfulness an image kept; 1 is fully kept, higher is better, a washed-out or grey image scores near 0.
"""

from __future__ import annotations

import torch


def rms_contrast(y: torch.Tensor) -> torch.Tensor:
    """Standard deviation of ``[N, 1, H, W]`` luminance per image, ``[N]`` (float64); 0 for a flat image."""
    return y.flatten(1).double().std(dim=1, correction=0)


def colorfulness(x: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk's M of ``[N, 3, H, W]`` RGB in [0, 1], on their 0-255 scale, per image ``[N]`` (float64)."""
    r, g, b = (255 * x.double()).unbind(1)
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    spread = (rg.var(1, correction=0) + yb.var(1, correction=0)).sqrt()
    return spread + 0.3 * (rg.mean(1).square() + yb.mean(1).square()).sqrt()


def retention(value: float, reference: float) -> float:
    """min(1, value / reference): how much of the reference's contrast or colourfulness is left (1 when the
    reference has none to lose)."""
    if reference <= 0:
        return 1.0
    return min(1.0, max(0.0, value) / reference)
