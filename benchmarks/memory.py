"""Peak memory (RSS high-water mark) of one stylisation per output size, each in a fresh process.

For every size in ``--sizes`` (default 512, 2048, 4096 px long side) a new Python process runs
``artforge.api.stylize(content, style, size=S, iterations=N)`` with the default pyramid and the
default tiling (tile 1024 px, overlap 128) and reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(KiB on Linux). ``--iterations`` defaults to 2 (per final level; coarser levels run 2x per level):
peak memory does not depend on the count, only on the largest tile and level. A baseline process
that only imports torch + artforge, loads the sample images and the encoder gives the fixed share,
so ``peak - baseline`` is what the stylisation itself needs.

ru_maxrss survives exec on Linux: a child reports at least its parent's peak RSS. The parent
process therefore imports only the standard library, and each child also reports VmHWM from
/proc/self/status (the high-water mark of its own address space) as a cross-check.

Target: no fixed number; what to check is that tiling bounds the working set: peak RSS at 4096 px
should exceed 2048 px's only by the larger canvas and images (~1 GiB), not by the 4x more pixels.

Duration: even with 2 iterations per level, 4096 px runs ~17 min on 2 cores (six levels, 25 tiles
of 1024 px at the final level, 9 at 2048 px), 2048 px ~5 min, 512 px ~15 s: ~25 min in all.

Full run:     python benchmarks/memory.py
Quick check:  python benchmarks/memory.py --quick   (sizes 64,128, tile 128, overlap 32)
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from _child import RESULT, gib, run_child, vm_hwm_kib
from _common import CONTENT_PHOTOS, STYLE_PAINTINGS, machine_info, print_header, table


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in the fresh process: baseline setup, then (if ``size``) one stylisation."""
    t_start = time.perf_counter()
    import torch

    from _common import content_image, style_image, torch_info
    from artforge.api import encoder_for, stylize
    from artforge.data import tiling
    from artforge.data.images import resize_long
    from artforge.gatys.config import StylizeConfig
    from artforge.gatys.pyramid import schedule

    info = torch_info(spec["threads"])
    torch.manual_seed(spec["seed"])
    content, style = content_image(spec["content"]), style_image(spec["style"])
    cfg = StylizeConfig(
        size=spec["size"] or 512, iterations=spec["iterations"], tile_size=spec["tile_size"],
        tile_overlap=spec["tile_overlap"], weights=spec["weights"], seed=spec["seed"], device="cpu",
    )  # fmt: skip
    cfg.validate()
    encoder_for(cfg.weights, cfg.pooling, "cpu")
    out: dict[str, Any] = {"torch_info": info, "setup_s": time.perf_counter() - t_start}
    if spec["size"]:
        levels = schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
        w, h = resize_long(content, cfg.size).size
        out["wxh"] = f"{w}x{h}"
        out["levels"] = [(lv.long_side, lv.iterations) for lv in levels]
        out["tiles"] = len(tiling.windows(h, w, cfg.tile_size, cfg.tile_overlap))
        t0 = time.perf_counter()
        img = stylize(content, style, cfg, progress=False)
        out["wall_s"] = time.perf_counter() - t0
        assert max(img.size) == cfg.size, img.size
    out["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["vm_hwm_kib"] = vm_hwm_kib()
    return out


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter; its stderr passes through."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    t0 = time.perf_counter()
    res = run_child(cmd)
    if "error" not in res:
        res["process_s"] = time.perf_counter() - t0
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--sizes", default="512,2048,4096", help="comma-separated output long sides, px (default 512,2048,4096)"
    )
    p.add_argument(
        "--iterations", type=int, default=2, help="final-level iterations (default 2; memory is independent)"
    )
    p.add_argument("--tile-size", type=int, default=1024, help="StylizeConfig.tile_size (default 1024)")
    p.add_argument("--tile-overlap", type=int, default=128, help="StylizeConfig.tile_overlap (default 128)")
    p.add_argument("--content", default="astronaut", help=f"skimage photo ({', '.join(CONTENT_PHOTOS)}) or path")
    p.add_argument("--style", default="mountains", help=f"bundled painting ({', '.join(STYLE_PAINTINGS)}) or path")
    p.add_argument("--weights", default="vgg16-hed")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads in each child (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--quick", action="store_true", help="sizes 64,128 with tile 128, overlap 32: a smoke test")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child is not None:  # the fresh process
        print(RESULT + json.dumps(child(json.loads(args.child))), flush=True)
        return 0

    if args.quick:
        args.sizes, args.tile_size, args.tile_overlap = "64,128", 128, 32
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    spec = {
        "size": 0, "iterations": args.iterations, "tile_size": args.tile_size, "tile_overlap": args.tile_overlap,
        "content": args.content, "style": args.style, "weights": args.weights, "threads": args.threads,
        "seed": args.seed,
    }  # fmt: skip

    base = spawn(spec)  # also tells the parent torch's version and threads without importing torch here
    if "error" in base:
        print(f"baseline child failed: {base['error']}", file=sys.stderr)
        return 1
    torch_part = [(str(k), str(v)) for k, v in base["torch_info"]]
    print_header("artforge benchmark: peak memory per output size (fresh process each)", machine_info(None, torch_part))
    print(
        f"content {args.content}, style {args.style}; iterations {args.iterations} at the final level (2x per coarser)"
    )
    print(f"tile_size {args.tile_size}, tile_overlap {args.tile_overlap}; sizes {sizes}")
    print(f"baseline child (torch + artforge + images + encoder): ru_maxrss {gib(base['ru_maxrss_kib'])} GiB")
    print(flush=True)

    results: list[dict[str, Any]] = []
    for size in sizes:
        print(f"size {size}: running in a fresh process ...", flush=True)
        r = spawn({**spec, "size": size})
        r["size"] = size
        results.append(r)
        if "error" in r:
            print(f"  FAILED: {r['error']}", flush=True)
        else:
            print(f"  peak {gib(r['ru_maxrss_kib'])} GiB, {r['wall_s']:.1f} s, {r['tiles']} tile(s)", flush=True)

    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["size"], "-", "-", "-", "-", "-", "-", "-", f"FAILED: {r['error']}"])
            continue
        levels = r["levels"]
        rows.append([
            r["size"], r["wxh"], f"{levels[0][0]}..{levels[-1][0]} ({len(levels)})", r["tiles"],
            gib(r["ru_maxrss_kib"]), gib(r["ru_maxrss_kib"] - base["ru_maxrss_kib"]), gib(r["vm_hwm_kib"]),
            f"{r['wall_s']:.1f}", "",
        ])  # fmt: skip
    print()
    print(
        f"baseline (no stylisation): ru_maxrss {gib(base['ru_maxrss_kib'])} GiB, VmHWM {gib(base['vm_hwm_kib'])} GiB; "
        f"parent ru_maxrss {gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)} GiB (a floor for every child)"
    )
    headers = [
        "size",
        "WxH",
        "levels",
        "final tiles",
        "peak RSS GiB",
        "over baseline GiB",
        "VmHWM GiB",
        "wall s",
        "note",
    ]
    if not any(row[-1] for row in rows):
        headers, rows = headers[:-1], [row[:-1] for row in rows]
    print(table(headers, rows))
    if args.quick:
        print("(--quick: tiny sizes, not meaningful)")

    if args.json:
        args.json.write_text(json.dumps({"command": sys.argv, "baseline": base, "results": results}, indent=1))
        print(f"results written to {args.json}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
