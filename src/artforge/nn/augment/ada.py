"""ADA (Karras et al. 2020, "Training GANs with Limited Data"): the p controller and the ``--augment`` option.

The overfitting heuristic r_t = E[sign(D(x_real))] is measured over ``interval`` minibatches; p moves towards
keeping r_t at ``target`` (0.6), fast enough to go from 0 to 1 in ``speed_kimg`` thousand images.
"""

from __future__ import annotations

import math

from artforge.core.errors import ArtforgeError

AUGMENT_HELP = "--augment: ada, fixed:P (0 <= P <= 1) or none"


def ada_update(
    p: float, sign_mean: float, batch: int, interval: int, target: float = 0.6, speed_kimg: float = 500.0
) -> float:
    """p + sign(r_t - target) * batch * interval / (speed_kimg * 1000), clamped to [0, 1]."""
    if not math.isfinite(sign_mean):
        raise ValueError(f"ada_update: r_t = E[sign(D(real))] must be finite, got {sign_mean}")
    if batch <= 0 or interval <= 0 or speed_kimg <= 0:
        raise ValueError("ada_update: batch, interval and speed_kimg must be positive")
    direction = (sign_mean > target) - (sign_mean < target)  # sign(r_t - target), 0 on target
    return min(max(p + direction * batch * interval / (speed_kimg * 1000.0), 0.0), 1.0)


def parse_augment(spec: str) -> tuple[str, float]:
    """'ada' -> ('ada', 0.0), 'fixed:P' -> ('fixed', P) with 0 <= P <= 1, 'none' -> ('none', 0.0)."""
    text = spec.strip().lower()
    if text in ("ada", "none"):
        return text, 0.0
    kind, sep, value = text.partition(":")
    if kind == "fixed" and sep:
        try:
            prob = float(value)
        except ValueError:
            prob = math.nan
        if 0.0 <= prob <= 1.0:
            return "fixed", prob
    raise ArtforgeError(AUGMENT_HELP)
