"""Sample-quality metrics: FID (Heusel+ 2017), KID (Binkowski+ 2018), IS (Salimans+ 2016), P/R (Kynkäänniemi+ 2019).

features (a backbone: the FID InceptionV3 or the offline VGG16; clean-fid resizing; an on-disk cache) ->
statistics -> values; plus stylisation metrics. Importing this package loads nothing: names resolve on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "frechet_distance": "stats", "kid": "stats", "inception_score": "stats", "precision_recall": "stats",
    "feature_statistics": "stats", "save_stats": "stats", "load_stats": "stats",
    "BACKBONES": "backbones", "Backbone": "backbones", "resize_clean": "backbones",
    "FIDInceptionV3": "inception", "load_inception": "inception",
    "Features": "features", "folder_features": "features", "array_features": "features",
    "METRICS": "report", "Options": "report", "compare": "report", "run_metrics": "report",
    "stylization_metrics": "stylization", "color_histogram_distance": "stylization",
}  # fmt: skip
__all__ = [
    "BACKBONES", "METRICS", "Backbone", "FIDInceptionV3", "Features", "Options", "array_features",
    "color_histogram_distance", "compare", "feature_statistics", "folder_features", "frechet_distance",
    "inception_score", "kid", "load_inception", "load_stats", "precision_recall", "resize_clean", "run_metrics",
    "save_stats", "stylization_metrics",
]  # fmt: skip

if TYPE_CHECKING:
    from artforge.metrics.backbones import BACKBONES, Backbone, resize_clean
    from artforge.metrics.features import Features, array_features, folder_features
    from artforge.metrics.inception import FIDInceptionV3, load_inception
    from artforge.metrics.report import METRICS, Options, compare, run_metrics
    from artforge.metrics.stats import (
        feature_statistics,
        frechet_distance,
        inception_score,
        kid,
        load_stats,
        precision_recall,
        save_stats,
    )
    from artforge.metrics.stylization import color_histogram_distance, stylization_metrics


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'artforge.metrics' has no attribute {name!r}")
    return getattr(importlib.import_module(f"artforge.metrics.{_EXPORTS[name]}"), name)
