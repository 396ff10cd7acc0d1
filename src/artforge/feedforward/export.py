"""Export a styliser to ONNX: y = f_W(x) for per-style networks, or the whole AdaIN pipeline
y = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))) (Huang & Belongie 2017), with dynamic batch,
height and width, artforge metadata in ``metadata_props``, written atomically and checked against
PyTorch in onnxruntime before it replaces anything.

Graph signature:
- johnson / gan-style: ``content`` ``[N, 3, H, W]`` float32 in [0, 1] -> ``output`` ``[N, 3, H, W]`` in [0, 1].
- adain: ``content`` ``[N, 3, H, W]``, ``style`` ``[1, 3, h, w]`` (its own size), ``alpha`` (scalar
  float32) -> ``output`` ``[N, 3, H, W]`` in [0, 1].
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError
from artforge.core.onnx_export import quiet, require
from artforge.feedforward.onnx import OnnxStylizer
from artforge.feedforward.stylizer import Stylizer, load_torch, resolve, save_model
from artforge.nn.adain import adain_forward

OPSET = 18  # the default, and torch.export's lowest opset; onnxruntime >= 1.14 runs it
ONNX_FORMAT = "artforge-onnx-v1"
META_KEY = "artforge"
SUFFIXES = (".onnx", ".safetensors")
TOLERANCE = 1e-3  # onnxruntime vs PyTorch, max abs difference on [0, 1] pixels
# Example sizes for tracing: not multiples of 4 or 8, so every pad/crop is in the graph; batch 2,
# because torch.export specialises a dimension whose example size is 1.
CONTENT_SHAPE = (2, 3, 37, 50)
STYLE_SHAPE = (1, 3, 45, 38)


class ClampedNet(nn.Module):
    """clamp(f_W(x), 0, 1): a per-style network as it runs at inference."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.net(content).clamp(0, 1)  # type: ignore[no-any-return]


class AdaINPipeline(nn.Module):
    """T(c, s) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), cropped to c's size and clamped to [0, 1]."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return adain_forward(self.encoder, self.decoder, content, [style], alpha).clamp(0, 1)


def graph_module(stylizer: Stylizer) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """The module to trace and its example inputs by name (the graph's input names)."""
    device = next(stylizer.net.parameters()).device
    gen = torch.Generator().manual_seed(0)
    content = torch.rand(CONTENT_SHAPE, generator=gen).to(device)
    if stylizer.kind != "adain":
        return ClampedNet(stylizer.net).eval(), {"content": content}
    style = torch.rand(STYLE_SHAPE, generator=gen).to(device)
    module = AdaINPipeline(stylizer.encoder, stylizer.net).eval()
    return module, {"content": content, "style": style, "alpha": torch.tensor(0.75, device=device)}


def metadata(stylizer: Stylizer) -> dict[str, Any]:
    """What OnnxStyliser reads back: kind, name, NetSpec and the model file's description."""
    assert stylizer.spec is not None
    meta = {"format": ONNX_FORMAT, "model": stylizer.kind, "name": stylizer.name, "net": stylizer.spec.to_dict()}
    for key in ("description", "training"):
        if key in stylizer.meta:
            meta[key] = stylizer.meta[key]
    return meta


def opset_range(dynamo: bool = True) -> tuple[int, int]:
    """The opsets the exporter can write: torch.export's from 18; the TorchScript tracer's 11 (dynamic pads) to 20."""
    try:
        from torch.onnx import _constants  # noqa: PLC0415 - lazy: torch.onnx loads the exporter machinery; only export needs it

        hi = _constants.ONNX_MAX_OPSET if dynamo else _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    except (ImportError, AttributeError):
        hi = 23 if dynamo else 20
    return (OPSET if dynamo else 11), int(hi)


def to_onnx(stylizer: Stylizer, opset: int = OPSET, dynamo: bool = True) -> Any:
    """The styliser as an ``onnx.ModelProto`` (not yet checked): dynamic batch/H/W, artforge metadata.

    ``dynamo=True`` uses torch.export (the maintained exporter since PyTorch 2.9, needs onnxscript);
    ``dynamo=False`` the legacy TorchScript tracer.
    """
    require("onnx", *(["onnxscript"] if dynamo else []))
    import onnx  # noqa: PLC0415 - lazy: optional [export] extra

    lo, hi = opset_range(dynamo)
    if not lo <= opset <= hi:
        raise ArtforgeError(f"--opset {opset}: this exporter writes opsets {lo} to {hi}")
    module, inputs = graph_module(stylizer)
    names = list(inputs)
    axes = {"content": {0: "N", 2: "H", 3: "W"}, "style": {2: "h", 3: "w"}, "alpha": {}}
    with quiet():
        try:
            if dynamo:
                dim = torch.export.Dim.DYNAMIC
                shapes = {k: {i: dim for i in axes[k]} for k in names}
                program = torch.onnx.export(
                    module, tuple(inputs.values()), None, dynamo=True, input_names=names, output_names=["output"],
                    dynamic_shapes=shapes, opset_version=opset, verbose=False, optimize=True,
                )  # fmt: skip
                if program is None:
                    raise RuntimeError("the exporter returned no program")
                model = program.model_proto
            else:
                buf: Any = io.BytesIO()  # the TorchScript exporter writes to file objects too
                torch.onnx.export(
                    module, tuple(inputs.values()), buf, dynamo=False, input_names=names, output_names=["output"],
                    dynamic_axes={**{k: axes[k] for k in names if axes[k]}, "output": axes["content"]},
                    opset_version=opset,
                )  # fmt: skip
                model = onnx.load_from_string(buf.getvalue())
        except Exception as e:  # noqa: BLE001 - any exporter failure is the same one-line error
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            hint = "; try --exporter torchscript, or upgrade torch/onnxscript" if dynamo else ""
            raise ArtforgeError(
                f"ONNX export of {stylizer.name} failed ({type(e).__name__}: {first[:200]}){hint}"
            ) from None
    written = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ArtforgeError(f"--opset {opset}: the exporter could only write opset {written}")
    _name_axes(model, axes)
    model.producer_name = "artforge"
    model.doc_string = f"artforge {stylizer.kind} styliser {stylizer.name}"
    del model.metadata_props[:]
    model.metadata_props.add(key=META_KEY, value=json.dumps(metadata(stylizer), sort_keys=True))
    return model


def _name_axes(model: Any, axes: dict[str, dict[int, str]]) -> None:
    """Readable dynamic axes (N, H, W, h, w) on inputs and output, renamed wherever the graph uses the
    exporter's own symbols (s0, s77, ...) so that shape inference keeps the same relations."""
    g = model.graph
    rename: dict[str, str] = {}
    for vi in g.input:
        for i, dim in enumerate(vi.type.tensor_type.shape.dim):
            if i in axes.get(vi.name, {}) and dim.dim_param:
                rename[dim.dim_param] = axes[vi.name][i]
    for vi in [*g.input, *g.value_info, *g.output]:
        for dim in vi.type.tensor_type.shape.dim:
            if dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]
    for vi in g.output:  # [N, 3, H, W] like the content (the exporter may write Min(...) expressions)
        for i, dim in enumerate(vi.type.tensor_type.shape.dim):
            if i in axes["content"]:
                dim.dim_param = axes["content"][i]


def max_abs_diff(stylizer: Stylizer, path: Path) -> float:
    """Max |onnxruntime - PyTorch| on a seeded random input of a size unlike the traced one."""
    gen = torch.Generator().manual_seed(1)
    content = torch.rand(1, 3, 67, 45, generator=gen)
    styles = [torch.rand(1, 3, 52, 61, generator=gen)] if stylizer.kind == "adain" else None
    device = next(stylizer.net.parameters()).device
    with torch.no_grad():
        ref = stylizer(content.to(device), [s.to(device) for s in styles] if styles else None, alpha=0.6).cpu()
    got = OnnxStylizer(path, providers=["CPUExecutionProvider"])(content, styles, alpha=0.6)
    return float((got - ref).abs().max())


def export_onnx(
    stylizer: Stylizer, path: str | os.PathLike[str], opset: int = OPSET, dynamo: bool = True, check: bool = True
) -> float | None:
    """Write ``styliser`` to ``path`` as ONNX. With ``check`` the file is run in onnxruntime first and
    only replaces ``path`` if it matches PyTorch within :data:`TOLERANCE`; returns that max abs difference."""
    if not isinstance(stylizer, Stylizer):
        raise ArtforgeError(f"{stylizer.name}: already an ONNX model; export from its .safetensors file or run")
    dest = Path(path)
    if not dest.parent.is_dir():
        raise ArtforgeError(f"-o {dest}: folder {dest.parent} does not exist")
    if check:
        require("onnxruntime")
    model = to_onnx(stylizer, opset, dynamo)
    import onnx  # noqa: PLC0415 - lazy: optional [export] extra

    diff = None
    with atomic_path(dest) as tmp:
        onnx.save(model, str(tmp))
        if check:
            try:
                diff = max_abs_diff(stylizer, tmp)
            except ArtforgeError as e:  # it names the temporary file
                raise ArtforgeError(f"{dest}: not written, onnxruntime cannot run the export ({e})") from None
            if not diff <= TOLERANCE:  # also catches NaN
                raise ArtforgeError(
                    f"{dest}: not written, onnxruntime differs from PyTorch by {diff:.2g} (> {TOLERANCE:g})"
                )
    return diff


def export_file(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    fp16: bool = True,
    opset: int | None = None,
    dynamo: bool = True,
) -> dict[str, Any]:
    """``artforge export``: checks the output first, then writes an ONNX file or a small artforge model file."""
    out = Path(output)
    if out.suffix.lower() not in SUFFIXES:
        raise ArtforgeError(f"-o {out}: write a .onnx (onnxruntime) or .safetensors (artforge model) file")
    if not out.parent.is_dir():
        raise ArtforgeError(f"-o {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise ArtforgeError(f"-o {out}: is a directory")
    if not os.access(out.parent, os.W_OK):
        raise ArtforgeError(f"-o {out}: folder {out.parent} is not writable")
    to_onnx, opset = out.suffix.lower() == ".onnx", opset or OPSET
    lo, hi = opset_range(dynamo)
    if to_onnx and not lo <= opset <= hi:
        name = "dynamo" if dynamo else "torchscript"
        raise ArtforgeError(f"--opset {opset}: the {name} exporter writes opsets {lo} to {hi}")
    if resolve(source).suffix == ".onnx":
        raise ArtforgeError(f"{source}: already an ONNX model; export from its .safetensors file or run")
    stylizer = load_torch(resolve(source), source, "cpu")
    if not to_onnx:
        save_model(out, stylizer, fp16=fp16)
        return {"path": str(out), "kind": stylizer.kind, "name": stylizer.name}
    diff = export_onnx(stylizer, out, opset=opset, dynamo=dynamo)
    return {
        "path": str(out), "kind": stylizer.kind, "name": stylizer.name, "opset": opset, "max_abs_diff": diff,
        "tolerance": TOLERANCE,
    }  # fmt: skip
