"""FID (Heusel+ 2017), KID (Binkowski+ 2018), IS (Salimans+ 2016), precision/recall (Kynkäänniemi+ 2019) of features.

Pure numpy in float64; no network, no file I/O except the ``.npz`` statistics files (keys ``mu`` and ``sigma``,
the layout of pytorch-fid and clean-fid, so their precomputed reference statistics load here and ours load there).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError

Array = np.ndarray


# ---------------------------------------------------------------- FID


def feature_statistics(
    feats: Array, *, allow_rank_deficient: bool = False, what: str = "features"
) -> tuple[Array, Array]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (float64) of ``feats`` ``[N, D]``.

    With ``N <= D`` the covariance has rank ``<= N - 1 < D``: the Fréchet distance is then dominated by the sample
    size, not by the images. That is an :class:`ArtforgeError` unless ``allow_rank_deficient`` (then a warning).
    """
    x = _matrix(feats, what)
    n, d = x.shape
    if n < 2:
        raise ArtforgeError(f"{what}: statistics need at least 2 images, got {n}")
    if n <= d:
        msg = (
            f"{what}: {n} images for {d}-d features give a rank-deficient covariance (FID needs more than {d} "
            "images); add images, or allow it (--allow-rank-deficient) for a rough, biased value"
        )
        if not allow_rank_deficient:
            raise ArtforgeError(msg)
        warnings.warn(msg, stacklevel=2)
    mu = x.mean(axis=0)
    sigma = np.cov(x, rowvar=False)
    return mu, np.atleast_2d(sigma)


def frechet_distance(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    """d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) between two Gaussians (Heusel et al. 2017).

    Tr (S1 S2)^{1/2} is the sum of the square roots of the eigenvalues of S1 S2, which are those of the symmetric
    PSD matrix S1^{1/2} S2 S1^{1/2}; both steps use ``eigh`` on symmetric matrices, so the computation is real
    throughout and, unlike ``scipy.linalg.sqrtm`` of the non-symmetric S1 S2, has no imaginary parts to discard
    and needs no epsilon offset when a covariance is singular. Round-off eigenvalues below zero (|x| ~ 1e-12 of
    the largest) are clipped to 0, and so is a negative result of the same size.
    """
    m1, m2 = _vector(mu1, "mu1"), _vector(mu2, "mu2")
    s1, s2 = _covariance(sigma1, "sigma1"), _covariance(sigma2, "sigma2")
    if not (m1.shape[0] == m2.shape[0] == s1.shape[0] == s2.shape[0]):
        raise ArtforgeError(
            f"statistics of different feature sizes: mu {m1.shape[0]} vs {m2.shape[0]}, "
            f"sigma {s1.shape[0]} vs {s2.shape[0]}; were they computed with the same backbone?"
        )
    diff = m1 - m2
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # S1^{1/2}
    inner = root1 @ s2 @ root1
    ev = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(ev, 0.0, None)).sum())
    d2 = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(d2, 0.0)


def save_stats(path: str | os.PathLike[str], mu: Array, sigma: Array) -> Path:
    """Write ``mu`` and ``sigma`` to an ``.npz`` (atomically; float64, keys ``mu`` and ``sigma``)."""
    p = Path(path)
    m, s = _vector(mu, "mu"), _covariance(sigma, "sigma")
    if s.shape[0] != m.shape[0]:
        raise ArtforgeError(f"mu has {m.shape[0]} entries but sigma is {s.shape[0]}x{s.shape[0]}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ArtforgeError(f"{p}: directory {parent} does not exist")
    try:
        with atomic_path(p) as tmp, open(tmp, "wb") as f:
            np.savez(f, mu=m, sigma=s)
    except OSError as e:
        raise ArtforgeError(f"{p}: could not write ({e.strerror or e})") from None
    return p


def load_stats(path: str | os.PathLike[str]) -> tuple[Array, Array]:
    """``(mu, sigma)`` from an ``.npz`` with keys ``mu`` and ``sigma`` (pytorch-fid / clean-fid layout)."""
    p = Path(path)
    if not p.is_file():
        raise ArtforgeError(f"{p}: no such statistics file")
    try:
        with np.load(p, allow_pickle=False) as f:
            if "mu" not in f or "sigma" not in f:
                raise ArtforgeError(f"{p}: an .npz of FID statistics needs arrays 'mu' and 'sigma', has {sorted(f)}")
            mu, sigma = np.asarray(f["mu"], dtype=np.float64), np.asarray(f["sigma"], dtype=np.float64)
    except (OSError, ValueError) as e:
        raise ArtforgeError(f"{p}: not a readable .npz file ({e})") from None
    m, s = _vector(mu, f"{p} mu"), _covariance(sigma, f"{p} sigma")
    if s.shape[0] != m.shape[0]:
        raise ArtforgeError(f"{p}: mu has {m.shape[0]} entries but sigma is {s.shape[0]}x{s.shape[0]}")
    return m, s


# ---------------------------------------------------------------- KID


def kid(
    feats1: Array, feats2: Array, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Mean and std over random subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018).

    Each subset draws ``m = min(subset_size, n1, n2)`` rows of each set without replacement. The estimator is
    unbiased, so two samples of one distribution give values scattered around 0, negative ones included.
    """
    x, y = _matrix(feats1, "feats1"), _matrix(feats2, "feats2")
    if x.shape[1] != y.shape[1]:
        raise ArtforgeError(f"KID needs features of one size, got {x.shape[1]} and {y.shape[1]}")
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ArtforgeError(f"KID needs at least 2 images in each set, got {len(x)} and {len(y)}")
    if subsets < 1:
        raise ArtforgeError(f"KID needs at least one subset, got {subsets}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for s in range(subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        same = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[s] = same - 2 * kxy.sum() / (m * m)
    return float(values.mean()), float(values.std())


# ---------------------------------------------------------------- IS


def inception_score(logits_or_probs: Array, splits: int = 10, *, probs: bool | None = None) -> tuple[float, float]:
    """Mean and std over ``splits`` of exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016).

    ``probs=None`` takes rows that are non-negative and sum to 1 as probabilities, anything else as logits
    (softmax). Splits are consecutive slices ``[k N / s, (k + 1) N / s)``, as in the original code.
    """
    z = _matrix(logits_or_probs, "predictions")
    n = len(z)
    if not 1 <= splits <= n:
        raise ArtforgeError(f"IS needs 1 <= splits <= images, got {splits} splits for {n} images")
    if probs is None:
        probs = bool((z >= 0).all() and np.allclose(z.sum(axis=1), 1.0, atol=1e-4))
    if probs:
        p = z / z.sum(axis=1, keepdims=True)
    else:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    scores = np.empty(splits)
    for k in range(splits):
        part = p[k * n // splits : (k + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(axis=1)
        scores[k] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())


# ---------------------------------------------------------------- precision / recall


def precision_recall(real_feats: Array, fake_feats: Array, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) from k-NN balls around each sample.

    precision: share of fake samples inside some real ball B(r_i, ||r_i - NN_k(r_i)||); recall: share of real
    samples inside some fake ball. Distances are computed ``chunk`` rows at a time (memory ``chunk x N``).
    """
    real, fake = _matrix(real_feats, "real features"), _matrix(fake_feats, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ArtforgeError(f"precision/recall need features of one size, got {real.shape[1]} and {fake.shape[1]}")
    if min(len(real), len(fake)) <= k:
        raise ArtforgeError(
            f"precision/recall with k={k} need more than {k} images per set, got {len(real)} and {len(fake)}"
        )
    r_real = _knn_radii(real, k, chunk)
    r_fake = _knn_radii(fake, k, chunk)
    precision = _inside_share(fake, real, r_real, chunk)
    recall = _inside_share(real, fake, r_fake, chunk)
    return precision, recall


def _distances(a: Array, b: Array) -> Array:
    """Euclidean distances ``[len(a), len(b)]`` in float64."""
    sq: Array = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
    np.clip(sq, 0.0, None, out=sq)
    np.sqrt(sq, out=sq)
    return sq


def _knn_radii(x: Array, k: int, chunk: int) -> Array:
    """Distance of each row to its k-th nearest other row (itself, at distance 0, is the 0-th)."""
    out: Array = np.empty(len(x))
    for s in range(0, len(x), chunk):
        d = _distances(x[s : s + chunk], x)
        d[np.arange(len(d)), np.arange(s, s + len(d))] = 0.0  # exactly 0 to itself, whatever the round-off
        out[s : s + chunk] = np.partition(d, k, axis=1)[:, k]
    return out


def _inside_share(query: Array, ref: Array, radii: Array, chunk: int) -> float:
    """Share of ``query`` rows within ``radii[j]`` of some ``ref[j]``."""
    hits = 0
    for s in range(0, len(query), chunk):
        d = _distances(query[s : s + chunk], ref)
        hits += int((d <= radii[None, :]).any(axis=1).sum())
    return hits / len(query)


# ---------------------------------------------------------------- input checks


def _matrix(a: Array, what: str) -> Array:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ArtforgeError(f"{what}: expected a non-empty [N, D] array, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ArtforgeError(f"{what}: contains NaN or infinite values")
    return x


def _vector(a: Array, what: str) -> Array:
    x = np.atleast_1d(np.asarray(a, dtype=np.float64))
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ArtforgeError(f"{what}: expected a finite [D] vector, got shape {list(x.shape)}")
    return x


def _covariance(a: Array, what: str) -> Array:
    x = np.atleast_2d(np.asarray(a, dtype=np.float64))
    if x.ndim != 2 or x.shape[0] != x.shape[1] or not np.isfinite(x).all():
        raise ArtforgeError(f"{what}: expected a finite square [D, D] covariance, got shape {list(x.shape)}")
    return (x + x.T) / 2
