"""``artforge eval``: VAE likelihoods of a run; FID/KID/IS/precision-recall of folders or of a run's samples;
stylisation metrics.

    artforge eval RUN --json                                  VAE: test ELBO, IWAE NLL (k=100), bits/dim
    artforge eval RUN --metrics fid,kid --data D --json       a run's samples against the data set D
    artforge eval RUN --metrics ppl --json                    perceptual path length in W of a stylegan2 run
    artforge eval --metrics fid,kid,is,pr A B --json          image folder B against folder (or .npz stats) A
    artforge eval --metrics is B --json                       Inception Score of one image folder
    artforge eval --stylization OUT CONTENT STYLE --json      content structure (SSIM, gradient correlation), style
                                                              (Gram, mean/std), colour, contrast; docs/metrics.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from artforge.cli.choices import BACKBONES, DEFAULT_SAMPLES, METRICS
from artforge.core.errors import ArtforgeError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate: VAE likelihoods, FID/KID/IS/precision-recall, stylisation losses",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="RUN, A B (A may be .npz), B, or OUT CONTENT STYLE")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0, help="IWAE noise; samples and KID subsets with --metrics (0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    g = p.add_argument_group("VAE likelihoods (RUN)")
    g.add_argument("--k", type=int, default=100, help="importance samples for the IWAE bound (100)")
    g.add_argument("--max-images", type=int, default=None, help="use the first N test images (with --data: of D)")
    g = p.add_argument_group("sample quality (A B, or RUN --data D)")
    g.add_argument(
        "--metrics", default=None, help=f"comma-separated: {','.join(METRICS)}; ppl for a stylegan2 RUN (A B: fid)"
    )
    g.add_argument("--backbone", default="inception", help=f"feature network: {', '.join(BACKBONES)} (inception)")
    g.add_argument("--inception-weights", metavar="FILE", default=None, help="local pt_inception-2015-12-05 .pth")
    g.add_argument("--data", default=None, help="RUN: the data set to compare samples with (any --data of train)")
    g.add_argument("--n", type=int, default=None, help=f"RUN: samples (D's image count, <= {DEFAULT_SAMPLES})")
    g.add_argument("--batch", type=int, default=32, help="images per forward pass (32)")
    g.add_argument("--kid-subsets", type=int, default=100, help="KID: random subsets (100)")
    g.add_argument("--kid-subset-size", type=int, default=1000, help="KID: images per subset (1000)")
    g.add_argument("--is-splits", type=int, default=10, help="IS: splits (10)")
    g.add_argument("--pr-k", type=int, default=3, help="precision/recall: k nearest neighbours (3)")
    g.add_argument("--allow-rank-deficient", action="store_true", help="FID with no more images than feature dims")
    g.add_argument("--save-stats", metavar="FILE.npz", default=None, help="A B: write A's FID statistics (mu, sigma)")
    g.add_argument("--no-cache", action="store_true", help="recompute features instead of using the feature cache")
    g = p.add_argument_group("stylisation (OUT CONTENT STYLE)")
    g.add_argument("--stylization", action="store_true", help="structure, style, colour and contrast measures of OUT")
    g.add_argument("--weights", default=None, help="VGG16 weights for --stylization and --backbone vgg16 (vgg16-hed)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from artforge import api

    paths: list[str] = args.paths
    result: dict[str, Any]
    if args.stylization:
        if len(paths) != 3:
            raise ArtforgeError(f"--stylization takes three images, OUT CONTENT STYLE; got {len(paths)} path(s)")
        result = api.stylization_metrics(*paths, weights=args.weights or "vgg16-hed", device=args.device)
    elif len(paths) == 2:
        result = api.compare(paths[0], paths[1], args.metrics or "fid", args.backbone, **_metric_options(args),
                             save_stats=args.save_stats)  # fmt: skip
    elif len(paths) == 1 and args.metrics and _is_image_folder(paths[0]):
        result = api.compare(None, paths[0], args.metrics, args.backbone, **_metric_options(args))
    elif len(paths) == 1 and args.metrics:
        result = api.evaluate(paths[0], metrics=args.metrics, data=args.data, n=args.n, max_images=args.max_images,
                              backbone=args.backbone, **_metric_options(args))  # fmt: skip
    elif len(paths) == 1:
        if args.data:
            raise ArtforgeError("--data says what to compare a run's samples with; add --metrics fid (or kid, is, pr)")
        result = api.evaluate(
            paths[0], k=args.k, max_images=args.max_images, seed=args.seed, device=args.device, progress=not args.quiet
        )
    else:
        raise ArtforgeError(f"eval takes RUN, A B, or --stylization OUT CONTENT STYLE; got {len(paths)} paths")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        better: dict[str, str] = result.pop("better", {})
        for key, value in result.items():
            print(f"{key:>24s}: {value:.4f}  ({better[key]} is better)" if key in better else f"{key:>24s}: {value}")
    return 0


def _is_image_folder(path: str) -> bool:
    """A folder that is not a run directory (runs hold config.json)."""
    p = Path(path)
    return p.is_dir() and not (p / "config.json").is_file()


def _metric_options(args: argparse.Namespace) -> dict[str, Any]:
    from artforge.api import MetricOptions as Options

    if args.batch < 1:
        raise ArtforgeError(f"--batch must be at least 1, got {args.batch}")
    weights = args.inception_weights if args.backbone == "inception" else args.weights
    options = Options(
        kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, is_splits=args.is_splits, pr_k=args.pr_k,
        seed=args.seed, allow_rank_deficient=args.allow_rank_deficient,
    )  # fmt: skip
    return {
        "weights": weights, "options": options, "device": args.device, "batch": args.batch,
        "cache": not args.no_cache, "progress": not args.quiet,
    }  # fmt: skip
