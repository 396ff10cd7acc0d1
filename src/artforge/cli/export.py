"""``artforge export SRC -o OUT``: a styliser (shipped name, run, checkpoint or model file) as ONNX
(``.onnx``, checked in onnxruntime against PyTorch) or as a small fp16 model file (``.safetensors``); an image
generator's run or checkpoint (stylegan2, dcgan, gan) as ONNX: inputs z (c when conditional, psi for stylegan2)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export a styliser (ONNX or safetensors) or a generator run (ONNX)")
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
    from artforge import api

    to_onnx = Path(args.output).suffix.lower() == ".onnx"
    if to_onnx:
        print(f"exporting {args.source} to ONNX with {args.exporter} ...", flush=True)
    r = api.export_model(args.source, args.output, fp16=not args.fp32, opset=args.opset, exporter=args.exporter)
    size = f"{Path(r['path']).stat().st_size / 1e6:.1f} MB"
    if not to_onnx:
        print(f"wrote {r['path']} ({r['kind']}, {'float32' if args.fp32 else 'float16'}, {size})")
        return 0
    via = f", {r['exporter']} exporter" if r.get("exporter") else ""
    print(f"wrote {r['path']} ({r['kind']}, opset {r['opset']}{via}, {size})")
    print(
        f"onnxruntime vs PyTorch on a random input: max abs diff {r['max_abs_diff']:.2g} (tolerance {r['tolerance']:g})"
    )
    return 0
