"""One photo through a shipped styliser in onnxruntime, without importing torch: ``stylize --model`` for a single
image that fits in one tile, y' = s * f(x) + (1 - s) * x, from an ONNX export of the shipped model (Johnson et al.
2016; AdaIN, Huang & Belongie 2017) that is cached on first use under ``CACHE/onnx/``.

Same inputs, pre- and post-processing as :func:`artforge.feedforward.files.stylize_files` (the image checks of
:mod:`artforge.data.image_io`, [0, 1] floats, clamp, rounding to 8 bits, the PNG's parameters); the pixels differ
from the PyTorch path's only by the export's tolerance. Importing torch costs ~3 s on 2 CPU cores, more than the
network itself at 1024 px; this path loads numpy, Pillow and onnxruntime (~0.4 s) instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from artforge.core.download import cache_dir
from artforge.core.errors import ArtforgeError
from artforge.data import image_io, samples
from artforge.feedforward.options import MIN_STYLE_SIDE, ModelOptions

META_KEY = "artforge"  # the safetensors / ONNX metadata key of artforge's description
STYLE_KINDS = ("adain",)  # families whose networks take a style image


def models_dir() -> Path:
    """Shipped models: ``src/artforge/models/<name>.safetensors`` (the same as ``stylizer.models_dir``)."""
    return Path(__file__).resolve().parent.parent / "models"


def model_kind(path: Path) -> str | None:
    """The family (``johnson``, ``adain``, ...) in a safetensors file's header, read without loading its tensors."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        kind = json.loads(header["__metadata__"][META_KEY]).get("model")
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return kind if isinstance(kind, str) else None


def cached_onnx(source: Path) -> Path:
    """Where the ONNX export of ``source`` is cached: named by its content, so a changed model is exported anew."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return cache_dir() / "onnx" / f"{source.stem}-{digest}.onnx"


def plan(
    model: str,
    inputs: Sequence[str],
    output: str,
    styles: Sequence[str],
    masks: Sequence[str],
    opts: ModelOptions,
    device: str,
) -> Path | None:
    """The shipped model file when this command can run here without torch, else None (the PyTorch path runs it):
    one input file, one output file, a shipped model with the style images it takes, no masks, blends or colour
    preservation, fp32, on the CPU (``auto``: CUDA where an NVIDIA GPU and onnxruntime's CUDA build are both there;
    a GPU without the latter goes to PyTorch), onnxruntime installed. Invalid options also answer None, so that
    the PyTorch path reports them as it always has."""
    simple = opts.preserve_color == "none" and opts.precision == "fp32" and opts.style_blend is None
    if device not in ("auto", "cpu") or masks or len(inputs) != 1 or not simple:
        return None
    source = models_dir() / f"{model}.safetensors"
    if not source.is_file() or importlib.util.find_spec("onnxruntime") is None:
        return None
    spec, out = inputs[0], Path(output)
    if not samples.is_sample(spec) and (Path(spec).is_dir() or any(ch in spec for ch in "*?[")):
        return None
    if out.is_dir() or output.endswith(os.sep) or not out.suffix:
        return None
    kind = model_kind(source)
    if kind is None or len(styles) != (1 if kind in STYLE_KINDS else 0):
        return None
    try:
        opts.validate()
    except ArtforgeError:
        return None
    if device == "auto" and nvidia_gpu() and "CUDAExecutionProvider" not in providers():
        return None  # `auto` means CUDA when present: PyTorch has it, this onnxruntime build has not
    return source


def nvidia_gpu() -> bool:
    """Whether the NVIDIA driver shows a GPU (without importing torch or initialising CUDA)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return Path("/dev/nvidia0").exists() or (gpus.is_dir() and any(gpus.iterdir()))


def providers() -> list[str]:
    """onnxruntime's execution providers in this build."""
    import onnxruntime as ort  # noqa: PLC0415 - lazy: optional [export] extra, ~0.3 s to import

    return list(ort.get_available_providers())


def _load(spec: str, size: int | None, what: str, min_side: int = image_io.MIN_SIDE) -> np.ndarray[Any, Any]:
    """``[1, 3, H, W]`` float32 in [0, 1], as :func:`artforge.data.images.to_tensor` makes it."""
    img = samples.open_image(spec, what, min_side)
    if size is not None:
        img = image_io.resize_long(img, size)
    a = np.asarray(img, dtype=np.float32) / 255.0
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def session(path: Path, device: str) -> Any:
    """An onnxruntime session on ``path``: CPU, or for ``auto`` CUDA first when this build has it."""
    import onnxruntime as ort  # noqa: PLC0415 - lazy: optional [export] extra, ~0.3 s to import

    wanted = ["CPUExecutionProvider"] if device == "cpu" else ["CUDAExecutionProvider", "CPUExecutionProvider"]
    providers = [p for p in wanted if p in ort.get_available_providers()]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - onnxruntime's errors (InvalidProtobuf, Fail, ...) derive from Exception
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ArtforgeError(f"{path}: unreadable cached ONNX export ({first}); delete it to export it again") from None


def stylize_one(
    onnx_path: Path,
    spec: str,
    output: str,
    name: str,
    styles: Sequence[str],
    opts: ModelOptions,
    device: str = "auto",
    progress: bool = True,
) -> Path | None:
    """Stylise one image with the cached export of the shipped model ``name``; the file written, or None when the
    image needs tiles (larger than ``opts.tile_size``: the PyTorch path tiles it)."""
    out = image_io.check_writable(output)
    style = [_load(s, opts.style_size, "style image", MIN_STYLE_SIDE) for s in styles]
    x = _load(spec, opts.size, "content image")  # [1, 3, H, W]
    if max(x.shape[-2:]) > opts.tile_size:
        return None
    sess = session(onnx_path, device)
    feeds = {"content": x}
    if style:
        feeds.update(style=style[0], alpha=np.asarray(opts.alpha, dtype=np.float32))
    bar = tqdm(total=1, unit="img", desc="stylize", disable=not progress, dynamic_ncols=True)
    try:
        (y,) = sess.run(["output"], feeds)
        y = np.clip(opts.strength * y + (1 - opts.strength) * x, 0, 1)  # files.finish, without colour preservation
        pixels = np.round(y[0].transpose(1, 2, 0) * 255).astype(np.uint8)  # images.to_image
        params = {"model": name, "content": spec, "styles": list(styles), **opts.__dict__}
        written = image_io.save(Image.fromarray(pixels, "RGB"), out, params, png_level=1)
        bar.update(1)
    finally:
        bar.close()
    return written
