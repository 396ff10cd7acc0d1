"""Export a trained generator to ONNX: x = (G(z, c) + 1) / 2 in [0, 1], with dynamic batch, checked against PyTorch in
onnxruntime before it is written (atomically).

Graph signature (``metadata_props["artforge"]`` holds the JSON below, with z_dim, num_classes, resolution, channels):
- stylegan2: ``z`` ``[N, z_dim]`` float32, ``c`` ``[N]`` int64 (conditional runs only), ``psi`` scalar float32 ->
  ``images`` ``[N, C, R, R]`` in [0, 1]. Truncation w' = w_avg + psi (w - w_avg) on every layer (Karras et al. 2019);
  the noise inputs are the generator's constant maps (``noise_mode="const"``), so the graph is deterministic and
  equals ``artforge sample`` (``family.generate``).
- gan / dcgan: ``z`` (and ``c``) -> ``images``; these have no truncation, so no ``psi``.

StyleGAN2 runs its modulated convolutions as one grouped convolution with one group per sample (Karras et al. 2020,
sec. 2.2). ONNX's Conv takes its group count as a static attribute, so such a graph cannot have a dynamic batch
(torch.export's ONNX translation refuses it; a TorchScript trace would bake in the traced batch). The exported copy
therefore computes the same function in the equivalent per-sample-scaling form y = d * conv(s * x, w) with
d_no = (sum_ik (s_ni w_oik)^2 + eps)^-1/2 (:class:`BatchModulatedConv`); the onnxruntime check compares it against
the network as it runs in PyTorch.
"""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from artforge.core import checkpoint as ckpt
from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError
from artforge.core.onnx_export import quiet, require
from artforge.families.base import GeneratorFamily
from artforge.families.registry import FAMILIES, generator
from artforge.nn.stylegan2 import Generator, ModulatedConv2d, demodulation, upfirdn2d
from artforge.train.build import model_from_checkpoint

OPSET = 18
ONNX_FORMAT = "artforge-generator-onnx-v1"
META_KEY = "artforge"
TOLERANCE = 1e-3  # onnxruntime vs PyTorch, max abs difference on [0, 1] pixels
EXPORTABLE = ("stylegan2", "dcgan", "gan")
TRACE_BATCH = 2  # torch.export specialises a dimension whose example size is 1
CHECK_BATCH = 3  # the onnxruntime check runs another batch size than the traced one
CHECK_PSI = 0.7


class BatchModulatedConv(nn.Module):
    """Karras et al. 2020 eq. 1-3 as y = d * conv(s * x, w), d_no = (sum_ik (s_ni w_oik)^2 + eps)^-1/2: the function of
    :class:`ModulatedConv2d`'s grouped convolution with a weight shared by the batch (so the batch can be dynamic)."""

    def __init__(self, conv: ModulatedConv2d, eps: float = 1e-8) -> None:
        super().__init__()
        self.conv = conv
        self.eps = eps

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # [N, I, H, W], [N, w_dim] -> [N, O, H*up, W*up]
        mod = self.conv
        styles = mod.affine(w)  # [N, I]
        weight = mod.weight * mod.weight_gain  # [O, I, k, k]
        k = weight.shape[-1]
        x = x * styles.reshape(styles.shape[0], -1, 1, 1)
        if mod.up == 1:
            y = F.conv2d(x, weight, padding=k // 2)  # [N, O, H, W]
        else:  # zero insertion + the same correlation, then the FIR blur: modulated_conv2d's up=2 path
            y = F.conv_transpose2d(x, weight.flip(dims=(2, 3)).transpose(0, 1), stride=2)  # [N, O, 2H+k-2, 2W+k-2]
            f = mod.resample_filter
            fk = f.shape[0]
            p0, p1 = k // 2 + (fk + 1) // 2 - (k - 1), k // 2 + (fk - 2) // 2 - (k - 2)
            y = upfirdn2d(y, f, padding=(p0, p1, p0, p1), gain=4.0)  # [N, O, 2H, 2W]
        if mod.demodulate:
            d = demodulation(styles, weight, self.eps)  # [N, O]
            y = y * d.reshape(d.shape[0], -1, 1, 1)
        return y


def batch_dynamic(g: Generator) -> Generator:
    """A frozen deep copy of ``g`` with every :class:`ModulatedConv2d` wrapped in :class:`BatchModulatedConv`."""
    out = copy.deepcopy(g).eval().requires_grad_(False)
    for parent in list(out.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ModulatedConv2d):
                setattr(parent, name, BatchModulatedConv(child))
    return out


class StyleGAN2Graph(nn.Module):
    """(g(w_avg + psi (f(z, c) - w_avg), const noise) + 1) / 2, clamped to [0, 1]."""

    def __init__(self, g: Generator) -> None:
        super().__init__()
        self.g = batch_dynamic(g)

    def forward(self, z: Tensor, c: Tensor | None, psi: Tensor) -> Tensor:
        ws = self.g.mapping(z, c)  # [N, num_ws, w_dim]
        avg = self.g.mapping.w_avg
        ws = avg + psi * (ws - avg)
        img = self.g.synthesis(ws, noise_mode="const")  # [N, C, R, R]
        return img.add(1).div(2).clamp(0, 1)  # type: ignore[no-any-return]


class GANGraph(nn.Module):
    """(G(z, c) + 1) / 2, clamped to [0, 1]."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = copy.deepcopy(g).eval().requires_grad_(False)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.g(z, c).add(1).div(2).clamp(0, 1)  # type: ignore[no-any-return]


class _NoLabelStyleGAN2(nn.Module):
    """An unconditional StyleGAN2 graph: inputs (z, psi)."""

    def __init__(self, graph: StyleGAN2Graph) -> None:
        super().__init__()
        self.net = graph

    def forward(self, z: Tensor, psi: Tensor) -> Tensor:
        return self.net(z, None, psi)  # type: ignore[no-any-return]


class _NoLabelGAN(nn.Module):
    """An unconditional GAN graph: input z."""

    def __init__(self, graph: GANGraph) -> None:
        super().__init__()
        self.net = graph

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z, None)  # type: ignore[no-any-return]


def graph_inputs(
    net: nn.Module, model: str, z_dim: int, num_classes: int, batch: int, psi: float, seed: int = 0
) -> tuple[nn.Module, dict[str, Tensor]]:
    """The module to export and example inputs by name (the graph's input names)."""
    gen = torch.Generator().manual_seed(seed)
    inputs: dict[str, Tensor] = {"z": torch.randn(batch, z_dim, generator=gen)}
    if num_classes:
        inputs["c"] = torch.randint(num_classes, (batch,), generator=gen)
    graph: nn.Module
    if model == "stylegan2":
        assert isinstance(net, Generator)
        inputs["psi"] = torch.tensor(psi, dtype=torch.float32)
        graph = StyleGAN2Graph(net) if num_classes else _NoLabelStyleGAN2(StyleGAN2Graph(net))
    else:
        graph = GANGraph(net) if num_classes else _NoLabelGAN(GANGraph(net))
    return graph.eval(), inputs


def _export(module: nn.Module, inputs: dict[str, Tensor], opset: int, dynamo: bool) -> Any:
    """``onnx.ModelProto`` of ``module`` with a dynamic batch on z and c."""
    import onnx  # noqa: PLC0415 - lazy: optional [export] extra

    names = list(inputs)
    args = tuple(inputs.values())
    if dynamo:
        batch = torch.export.Dim("N", min=1)
        shapes = tuple({0: batch} if k in ("z", "c") else {} for k in names)
        program = torch.onnx.export(
            module, args, None, dynamo=True, input_names=names, output_names=["images"],
            dynamic_shapes=shapes, opset_version=opset, verbose=False, optimize=True,
        )  # fmt: skip
        if program is None:
            raise RuntimeError("the exporter returned no program")
        return program.model_proto
    buf: Any = io.BytesIO()
    axes = {k: {0: "N"} for k in names if k in ("z", "c")}
    torch.onnx.export(
        module, args, buf, dynamo=False, input_names=names, output_names=["images"],
        dynamic_axes={**axes, "images": {0: "N"}}, opset_version=opset,
    )  # fmt: skip
    return onnx.load_from_string(buf.getvalue())


def to_onnx(
    net: nn.Module, model: str, z_dim: int, num_classes: int, opset: int = OPSET, dynamo: bool = True
) -> tuple[Any, str]:
    """The generator as an ``onnx.ModelProto`` (not yet checked) and the exporter that wrote it: torch.export's
    (``dynamo``) or, if that fails, the TorchScript tracer (gan and dcgan only: it cannot trace stylegan2's FIR
    resampling, whose convolutions run on sliced inputs of unknown shape)."""
    require("onnx", *(["onnxscript"] if dynamo else []))
    exporters = ["dynamo", "torchscript"] if dynamo else ["torchscript"]
    if model == "stylegan2":  # the tracer cannot size the FIR filters' convolutions (their inputs are sliced)
        if not dynamo:
            raise ArtforgeError("--exporter torchscript cannot export stylegan2 (its FIR resampling); use dynamo")
        exporters = ["dynamo"]
    module, inputs = graph_inputs(net, model, z_dim, num_classes, TRACE_BATCH, CHECK_PSI)
    errors: list[str] = []
    proto, exporter = None, ""
    for exporter in exporters:
        try:
            with quiet():
                proto = _export(module, inputs, opset, exporter == "dynamo")
            break
        except Exception as e:  # noqa: BLE001 - any exporter failure: try the next, then one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            errors.append(f"{exporter}: {type(e).__name__}: {first[:160]}")
    if proto is None:
        raise ArtforgeError(f"ONNX export of the {model} generator failed ({'; '.join(errors)})")
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ArtforgeError(f"--opset {opset}: the {exporter} exporter could only write opset {written}")
    return proto, exporter


def reference(net: nn.Module, fam: GeneratorFamily, inputs: dict[str, Tensor]) -> Tensor:
    """What the graph must compute, by the family's own sampling code: images in [0, 1]."""
    dev = next(net.parameters()).device
    c = inputs["c"].to(dev) if "c" in inputs else None
    psi = float(inputs["psi"]) if "psi" in inputs else 1.0
    return fam.generate(net, inputs["z"].to(dev), c, psi).float().cpu()


def max_abs_diff(net: nn.Module, fam: GeneratorFamily, model: str, z_dim: int, num_classes: int, path: Path) -> float:
    """Max |onnxruntime - PyTorch| on seeded random inputs at another batch size than the traced one."""
    import onnxruntime as ort  # noqa: PLC0415 - lazy: optional [export] extra

    _, inputs = graph_inputs(net, model, z_dim, num_classes, CHECK_BATCH, CHECK_PSI, seed=1)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ArtforgeError(f"onnxruntime cannot run the export ({type(e).__name__}: {str(e)[:160]})") from None
    return float((torch.from_numpy(got) - reference(net, fam, inputs)).abs().max())


def export_generator_onnx(
    net: nn.Module, model: str, num_classes: int, path: str | os.PathLike[str], *, z_dim: int,
    opset: int = OPSET, dynamo: bool = True, meta: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Write generator ``net`` of family ``model`` to ``path`` as ONNX, only if onnxruntime matches PyTorch within
    :data:`TOLERANCE`. Returns ``{path, kind, name, opset, exporter, max_abs_diff, tolerance}``."""
    if model not in EXPORTABLE:
        raise ArtforgeError(f"{model} runs cannot be exported; ONNX export is for {', '.join(EXPORTABLE)} generators")
    dest = Path(path)
    if dest.suffix.lower() != ".onnx":
        raise ArtforgeError(f"-o {dest}: a generator exports to ONNX only; write a .onnx file")
    if not dest.parent.is_dir():
        raise ArtforgeError(f"-o {dest}: folder {dest.parent} does not exist")
    if dest.is_dir():
        raise ArtforgeError(f"-o {dest}: is a directory")
    if not os.access(dest.parent, os.W_OK):
        raise ArtforgeError(f"-o {dest}: folder {dest.parent} is not writable")
    require("onnxruntime")
    net = net.cpu().eval()
    fam = generator(model)
    proto, exporter = to_onnx(net, model, z_dim, num_classes, opset, dynamo)
    import onnx  # noqa: PLC0415 - lazy: optional [export] extra

    info = {
        "format": ONNX_FORMAT, "model": model, "z_dim": z_dim, "num_classes": num_classes,
        "inputs": [i.name for i in proto.graph.input], **(meta or {}),
    }  # fmt: skip
    proto.producer_name = "artforge"
    proto.doc_string = f"artforge {model} generator: images in [0, 1] from z" + (", c" if num_classes else "")
    del proto.metadata_props[:]
    proto.metadata_props.add(key=META_KEY, value=json.dumps(info, sort_keys=True))
    with atomic_path(dest) as tmp:
        onnx.save(proto, str(tmp))
        try:
            diff = max_abs_diff(net, fam, model, z_dim, num_classes, tmp)
        except ArtforgeError as e:
            raise ArtforgeError(f"{dest}: not written, {e}") from None
        if not diff <= TOLERANCE:  # also catches NaN
            raise ArtforgeError(
                f"{dest}: not written, onnxruntime differs from PyTorch by {diff:.2g} (> {TOLERANCE:g})"
            )
    return {
        "path": str(dest), "kind": model, "name": info.get("name", model), "opset": opset, "exporter": exporter,
        "max_abs_diff": diff, "tolerance": TOLERANCE,
    }  # fmt: skip


def generator_checkpoint(source: str | os.PathLike[str]) -> Path | None:
    """The checkpoint of ``source`` if it is an image generator's run dir or training checkpoint, else None (a
    styliser's name, run, checkpoint or model file, which ``artforge export`` handles as before)."""
    p = Path(source)
    if p.is_dir():
        cfg = p / "config.json"
        try:
            model = json.loads(cfg.read_text()).get("model") if cfg.is_file() else None
        except (OSError, ValueError):
            return None
        if model not in FAMILIES or FAMILIES[model].is_stylizer:
            return None
        return ckpt.latest(p)
    if p.is_file() and p.suffix == ".safetensors":
        try:
            _, meta = ckpt.load(p, tensors=False)
        except ArtforgeError:
            return None
        model = (meta.get("config") or {}).get("model")
        return p if model in FAMILIES and not FAMILIES[model].is_stylizer and meta.get("shapes") else None
    return None


def export_file(
    checkpoint: Path, output: str | os.PathLike[str], opset: int | None = None, dynamo: bool = True
) -> dict[str, Any]:
    """``artforge export RUN -o g.onnx`` for a generator run or checkpoint."""
    net, cfg, meta, _ = model_from_checkpoint(checkpoint, "cpu")
    shapes = meta["shapes"]
    info = {
        "name": checkpoint.parent.name or checkpoint.stem, "resolution": shapes["resolution"],
        "channels": shapes["channels"], "checkpoint": checkpoint.name,
    }  # fmt: skip
    z_dim = generator(cfg.model).latent_size(cfg)
    return export_generator_onnx(
        net, cfg.model, int(shapes["num_classes"]), output, z_dim=z_dim, opset=opset or OPSET, dynamo=dynamo, meta=info
    )
