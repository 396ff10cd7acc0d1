"""Image files <-> float tensors: EXIF orientation, every PIL mode, pixel limits, atomic writes.

The file half (reading, resizing, writing) is :mod:`artforge.data.image_io`, re-exported here."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from artforge.data.image_io import (
    MAX_PIXELS,
    MIN_SIDE,
    PARAMS_KEY,
    SAVE_FORMATS,
    check_writable,
    load,
    load_mask,
    read_params,
    resize_long,
    save,
    to_rgb,
)

__all__ = [
    "MAX_PIXELS", "MIN_SIDE", "PARAMS_KEY", "SAVE_FORMATS", "check_writable", "load", "load_mask",
    "read_params", "resize_long", "save", "to_image", "to_rgb", "to_tensor",
]  # fmt: skip


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB/L -> float ``[1, C, H, W]`` in [0, 1]."""
    a = np.asarray(img, dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.transpose(2, 0, 1).copy()).unsqueeze(0)


def to_image(x: torch.Tensor) -> Image.Image:
    """float ``[1, 3, H, W]`` in [0, 1] -> PIL RGB (rounded, clipped)."""
    a = x.detach().float().clamp(0, 1).mul(255).round().byte()[0].permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a, "RGB")
