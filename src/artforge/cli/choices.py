"""Names and defaults that the parsers print in ``--help``, without importing torch.

The sources of truth are in :mod:`artforge.api` (the family registry, the metric and backbone tables, the video
blend); importing it loads torch, about 2-3 s on 2 CPU cores, and ``artforge --help`` must not wait for that.
``tests/cli/test_startup.py`` checks that every value here equals the one in ``artforge.api``.
"""

from __future__ import annotations

FAMILIES = ("gan", "dcgan", "vae", "stylegan2", "johnson", "gan-style", "adain")  # api.model_names()
BACKBONES = ("inception", "vgg16")  # api.BACKBONES
METRICS = ("fid", "kid", "is", "pr")  # api.METRICS
DEFAULT_SAMPLES = 10_000  # api.DEFAULT_SAMPLES
DEFAULT_TEMPORAL_WEIGHT = 0.8  # api.DEFAULT_TEMPORAL_WEIGHT
