"""The styliser interface: content [N, 3, H, W] in [0, 1] -> stylised [N, 3, H, W] in [0, 1], one call for the
PyTorch networks and the exported ONNX files alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from artforge.families.stylizer import NetSpec


class StylizerLike(Protocol):
    """What the file, folder and video pipelines need of a styliser (``Styliser``, ``OnnxStyliser``)."""

    kind: str  # the family: johnson, gan-style, adain
    name: str
    spec: NetSpec | None  # None for an ONNX file without a readable description
    meta: dict[str, Any]
    net: Any  # the PyTorch network; None in onnxruntime
    encoder: Any  # adain's encoder (VGG or distilled); None otherwise and in onnxruntime

    @property
    def needs_style(self) -> bool: ...

    def to(self, device: torch.device | str) -> StylizerLike: ...

    def __call__(
        self,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor] | None = None,
        alpha: float = 1.0,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor: ...
