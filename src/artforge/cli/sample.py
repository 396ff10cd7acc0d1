"""``artforge sample RUN``: images, grids, latent interpolations, VAE reconstructions/traversals, and for
stylegan2 truncation, style mixing, noise modes and projected ws."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sample", help="sample images from a trained run or checkpoint")
    p.add_argument("target", metavar="RUN", help="run directory (newest checkpoint) or a checkpoint file")
    p.add_argument("--n", type=int, default=16, help="number of images (16)")
    p.add_argument("--outdir", default=None, help="write one PNG per image here")
    p.add_argument("--grid", default=None, help="write all images as one grid PNG")
    p.add_argument("--seed", type=int, default=0, help="same seed, same images (0)")
    p.add_argument("--class", dest="class_index", type=int, default=None, help="class index (conditional models)")
    p.add_argument(
        "--interpolate", action="store_true", help="slerp between --n latent points; a grid, frames, a GIF or a video"
    )
    p.add_argument("--frames", type=int, default=16, help="frames between two latent points (16)")
    p.add_argument("--gif", default=None, help="with --interpolate: write an animated GIF")
    p.add_argument("--video", default=None, help="with --interpolate: write an MP4/MOV/MKV (needs artforge[video])")
    p.add_argument("--fps", type=int, default=25, help="frames per second of --gif/--video (25)")
    p.add_argument("--reconstruct", default=None, metavar="DATA", help="VAE: reconstruct --n images of a data set")
    p.add_argument("--traverse", action="store_true", help="VAE: vary each latent dimension in turn (grid)")
    g = p.add_argument_group("stylegan2")
    g.add_argument(
        "--trunc",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="PSI",
        help="truncation toward the mean w (1 = none); several values: one column each (a strip)",
    )
    g.add_argument(
        "--style-mix",
        choices=["coarse", "middle", "fine"],
        default=None,
        help="the style-mixing grid: --n source rows x --n destination columns, crossing over at this band",
    )
    g.add_argument("--noise", choices=["const", "random", "none"], default="const", help="noise inputs (const)")
    g.add_argument("--w", default=None, metavar="W.npz", help="render the ws of `artforge project`")
    p.add_argument("--device", default="auto")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    written = api.sample(
        args.target, n=args.n, outdir=args.outdir, grid=args.grid, seed=args.seed, class_index=args.class_index,
        interpolate=args.interpolate, frames=args.frames, gif=args.gif, video=args.video, fps=args.fps,
        reconstruct=args.reconstruct,
        traverse=args.traverse, device=args.device, trunc=args.trunc, style_mix=args.style_mix, noise=args.noise,
        w=args.w,
    )  # fmt: skip
    for path in written[:3]:
        print(f"wrote {path}")
    if len(written) > 3:
        print(f"... and {len(written) - 3} more")
    return 0
