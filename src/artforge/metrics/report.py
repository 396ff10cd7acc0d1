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

from artforge.errors import ArtforgeError
from artforge.metrics import stats
from artforge.metrics.backbones import Backbone
from artforge.metrics.features import Features, array_features, folder_features

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


def _check(names: list[str], backbone: Backbone, a_is_stats: bool, b_is_stats: bool) -> None:
    """Refuse impossible requests before any feature is computed."""
    if "is" in names and not backbone.spec.has_logits:
        raise ArtforgeError(f"IS needs a classifier, which --backbone {backbone.spec.name} lacks; use inception")
    if "is" in names and b_is_stats:
        raise ArtforgeError("IS needs the images of B, not .npz statistics")
    for name in ("kid", "pr"):
        if name in names and (a_is_stats or b_is_stats):
            raise ArtforgeError(f"{name.upper()} needs features of both sets; .npz statistics only serve FID")


def _is_stats(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith(".npz")


def _folder_side(path: str | os.PathLike[str], backbone: Backbone, batch: int, progress: bool, cache: bool) -> Side:
    if _is_stats(path):
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
    _check(names, net, a is not None and _is_stats(a), _is_stats(b))
    if save_stats is not None and (a is None or _is_stats(a)):
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


def run_metrics(
    run: str | os.PathLike[str], data: str | None, metrics: str | Sequence[str] = "fid", backbone: str = "inception",
    *, n: int | None = None, max_images: int | None = None, weights: str | None = None, options: Options | None = None,
    device: str = "auto", batch: int = 32, cache: bool = True, download: bool = True, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Metrics of ``n`` samples of a run's generator (G_ema, or the VAE decoder's mean) against the data set ``data``
    (any ``open_dataset`` spec, decoded at the run's resolution and channels, first ``max_images`` images; or an
    ``.npz`` of FID statistics). Samples are quantised to uint8 like saved images; the seed fixes them."""
    import torch

    from artforge import checkpoint as ckpt
    from artforge.api import resolve_device
    from artforge.data.datasets import open_dataset
    from artforge.registry import MODELS
    from artforge.sampling import generate
    from artforge.training import model_from_checkpoint

    if not data:
        raise ArtforgeError("--metrics on a run needs --data D, the images its samples are compared with")
    if n is not None and n < 2:
        raise ArtforgeError(f"--n must be at least 2, got {n}")
    names = parse_metrics(metrics)
    opts = options or Options()
    net = Backbone(backbone, weights, device, download, progress)
    _check(names, net, _is_stats(data), False)
    dev = resolve_device(device)
    path = ckpt.latest(run)
    gen, cfg, meta = model_from_checkpoint(path, dev)
    shapes = meta["shapes"]
    if _is_stats(data):
        real = Side(data, mu_sigma=stats.load_stats(data))
    else:
        limit = max_images or n or DEFAULT_SAMPLES
        ds = open_dataset(data, int(shapes["resolution"]), channels=int(shapes["channels"]), max_images=limit)
        images = ds.tensors()[0].numpy()
        real = Side(data, features=array_features(images, net, name=data, batch=batch, progress=progress, cache=cache))
    count = n or (len(real.features.features) if real.features is not None else DEFAULT_SAMPLES)
    kind = MODELS[cfg.model].kind
    z_dim = int(cfg.z_dim or MODELS[cfg.model].default_z_dim)
    num_classes = int(shapes.get("num_classes", 0))
    g = torch.Generator().manual_seed(opts.seed)
    z = torch.randn(count, z_dim, generator=g)
    c = torch.randint(num_classes, (count,), generator=g) if num_classes else None
    samples = np.empty((count, int(shapes["channels"]), int(shapes["resolution"]), int(shapes["resolution"])), np.uint8)
    for i in range(0, count, batch):
        x = generate(gen, kind, z[i : i + batch].to(dev), None if c is None else c[i : i + batch].to(dev))
        samples[i : i + batch] = x.mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    fake = Side("samples", features=array_features(samples, net, name="samples", batch=batch, progress=progress))
    result: dict[str, Any] = {
        "checkpoint": str(path), "data": data, "backbone": net.spec.name, "weights": net.tag, "samples": count,
        "seed": opts.seed, "real_images": None if real.features is None else len(real.features.features),
    }  # fmt: skip
    result.update(values(names, real, fake, opts))
    return result
