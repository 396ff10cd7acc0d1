"""``artforge export SRC -o OUT``: a styliser (shipped name, run, checkpoint or model file) as ONNX
(``.onnx``, checked in onnxruntime against PyTorch) or as a small fp16 model file (``.safetensors``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

SUFFIXES = (".onnx", ".safetensors")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export a styliser to ONNX or to a small safetensors model file")
    p.add_argument("source", metavar="SRC", help="shipped model name, run dir, checkpoint or model file")
    p.add_argument("-o", "--output", required=True, help="model.onnx (onnxruntime) or model.safetensors (artforge)")
    p.add_argument("--fp32", action="store_true", help=".safetensors: keep float32 weights (default fp16)")
    p.add_argument("--opset", type=int, default=None, help=".onnx: ONNX opset (default 18)")
    p.add_argument(
        "--exporter", choices=("dynamo", "torchscript"), default="dynamo",
        help=".onnx: torch.export-based exporter (default) or the legacy TorchScript tracer",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import stylisers
    from artforge.errors import ArtforgeError
    from artforge.export import OPSET, TOLERANCE, export_onnx, opset_range

    out = Path(args.output)
    if out.suffix.lower() not in SUFFIXES:
        raise ArtforgeError(f"-o {out}: write a .onnx (onnxruntime) or .safetensors (artforge model) file")
    if not out.parent.is_dir():
        raise ArtforgeError(f"-o {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise ArtforgeError(f"-o {out}: is a directory")
    if not os.access(out.parent, os.W_OK):
        raise ArtforgeError(f"-o {out}: folder {out.parent} is not writable")
    to_onnx, dynamo, opset = out.suffix.lower() == ".onnx", args.exporter == "dynamo", args.opset or OPSET
    lo, hi = opset_range(dynamo)
    if to_onnx and not lo <= opset <= hi:
        raise ArtforgeError(f"--opset {opset}: the {args.exporter} exporter writes opsets {lo} to {hi}")
    if stylisers.resolve(args.source).suffix == ".onnx":
        raise ArtforgeError(f"{args.source}: already an ONNX model; export from its .safetensors file or run")

    styliser = stylisers.load(args.source, "cpu")
    if not to_onnx:
        stylisers.save_model(out, styliser, fp16=not args.fp32)
        dtype = "float32" if args.fp32 else "float16"
        print(f"wrote {out} ({styliser.kind}, {dtype}, {out.stat().st_size / 1e6:.1f} MB)")
        return 0
    print(f"exporting {styliser.name} ({styliser.kind}) to ONNX opset {opset} with {args.exporter} ...", flush=True)
    diff = export_onnx(styliser, out, opset=opset, dynamo=dynamo)
    print(f"wrote {out} ({styliser.kind}, opset {opset}, {out.stat().st_size / 1e6:.1f} MB)")
    print(f"onnxruntime vs PyTorch on a random input: max abs diff {diff:.2g} (tolerance {TOLERANCE:g})")
    return 0
