"""FID, KID, IS and precision/recall of image sets or of a trained generator against its data (Heusel+ 2017 et al.).

Sides: A is the reference (real images, or pytorch-fid/clean-fid ``.npz`` statistics for FID), B the images being
judged (generated). IS is computed on B; precision is the share of B on A's manifold, recall the share of A on B's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from artforge.core.errors import ArtforgeError
from artforge.metrics import stats
from artforge.metrics.backbones import Backbone
from artforge.metrics.features import Features, folder_features

METRICS = {
    "fid": "Fréchet distance of the feature Gaussians (Heusel et al. 2017)",
    "kid": "kernel inception distance, unbiased MMD^2 (Binkowski et al. 2018)",
    "is": "Inception Score of B (Salimans et al. 2016); needs --backbone inception",
    "pr": "improved precision and recall, k-NN manifolds (Kynkäänniemi et al. 2019)",
}
DEFAULT_SAMPLES = 10_000  # generated images for `eval RUN --metrics`; FID is biased at small n, so report n with it


@dataclass(frozen=True)
class Options:
    """How the metric values are computed (the defaults are the papers')."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    pr_k: int = 3
    seed: int = 0
    allow_rank_deficient: bool = False


@dataclass
class Side:
    """One set: its features, or (``.npz``) only its FID statistics."""

    name: str
    features: Features | None = None
    mu_sigma: tuple[np.ndarray, np.ndarray] | None = None


def parse_metrics(spec: str | Sequence[str]) -> list[str]:
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if name and name not in out:
            if name not in METRICS:
                raise ArtforgeError(f"unknown metric {name!r}; choose from {','.join(METRICS)}")
            out.append(name)
    if not out:
        raise ArtforgeError(f"no metric given; choose from {','.join(METRICS)}")
    return out


def check_sides(names: list[str], backbone: Backbone, a_is_stats: bool, b_is_stats: bool) -> None:
    """Refuse impossible requests before any feature is computed."""
    if "is" in names and not backbone.spec.has_logits:
        raise ArtforgeError(f"IS needs a classifier, which --backbone {backbone.spec.name} lacks; use inception")
    if "is" in names and b_is_stats:
        raise ArtforgeError("IS needs the images of B, not .npz statistics")
    for name in ("kid", "pr"):
        if name in names and (a_is_stats or b_is_stats):
            raise ArtforgeError(f"{name.upper()} needs features of both sets; .npz statistics only serve FID")


def is_stats(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(".npz")


def _folder_side(path: str | os.PathLike[str], backbone: Backbone, batch: int, progress: bool, cache: bool) -> Side:
    if is_stats(path):
        return Side(str(path), mu_sigma=stats.load_stats(path))
    return Side(str(path), features=folder_features(path, backbone, batch=batch, progress=progress, cache=cache))


def _gaussian(side: Side, opts: Options) -> tuple[np.ndarray, np.ndarray]:
    if side.mu_sigma is not None:
        return side.mu_sigma
    assert side.features is not None
    return stats.feature_statistics(
        side.features.features, allow_rank_deficient=opts.allow_rank_deficient, what=side.name
    )


def values(names: list[str], a: Side, b: Side, opts: Options) -> dict[str, float]:
    """The requested metric values of B against the reference A."""
    out: dict[str, float] = {}
    fa, fb = a.features, b.features
    if "fid" in names:
        out["fid"] = stats.frechet_distance(*_gaussian(a, opts), *_gaussian(b, opts))
    if "kid" in names:
        assert fa is not None and fb is not None
        kid = stats.kid(fa.features, fb.features, opts.kid_subsets, opts.kid_subset_size, opts.seed)
        out["kid"], out["kid_std"] = kid
    if "is" in names:
        assert fb is not None and fb.logits is not None
        splits = min(opts.is_splits, len(fb.logits))
        out["is"], out["is_std"] = stats.inception_score(fb.logits, splits, probs=False)
    if "pr" in names:
        assert fa is not None and fb is not None
        out["precision"], out["recall"] = stats.precision_recall(fa.features, fb.features, k=opts.pr_k)
    return out


def _describe(side: Side, prefix: str) -> dict[str, Any]:
    f = side.features
    return {
        prefix: side.name,
        f"{prefix}_images": None if f is None else len(f.features),
        f"{prefix}_skipped": None if f is None else len(f.skipped),
    }


def compare(
    a: str | os.PathLike[str] | None, b: str | os.PathLike[str], metrics: str | Sequence[str] = "fid",
    backbone: str = "inception", *, weights: str | None = None, options: Options | None = None,
    save_stats: str | os.PathLike[str] | None = None, device: str = "auto", batch: int = 32, cache: bool = True,
    download: bool = True, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Metrics of image folder ``b`` against image folder (or ``.npz`` FID statistics) ``a``; ``a`` may be None
    when only IS is asked for (it judges B alone).

    ``save_stats`` writes A's FID statistics (``mu``, ``sigma``) to an ``.npz`` for later runs or other tools.
    """
    names = parse_metrics(metrics)
    opts = options or Options()
    net = Backbone(backbone, weights, device, download, progress)
    if a is None and names != ["is"]:
        raise ArtforgeError(f"{', '.join(n for n in names if n != 'is')} compare two sets: give a reference A and B")
    check_sides(names, net, a is not None and is_stats(a), is_stats(b))
    if save_stats is not None and (a is None or is_stats(a)):
        raise ArtforgeError("--save-stats writes the statistics of an image folder A; give A as a folder")
    need_a = a is not None and (names != ["is"] or save_stats is not None)
    side_a = _folder_side(a, net, batch, progress, cache) if need_a and a is not None else Side(str(a or ""))
    side_b = _folder_side(b, net, batch, progress, cache)
    result: dict[str, Any] = {"backbone": net.spec.name, "weights": net.tag}
    if need_a:
        result.update(_describe(side_a, "a"))
    result.update(_describe(side_b, "b"))
    if save_stats is not None:
        mu, sigma = _gaussian(side_a, opts)
        result["saved_stats"] = str(stats.save_stats(save_stats, mu, sigma))
    result.update(values(names, side_a, side_b, opts))
    return result
