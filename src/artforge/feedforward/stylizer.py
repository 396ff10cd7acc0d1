"""Feed-forward stylisers at inference: y = f_W(x) (Johnson et al. 2016; GAN-based), or
y = g(AdaIN(f(c), f(s))) (Huang & Belongie 2017), loaded from a shipped name, a run, a checkpoint,
a model file or an ONNX file, and run in batches and overlapping tiles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.data.tiling import paste, windows
from artforge.families.registry import STYLISERS, build_stylizer_net, stylizer
from artforge.families.stylizer import ENCODER, PREFIX, NetSpec
from artforge.feedforward.base import StylizerLike
from artforge.feedforward.onnx import OnnxStylizer
from artforge.nn.adain import LAYER, adain_forward
from artforge.nn.encoders import PREPROCESSINGS, VGGEncoder
from artforge.nn.weights import load_encoder


class Stylizer:
    """A loaded stylisation network. ``__call__``: content ``[N, 3, H, W]`` in [0, 1] -> ``[N, 3, H, W]``
    in [0, 1]; AdaIN also takes styles (each ``[1, 3, h, w]``), ``alpha``, blend weights or masks."""

    def __init__(
        self, spec: NetSpec, net: nn.Module, name: str, meta: dict[str, Any] | None = None, encoder: Any = None
    ) -> None:
        """``encoder``: adain's distilled encoder (files with ``encoder_width`` > 1 carry it); else the
        VGG ``spec.weights`` is loaded."""
        self.spec: NetSpec | None = spec
        self.kind, self.name, self.family = spec.kind, name, stylizer(spec.kind)
        self.net = net.eval().requires_grad_(False)
        self.meta = meta or {}
        self.encoder: Any = encoder
        if self.family.needs_style and encoder is None:
            if spec.encoder_width > 1:
                raise ArtforgeError(f"{name}: a distilled AdaIN model needs its own encoder (load it with load())")
            self.encoder = load_encoder(spec.weights, progress=False)
            if self.encoder.arch != spec.arch:
                raise ArtforgeError(f"{name}: decoder mirrors {spec.arch}, but weights {spec.weights} are not")

    @property
    def needs_style(self) -> bool:
        return self.family.needs_style

    def to(self, device: torch.device | str) -> Stylizer:
        self.net.to(device)
        if self.encoder is not None:
            self.encoder.to(device)
        return self

    @torch.no_grad()
    def __call__(
        self,
        content: torch.Tensor,
        styles: Sequence[torch.Tensor] | None = None,
        alpha: float = 1.0,
        style_weights: Sequence[float] | None = None,
        masks: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if not self.needs_style:
            return self.net(content).clamp_(0, 1)  # type: ignore[no-any-return]
        if not styles:
            raise ArtforgeError(f"{self.name} is an AdaIN model: give a style image (--style)")
        return adain_forward(self.encoder, self.net, content, styles, alpha, style_weights, masks).clamp_(0, 1)


class _StyleMemo:
    """An AdaIN encoder that encodes each style image once per video or folder instead of once per frame or
    batch (a 512 px style costs ~1.5 s of VGG on 2 CPU cores): calls on one of ``styles`` hit a cache."""

    def __init__(self, encoder: Any, styles: list[torch.Tensor]) -> None:
        self.encoder, self.styles = encoder, styles
        self.cache: dict[tuple[int, tuple[str, ...]], Any] = {}

    def __call__(self, x: torch.Tensor, layers: Any) -> Any:
        hit = next((i for i, s in enumerate(self.styles) if x is s), None)
        if hit is None:
            return self.encoder(x, layers)
        key = (hit, tuple(layers))
        if key not in self.cache:
            self.cache[key] = self.encoder(x, layers)
        return self.cache[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoder, name)


@contextmanager
def style_features_once(stylizer: Any, styles: list[torch.Tensor] | None) -> Iterator[None]:
    """While a video or a folder runs, an AdaIN ``styliser`` (one with an ``encoder``) reuses its style features."""
    encoder = getattr(stylizer, "encoder", None)
    if not styles or encoder is None:
        yield
        return
    stylizer.encoder = _StyleMemo(encoder, styles)
    try:
        yield
    finally:
        stylizer.encoder = encoder


def run_tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """fn over overlapping ``tile`` px windows of ``x`` ``[N, 3, H, W]``, cross-faded over ``overlap`` px
    (no seams); one pass when the image fits in a tile."""
    h, w = x.shape[-2:]
    if max(h, w) <= tile:
        return fn(x)
    canvas = torch.zeros_like(x)
    for win in windows(h, w, tile, overlap):
        y0, y1, x0, x1 = win
        paste(canvas, fn(x[..., y0:y1, x0:x1]), win, overlap)
    return canvas


# ---------------------------------------------------------------- files


def models_dir() -> Path:
    """Shipped models: ``src/artforge/models/<name>.safetensors`` (package data)."""
    return Path(__file__).resolve().parent.parent / "models"


def shipped() -> dict[str, Path]:
    d = models_dir()
    return {p.stem: p for p in sorted(d.glob("*.safetensors"))} if d.is_dir() else {}


def trained(root: str | os.PathLike[str] = "runs") -> dict[str, Path]:
    """Run dirs under ``root`` (the default ``--out`` of ``artforge train``) that hold a styliser."""
    out: dict[str, Path] = {}
    base = Path(root)
    if not base.is_dir():
        return out
    for run in sorted(base.iterdir()):
        cfg = run / "config.json"
        if not (cfg.is_file() and ckpt.checkpoints(run)):
            continue
        try:
            model = json.loads(cfg.read_text()).get("model")
        except (OSError, ValueError):
            continue
        if model in STYLISERS:
            out[run.name] = run
    return out


def list_models(root: str | os.PathLike[str] = "runs") -> list[dict[str, Any]]:
    """``[{name, kind, source, path, description}]`` for shipped models and trained runs under ``root``."""
    rows: list[dict[str, Any]] = []
    for source, table in (("shipped", shipped()), ("trained", trained(root))):
        for name, path in table.items():
            try:
                _, meta = _read(ckpt.latest(path) if path.is_dir() else path, tensors=False)
            except ArtforgeError:
                continue
            kind = meta.get("model", "?")
            about = meta.get("description") or (STYLISERS[kind].description if kind in STYLISERS else "")
            if (k := int(meta.get("net", {}).get("encoder_width", 1))) > 1:
                about += f"; distilled 1/{k}-width encoder (Wang et al. 2020), fast"
            rows.append({"name": name, "kind": kind, "source": source, "path": str(path), "description": about})
    return rows


def _read(path: Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    values, meta = ckpt.load(path, tensors)
    kind = meta.get("model")
    if kind not in STYLISERS:
        what = f"a {kind} checkpoint" if kind else "not an artforge model"
        raise ArtforgeError(f"{path}: {what}, not a styliser ({', '.join(STYLISERS)})")
    return values, meta


def spec_from_meta(meta: dict[str, Any], where: Path) -> NetSpec:
    """The NetSpec that training checkpoints and model files both store under ``net``."""
    try:
        return NetSpec(**meta["net"])
    except (KeyError, TypeError):
        raise ArtforgeError(f"{where}: holds no readable network description") from None


def resolve(spec: str | os.PathLike[str], root: str | os.PathLike[str] = "runs") -> Path:
    """A shipped name, a trained run's name under ``root``, a run dir, a checkpoint or a model file -> a file."""
    s, ours = str(spec), shipped()
    if s in ours:
        return ours[s]
    p = Path(s)
    runs = trained(root) if not p.exists() else {}
    p = runs.get(s, p)
    if p.is_dir():
        return ckpt.latest(p)
    if p.is_file():
        return p
    names = ", ".join([*ours, *runs]) or "none"
    raise ArtforgeError(f"--model {s}: no such model file, run dir or name (known: {names}; see `artforge models`)")


def load(spec: str | os.PathLike[str], device: torch.device | str = "cpu", root: str = "runs") -> StylizerLike:
    """A :class:`Styliser` (or, for ``.onnx`` files, an onnxruntime one with the same call)."""
    path = resolve(spec, root)
    if path.suffix == ".onnx":
        return OnnxStylizer(path)
    return load_torch(path, spec, device)


def load_torch(path: Path, spec: str | os.PathLike[str], device: torch.device | str = "cpu") -> Stylizer:
    """The PyTorch :class:`Styliser` in a checkpoint or model file (``spec``: how the user named it)."""
    tensors, meta = _read(path)
    net_spec = spec_from_meta(meta, path)
    net = build_stylizer_net(net_spec)
    tensors = {k: v.float() for k, v in tensors.items()}
    ckpt.load_module(PREFIX, net, tensors, path)
    encoder = None
    if net_spec.encoder_width > 1:
        if net_spec.preprocessing not in PREPROCESSINGS:
            raise ArtforgeError(f"{path}: unknown encoder preprocessing {net_spec.preprocessing!r}")
        prep = PREPROCESSINGS[net_spec.preprocessing]
        encoder = VGGEncoder(net_spec.arch, prep, width=net_spec.encoder_width, last=LAYER).eval()
        ckpt.load_module(ENCODER, encoder, tensors, path)
    name = path.stem if path.parent == models_dir() else str(spec)
    return Stylizer(net_spec, net, name, meta, encoder).to(device)


def save_model(path: Path, stylizer: Stylizer, fp16: bool = True, extra: dict[str, Any] | None = None) -> Path:
    """A small inference file: the network's weights (fp16 by default) + its NetSpec and metadata."""
    assert stylizer.spec is not None
    tensors = ckpt.module_tensors(PREFIX, stylizer.net)
    if stylizer.spec.encoder_width > 1:
        tensors.update(ckpt.module_tensors(ENCODER, stylizer.encoder))
    if fp16:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    keep = {k: v for k, v in stylizer.meta.items() if k in ("config", "description", "training")}
    ckpt.save(path, tensors, {**keep, **(extra or {}), "model": stylizer.kind, "net": stylizer.spec.to_dict()})
    return path
