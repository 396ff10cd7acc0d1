"""``artforge video IN -o OUT --model M``: stylise a video frame by frame, temporally consistent, audio kept.
Any feed-forward model from `artforge models` (per-style, GAN-based or AdaIN with --style):

    artforge video clip.mp4 -o clip-mountains.mp4 --model johnson-mountains
    artforge video clip.mp4 -o clip-swamp.mp4 --model adain --style sample:swamp --alpha 0.8 --size 720
    artforge video clip.mp4 -o raw.mp4 --model johnson-mountains --no-temporal      (independent frames)
"""

from __future__ import annotations

import argparse
from typing import Any

from artforge.cli.choices import DEFAULT_TEMPORAL_WEIGHT as DEFAULT_WEIGHT
from artforge.core.errors import ArtforgeError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "video",
        help="stylise a video with a feed-forward model, temporally consistent, keeping its audio",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="IN", help="input video (anything FFmpeg reads: .mp4, .mov, .mkv, .webm, ...)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help=".mp4/.m4v/.mov/.mkv, written when done")
    p.add_argument("--model", required=True, help="a name from `artforge models`, a run dir or a model file")
    p.add_argument("--style", default=None, help="AdaIN models: the style image (a path or sample:NAME)")
    p.add_argument("--alpha", type=float, default=1.0, help="AdaIN: content (0) to style (1) trade-off (1.0)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--temporal-weight", type=float, default=DEFAULT_WEIGHT, metavar="W",
        help=f"share of the flow-warped previous output where the flow is reliable, in [0, 1) ({DEFAULT_WEIGHT})",
    )  # fmt: skip
    g.add_argument("--no-temporal", action="store_true", help="stylise every frame independently")
    p.add_argument("--flow", choices=["ultrafast", "fast", "medium"], default="medium", help="DIS flow preset")
    p.add_argument("--size", type=int, default=None, help="long side of the output, px (the input's)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ...")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    if not 0 <= args.alpha <= 1:
        raise ArtforgeError(f"--alpha {args.alpha}: give a value in [0, 1]")
    out = api.stylize_video(
        args.input, args.output, args.model, style=args.style, alpha=args.alpha,
        blend=0.0 if args.no_temporal else args.temporal_weight, size=args.size, progress=not args.quiet,
        device=args.device, flow_preset=args.flow,
    )  # fmt: skip
    if not args.quiet:
        print(out)
    return 0
