"""Sample-quality metrics: FID (Heusel+ 2017), KID (Binkowski+ 2018), IS (Salimans+ 2016), P/R (Kynkäänniemi+ 2019).

features (a backbone: the FID InceptionV3 or the offline VGG16; clean-fid resizing; an on-disk cache) ->
statistics -> values; plus stylisation measures (structure, tone, stylization). A leaf: it uses core, nn,
objectives and data, nothing above.
"""

from __future__ import annotations

from artforge.metrics.backbones import BACKBONES, Backbone, resize_clean
from artforge.metrics.features import Features, array_features, folder_features
from artforge.metrics.inception import FIDInceptionV3, load_inception
from artforge.metrics.report import METRICS, Options, compare
from artforge.metrics.stats import (
    feature_statistics,
    frechet_distance,
    inception_score,
    kid,
    load_stats,
    precision_recall,
    save_stats,
)
from artforge.metrics.structure import gradient_correlation, ssim
from artforge.metrics.stylization import color_histogram_distance, stylization_metrics
from artforge.metrics.tone import colorfulness, rms_contrast

__all__ = [
    "BACKBONES", "METRICS", "Backbone", "FIDInceptionV3", "Features", "Options", "array_features",
    "color_histogram_distance", "colorfulness", "compare", "feature_statistics", "folder_features",
    "frechet_distance", "gradient_correlation", "inception_score", "kid", "load_inception", "load_stats",
    "precision_recall", "resize_clean", "rms_contrast", "save_stats", "ssim", "stylization_metrics",
]  # fmt: skip
