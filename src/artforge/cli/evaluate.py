"""``artforge eval RUN --json``: a VAE's test ELBO, IWAE NLL (k=100) and bits/dim."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run (VAE likelihoods; FID etc. later)")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--k", type=int, default=100, help="importance samples for the IWAE bound (100)")
    p.add_argument("--max-images", type=int, default=None, help="evaluate on the first N test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    result = api.evaluate(args.run, k=args.k, max_images=args.max_images, seed=args.seed, device=args.device)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key:>20s}: {value}")
    return 0
