"""Stylisation quality: Gatys et al. 2016 losses beside measures a washed-out or outline-only image cannot win.

The losses are artforge's relative ones (``objectives.functional``): L_c = ||F - P||^2 / ||P||^2 on relu4_2 and
L_s = mean_l ||G_l - A_l||^2 / ||A_l||^2 over relu1_1 ... relu5_1, so ~1 means unrelated and 0 a perfect match.
Beside them: content as structure on luminance (SSIM, gradient correlation: ``metrics.structure``), the AdaIN
mean/std style loss (Huang & Belongie 2017) on the same layers, the colour-histogram distance to the style, and
contrast / colourfulness retention (``metrics.tone``). :data:`BETTER` says which way each measure improves; why
each was chosen is in docs/metrics.md. The output keeps its size; the content image is resized to it (same aspect
ratio required) and the style image to the output's long side.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from artforge.core.device import resolve_device
from artforge.core.errors import ArtforgeError
from artforge.data import images, samples
from artforge.data.color import luminance
from artforge.metrics import structure, tone
from artforge.nn.encoders import check_layers
from artforge.nn.weights import encoder_for
from artforge.objectives import functional as L
from artforge.objectives.perceptual import STYLE_LAYERS, gram_targets

HIST_BINS = 64
# which way each measure of stylization_metrics improves (the first three are the original keys)
BETTER = {
    "content_loss": "lower", "style_loss": "lower", "color_histogram_distance": "lower",
    "structure_ssim": "higher", "gradient_correlation": "higher", "style_meanstd_loss": "lower",
    "contrast_retention": "higher", "colorfulness_retention": "higher",
}  # fmt: skip


def color_histogram_distance(a: Image.Image, b: Image.Image, bins: int = HIST_BINS) -> float:
    """Mean over R, G, B of the total-variation distance 1/2 sum_i |h_a(i) - h_b(i)| between normalised ``bins``-bin
    histograms: 0 for identical colour distributions, 1 when no bin is shared. Sizes may differ."""
    xa, xb = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    total = 0.0
    for ch in range(3):
        ha = np.histogram(xa[..., ch], bins=bins, range=(0, 256))[0] / xa[..., ch].size
        hb = np.histogram(xb[..., ch], bins=bins, range=(0, 256))[0] / xb[..., ch].size
        total += 0.5 * float(np.abs(ha - hb).sum())
    return total / 3


def _fit_to(img: Image.Image, size: tuple[int, int], what: str) -> Image.Image:
    """``img`` resized to exactly ``size`` (W, H); its aspect ratio must be within 2% of the target's."""
    if img.size == size:
        return img
    if abs((img.width / img.height) / (size[0] / size[1]) - 1) > 0.02:
        raise ArtforgeError(
            f"{what} is {img.width}x{img.height} but the output is {size[0]}x{size[1]}; "
            "pass the content image the output was made from (same aspect ratio)"
        )
    method = Image.Resampling.LANCZOS if img.width > size[0] else Image.Resampling.BICUBIC
    return img.resize(size, method)


@torch.no_grad()
def stylization_metrics(
    output: str | os.PathLike[str], content: str | os.PathLike[str], style: str | os.PathLike[str], *,
    weights: str = "vgg16-hed", content_layers: Sequence[str] = ("relu4_2",), style_layers: Sequence[str] | None = None,
    device: str = "auto",
) -> dict[str, Any]:  # fmt: skip
    """The measures of :data:`BETTER` for a stylised ``output``, with ``better`` (that table), the inputs, and the
    output's and style's colourfulness M (Hasler & Süsstrunk's 0-255 scale)."""
    s_layers = list(style_layers or STYLE_LAYERS)
    c_layers = list(content_layers)
    out_img = images.load(output, "output image")
    c_img = _fit_to(samples.open_image(content, "content image"), out_img.size, f"content image {content}")
    s_img = images.resize_long(samples.open_image(style, "style image"), max(out_img.size))
    dev = resolve_device(device)
    encoder = encoder_for(weights, "max", str(dev))
    try:
        check_layers(encoder.arch, [*c_layers, *s_layers])
    except ValueError as e:
        raise ArtforgeError(str(e)) from None
    x = images.to_tensor(out_img).to(dev)  # [1, 3, H, W]
    c_x = images.to_tensor(c_img).to(dev)  # [1, 3, H, W]
    s_x = images.to_tensor(s_img).to(dev)  # [1, 3, H', W']
    feats = encoder(x, [*c_layers, *s_layers])
    targets = encoder(c_x, c_layers)
    content_loss = sum(float(L.content_loss(feats[n], targets[n])) for n in c_layers) / len(c_layers)
    style_feats = {n: feats[n] for n in s_layers}
    style_loss = float(L.style_loss(style_feats, gram_targets(encoder, s_x, s_layers), dict.fromkeys(s_layers, 1.0)))
    return {
        "output": str(output), "content": str(content), "style": str(style), "weights": weights,
        "content_layers": c_layers, "style_layers": s_layers,
        "content_loss": content_loss, "style_loss": style_loss,
        "color_histogram_distance": color_histogram_distance(out_img, s_img),
        "style_meanstd_loss": float(L.moment_loss(style_feats, encoder(s_x, s_layers))),
        **structure_and_tone(x, c_x, s_x),
        "better": dict(BETTER),
    }  # fmt: skip


def structure_and_tone(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """SSIM and gradient correlation of the output's luminance with the content's (both at Wang et al.'s viewing
    scale), contrast retention against the content, colourfulness retention against the style; ``[1, 3, H, W]``
    RGB in [0, 1], output and content of one size."""
    y_out, y_content = luminance(output), luminance(content)  # [1, 1, H, W]
    v_out, v_content = structure.viewing_scale(y_out), structure.viewing_scale(y_content)
    m_out, m_style = float(tone.colorfulness(output)), float(tone.colorfulness(style))
    return {
        "structure_ssim": float(structure.ssim(v_out, v_content)),
        "gradient_correlation": float(structure.gradient_correlation(v_out, v_content)),
        "contrast_retention": tone.retention(float(tone.rms_contrast(y_out)), float(tone.rms_contrast(y_content))),
        "colorfulness_retention": tone.retention(m_out, m_style),
        "colorfulness": m_out, "style_colorfulness": m_style,
    }  # fmt: skip
