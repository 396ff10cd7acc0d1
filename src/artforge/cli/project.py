"""``artforge project RUN TARGET -o OUT/``: the w (or w+) and noise maps with which a stylegan2 run best reproduces
an image (Karras et al. 2020, sec. 5): OUT/projected.png, target.png, w.npz and a progress video."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("project", help="find the w and noise of a stylegan2 run that reproduce an image")
    p.add_argument("run_dir", metavar="RUN", help="stylegan2 run directory (newest checkpoint) or a checkpoint file")
    p.add_argument("target", metavar="TARGET", help="the image to project (centre-cropped and resized to the run's)")
    p.add_argument("-o", "--outdir", required=True, metavar="OUT", help="folder for projected.png, target.png, w.npz")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (1000)")
    p.add_argument("--w-plus", action="store_true", help="one w per synthesis layer (W+) instead of one for all (W)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial noise maps and the w noise (0)")
    p.add_argument("--device", default="auto")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    r = api.project(
        args.run_dir, args.target, args.outdir, steps=args.steps, w_plus=args.w_plus, seed=args.seed,
        device=args.device, progress=not args.quiet,
    )  # fmt: skip
    files = ", ".join(str(f) for f in (r["projected"], r["target"], r["w"], r["video"]) if f)
    if r["interrupted"]:
        print(f"interrupted at step {r['steps_done']}/{r['steps']}; wrote the best so far: {files}")
    else:
        print(f"wrote {files}")
    print(
        f"VGG distance {r['start_distance']:.4f} (mean w) -> {r['distance']:.4f}, PSNR {r['psnr']:.1f} dB; "
        f"render it again with: artforge sample {args.run_dir} --w {r['w']} --grid rendered.png"
    )
    return 130 if r["interrupted"] else 0
