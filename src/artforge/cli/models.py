"""``artforge models [--json]``: shipped and trained stylisation networks (names for ``--model``)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "models", help="list shipped and trained stylisation models",
        description="List the stylisation networks that --model accepts: the ones shipped with artforge and "
        "styliser runs under RUNS (artforge train --model johnson|gan-style|adain).",
    )  # fmt: skip
    p.add_argument("--runs", default="runs", help="folder of training runs to list (runs)")
    p.add_argument("--json", action="store_true", help="a JSON list of {name, kind, source, path, description}")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    rows = api.list_models(args.runs)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no models: train one with `artforge train --model johnson --data PHOTOS --style PAINTING`")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['kind']:<9}  {r['source']:<7}  {r['description']}")
    return 0
