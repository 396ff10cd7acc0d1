"""Stylisers exported by :mod:`artforge.feedforward.export`, run in onnxruntime with the call of
:class:`artforge.feedforward.stylizer.Styliser`: y = f_W(x) (Johnson et al. 2016), or
y = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))) (Huang & Belongie 2017) for one style image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artforge.core.errors import ArtforgeError
from artforge.core.onnx_export import INSTALL
from artforge.families.registry import STYLISERS
from artforge.families.stylizer import NetSpec

META_KEY = "artforge"  # the metadata_props key that artforge.feedforward.export writes


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, else the CPU."""
    import onnxruntime as ort  # noqa: PLC0415 - lazy: optional [export] extra, ~0.3 s to import

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxStylizer:
    """An exported styliser in onnxruntime. ``__call__``: content ``[N, 3, H, W]`` in [0, 1] ->
    ``[N, 3, H, W]`` in [0, 1]; AdaIN also takes one style ``[1, 3, h, w]`` and ``alpha``."""

    net: Any = None  # no PyTorch modules here
    encoder: Any = None

    def __init__(self, path: str | os.PathLike[str], providers: Sequence[str] | None = None) -> None:
        try:
            import onnxruntime as ort  # noqa: PLC0415 - lazy: optional [export] extra, ~0.3 s to import
        except ImportError:
            raise ArtforgeError(f"running .onnx models needs onnxruntime: {INSTALL}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ArtforgeError(f"{self.path}: no such ONNX file")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only; no warnings on stderr
        opts.intra_op_num_threads = torch.get_num_threads()  # the same CPU threads as PyTorch (--threads)
        try:
            self.session = ort.InferenceSession(
                str(self.path), sess_options=opts, providers=list(providers or default_providers())
            )
        except Exception as e:  # noqa: BLE001 - onnxruntime's errors (InvalidProtobuf, Fail, ...) derive from Exception
            raise ArtforgeError(f"{self.path}: not a readable ONNX model ({_first_line(e)})") from None
        self.meta = self._metadata()
        self.kind: str = self.meta["model"]
        self.name: str = str(self.meta.get("name") or self.path.stem)
        self.spec = self._spec()
        names = [i.name for i in self.session.get_inputs()]
        if names != list(STYLISERS[self.kind].export_inputs) or [o.name for o in self.session.get_outputs()] != [
            "output"
        ]:
            raise ArtforgeError(f"{self.path}: inputs {names} do not fit an artforge {self.kind} model")

    def _metadata(self) -> dict[str, Any]:
        text = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if not text:
            raise ArtforgeError(
                f"{self.path}: not an artforge ONNX model (no artforge metadata); write one with `artforge export`"
            )
        try:
            meta = json.loads(text)
        except ValueError:
            raise ArtforgeError(f"{self.path}: unreadable artforge metadata") from None
        if not isinstance(meta, dict) or meta.get("model") not in STYLISERS:
            kind = meta.get("model") if isinstance(meta, dict) else None
            raise ArtforgeError(f"{self.path}: a {kind} model, not a styliser ({', '.join(STYLISERS)})")
        return meta

    def _spec(self) -> NetSpec | None:
        try:
            return NetSpec(**self.meta["net"])
        except (KeyError, TypeError):
            return None

    @property
    def needs_style(self) -> bool:
        return STYLISERS[self.kind].needs_style

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def to(self, device: torch.device | str) -> OnnxStylizer:
        """Kept for the Styliser interface: onnxruntime picks its own device (providers)."""
        return self

    def __call__(
        self,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor] | None = None,
        alpha: float = 1.0,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        feeds: dict[str, np.ndarray[Any, Any]] = {"content": _numpy(content)}
        if self.needs_style:
            if not styles:
                raise ArtforgeError(f"{self.name} is an AdaIN model: give a style image (--style)")
            if len(styles) > 1 or masks is not None:
                raise ArtforgeError(
                    f"{self.path.name}: ONNX AdaIN models take one style image; for several styles or masks "
                    "use the .safetensors model (artforge export SRC -o model.safetensors)"
                )
            if styles[0].shape[0] != 1:
                raise ArtforgeError(f"{self.path.name}: one style image at a time ([1, 3, h, w])")
            feeds["style"] = _numpy(styles[0])
            feeds["alpha"] = np.asarray(alpha, dtype=np.float32)
        try:
            (out,) = self.session.run(["output"], feeds)
        except Exception as e:  # noqa: BLE001 - onnxruntime's errors derive from Exception
            shape = "x".join(map(str, content.shape))
            raise ArtforgeError(f"{self.path.name}: onnxruntime failed on a {shape} input ({_first_line(e)})") from None
        return torch.from_numpy(out).to(device=content.device, dtype=content.dtype)


def _numpy(x: torch.Tensor) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
