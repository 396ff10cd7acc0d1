"""``artforge demo``: the main job on sample images, with nothing to download."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="stylise a sample photo with a bundled painting (Gatys, then the shipped feed-forward models)"
    )
    p.add_argument("-o", "--output", default="out/demo.png", help="where to write the result (out/demo.png)")
    p.add_argument("--content", default="sample:chelsea", help="content image (sample:chelsea)")
    p.add_argument("--style", default="sample:mountains", help="style image (sample:mountains)")
    p.add_argument("--size", type=int, default=512, help="long side, px (512)")
    p.add_argument("--iterations", type=int, default=50, help="at full size (50)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api
    from artforge.api import StylizeConfig

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = StylizeConfig(size=args.size, iterations=args.iterations)
    print(f"stylising {args.content} in the style of {args.style} at {args.size} px ...")
    t = time.perf_counter()
    path = api.stylize_to_file(args.content, [args.style], out, cfg)
    print(f"done in {time.perf_counter() - t:.0f} s; the result is {path.resolve()}")
    for row in api.list_models():
        if row["source"] != "shipped":
            continue
        name, style = row["name"], ("sample:swamp",) if row["kind"] == "adain" else ()
        dest = out.with_name(f"{out.stem}-{name}{out.suffix}")
        t = time.perf_counter()
        api.stylize_with_model(args.content, dest, name, styles=style, size=args.size)
        how = f"style {style[0]}" if style else "its own style"
        print(f"feed-forward {name} ({how}): {time.perf_counter() - t:.1f} s; the result is {dest.resolve()}")
    return 0
