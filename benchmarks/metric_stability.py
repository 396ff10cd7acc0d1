"""How many images FID (Heusel et al. 2017), KID (Binkowski et al. 2018) and precision/recall need, and what the
resizer does to FID, measured on Fashion-MNIST with artforge's offline VGG16 backbone (the figures of docs/metrics.md).

Features: the first ``--pool`` train and the first ``--pool`` test images of Fashion-MNIST (one distribution, so every
metric's ideal value is "no difference"), the first ``--gap-n`` test images blurred (PIL Gaussian, radius ``--blur``
px at 28 px: a real, modest difference to read the noise against), all through ``artforge.metrics.array_features``
(clean-fid resizing; cached on disk, so a rerun costs seconds). Then, from those features only:

1. FID(train subset, test subset) at each N of ``--fid-sizes``: mean, std, min, max over ``--repeats`` random subsets
   of the two pools (N = pool: the pools themselves, once; for N > pool/4 the subsets overlap, so the std is an
   underestimate). The mean falls like a + b/N; the fit's a is FID_inf (Chong & Forsyth 2020), mean - FID_inf the
   bias at N. Beside it, FID(train subset, blurred subset) at the same N.
2. KID (artforge's estimator: unbiased MMD^2, cubic kernel, subsets of min(1000, N)) and precision/recall (k=3) at
   each N of ``--kid-sizes``, same design, and KID against the blurred images.
3. Resizers: FID(train, test) on the first ``--resize-n`` images of each pool with the clean-fid resize (PIL bicubic
   in float) and with ``F.interpolate(mode="bilinear")`` on the tensor, and the FID between the two feature sets of
   the very same test images (the resizer alone, as when reference statistics and samples went through different
   pipelines).

Full run (~80 min on 2 busy cores, almost all of it 9000 VGG16 feature passes; ~1 min once cached):
    python benchmarks/metric_stability.py --json stability.json
Quick check (small sizes, ~1-5 min; its FIDs are rank-deficient and mean nothing):
    python benchmarks/metric_stability.py --quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from _common import machine_info, print_header, table
from artforge.metrics import stats
from artforge.metrics.backbones import Backbone
from artforge.metrics.features import array_features, metrics_cache_dir

Idx = np.ndarray


@dataclass(frozen=True)
class Features:
    """VGG16 features ``[N, 512]`` of the train pool, the test pool, and the blurred test images."""

    train: np.ndarray
    test: np.ndarray
    gap: np.ndarray


def fashion(split: str, n: int) -> np.ndarray:
    """The first ``n`` Fashion-MNIST images of ``split``, uint8 ``[n, 1, 28, 28]``."""
    from artforge.data.datasets import open_dataset

    return open_dataset("fashion-mnist", split=split, max_images=n).tensors()[0].numpy()


def blurred(images: np.ndarray, radius: float) -> np.ndarray:
    out = np.empty_like(images)
    for i, a in enumerate(images):
        out[i, 0] = np.asarray(Image.fromarray(a[0]).filter(ImageFilter.GaussianBlur(radius)))
    return out


def clean_features(images: np.ndarray, net: Backbone, name: str) -> np.ndarray:
    t0 = time.perf_counter()
    f = array_features(images, net, name=name, batch=32, progress=True, cache=True)
    print(f"{name}: {len(images)} images, {'cache' if f.cached else f'{time.perf_counter() - t0:.0f} s'}", flush=True)
    return f.features


def bilinear_features(images: np.ndarray, net: Backbone, name: str) -> np.ndarray:
    """Features with the resize most FID code did before clean-fid: F.interpolate(bilinear) on the float tensor."""
    h = hashlib.sha256(f"torch-bilinear|{net.tag}|{images.shape}".encode())
    h.update(np.ascontiguousarray(images).data)
    path = metrics_cache_dir() / f"stability-{h.hexdigest()}.npy"
    if path.is_file():
        print(f"{name} (bilinear): {len(images)} images, cache", flush=True)
        return np.load(path)
    t0 = time.perf_counter()
    size, out = net.spec.input_size, []
    for i in range(0, len(images), 32):
        x = torch.from_numpy(images[i : i + 32]).float().expand(-1, 3, -1, -1)  # [B, 3, 28, 28] in [0, 255]
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out.append(net(np.ascontiguousarray(x.numpy()))[0])
    feats = np.concatenate(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, feats)
    print(f"{name} (bilinear): {len(images)} images, {time.perf_counter() - t0:.0f} s", flush=True)
    return feats


def fid(a: np.ndarray, b: np.ndarray) -> float:
    allow = min(len(a), len(b)) <= a.shape[1]  # only in --quick: FID needs N > 512 here
    sa = stats.feature_statistics(a, allow_rank_deficient=allow)
    sb = stats.feature_statistics(b, allow_rank_deficient=allow)
    return stats.frechet_distance(*sa, *sb)


def pairs(pool_a: int, pool_b: int, n: int, repeats: int, rng: np.random.Generator) -> list[tuple[Idx, Idx]]:
    """``repeats`` independent random subsets of size n of each pool (the whole pools, once, when n = pool)."""

    def one(pool: int) -> Idx:
        return np.arange(pool) if n >= pool else rng.choice(pool, n, replace=False)

    count = 1 if n >= max(pool_a, pool_b) else repeats
    return [(one(pool_a), one(pool_b)) for _ in range(count)]


def kid(a: np.ndarray, b: np.ndarray, seed: int) -> float:
    """artforge's KID (100 subsets of min(1000, N)); for N <= 1000 every subset is the whole set, so one suffices."""
    return stats.kid(a, b, subsets=1 if min(len(a), len(b)) <= 1000 else 100, seed=seed)[0]


def summary(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "std": std, "min": float(v.min()), "max": float(v.max()), "repeats": len(v)}


def pm(s: dict[str, float] | None, fmt: str = ".3f") -> str:
    return "-" if s is None else f"{s['mean']:{fmt}} ± {s['std']:{fmt}}"


def fid_study(f: Features, sizes: list[int], repeats: int, rng: np.random.Generator) -> dict[str, Any]:
    """FID of train vs test (and vs blurred test) subsets at each N, and the fit mean = FID_inf + b / N."""
    by_n: dict[int, dict[str, Any]] = {}
    for n in sizes:
        same = [fid(f.train[i], f.test[j]) for i, j in pairs(len(f.train), len(f.test), n, repeats, rng)]
        gap = [fid(f.train[i], f.gap[j]) for i, j in pairs(len(f.train), len(f.gap), n, repeats, rng)]
        by_n[n] = {"same": summary(same), "gap": summary(gap) if n <= len(f.gap) else None}
    slope, fid_inf = np.polyfit([1 / n for n in sizes], [by_n[n]["same"]["mean"] for n in sizes], 1)
    return {"by_n": by_n, "fid_inf": float(fid_inf), "slope": float(slope)}


def kid_pr_study(f: Features, sizes: list[int], repeats: int, rng: np.random.Generator) -> dict[int, dict[str, Any]]:
    """KID (artforge defaults) and precision/recall (k=3) of train vs test subsets; KID vs blurred test too."""
    out: dict[int, dict[str, Any]] = {}
    for n in sizes:
        both = pairs(len(f.train), len(f.test), n, repeats, rng)
        kids = [kid(f.train[i], f.test[j], k) for k, (i, j) in enumerate(both)]
        prs = [stats.precision_recall(f.train[i], f.test[j]) for i, j in both]
        gap = [kid(f.train[i], f.gap[j], k) for k, (i, j) in
               enumerate(pairs(len(f.train), len(f.gap), n, repeats, rng))]  # fmt: skip
        out[n] = {
            "kid": summary(kids), "negative": int(sum(k < 0 for k in kids)),
            "kid_gap": summary(gap) if n <= len(f.gap) else None,
            "precision": summary([a for a, _ in prs]), "recall": summary([b for _, b in prs]),
        }  # fmt: skip
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool", type=int, default=3000, help="train and test images with features (3000 each)")
    p.add_argument("--fid-sizes", default="600,1000,1500,3000", help="N for FID (> 512 for the 512-d VGG16)")
    p.add_argument("--kid-sizes", default="50,100,200,500,1000", help="N for KID and precision/recall")
    p.add_argument("--repeats", type=int, default=50, help="random subsets per N (50)")
    p.add_argument("--blur", type=float, default=0.5, help="Gaussian blur radius (px at 28 px) of the gap set (0.5)")
    p.add_argument("--gap-n", type=int, default=1000, help="blurred test images (1000)")
    p.add_argument("--resize-n", type=int, default=1000, help="images per side for the resizer comparison (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write every figure to this JSON file")
    p.add_argument("--quick", action="store_true", help="pool 200, small sizes, 3 repeats: a smoke test")
    args = p.parse_args()
    if args.quick:
        args.pool, args.fid_sizes, args.kid_sizes, args.repeats = 200, "100,200", "50,100", 3  # FID rank-deficient
        args.gap_n = args.resize_n = 50
    fid_sizes = [int(x) for x in args.fid_sizes.split(",")]
    kid_sizes = [int(x) for x in args.kid_sizes.split(",")]
    info = [*machine_info(), ("load average", f"{os.getloadavg()[0]:.2f}")]
    print_header("metric stability on Fashion-MNIST (VGG16 relu5_3 mean, 512-d)", info)
    net = Backbone("vgg16", device="cpu", progress=False)
    train, test = fashion("train", args.pool), fashion("test", args.pool)
    f = Features(
        clean_features(train, net, "train"),
        clean_features(test, net, "test"),
        clean_features(blurred(test[: args.gap_n], args.blur), net, f"test blurred r={args.blur}"),
    )
    m = args.resize_n
    train_bi, test_bi = bilinear_features(train[:m], net, "train"), bilinear_features(test[:m], net, "test")
    rng = np.random.default_rng(args.seed)
    out: dict[str, Any] = {"pool": args.pool, "repeats": args.repeats, "blur": args.blur, "backbone": net.tag}
    scale = float(np.mean(f.train @ f.test[:200].T) / f.train.shape[1])
    out["kernel_scale"] = scale
    print(
        f"\nfeature scale: mean x.y/d = {scale:.3g} (KID's kernel is (x.y/d + 1)^3), mean |x| = "
        f"{np.linalg.norm(f.train, axis=1).mean():.3g}"
    )

    out["fid"] = fs = fid_study(f, fid_sizes, args.repeats, rng)
    print("\n1. FID(train N, test N), one distribution: bias = mean - FID_inf; and against blurred test images")
    rows = []
    for n in fid_sizes:
        s = fs["by_n"][n]["same"]
        spread = f"{s['min']:.3f}-{s['max']:.3f}"
        rows.append([n, s["repeats"], f"{s['mean']:.3f}", f"{s['std']:.3f}", spread, f"{s['mean'] - fs['fid_inf']:.3f}",
                     pm(fs["by_n"][n]["gap"])])  # fmt: skip
    print(table(["N", "repeats", "mean", "std", "min-max", "bias", f"vs blurred r={args.blur}"], rows))
    print(f"fit mean = FID_inf + b/N: FID_inf = {fs['fid_inf']:.3f}, b = {fs['slope']:.0f}")

    out["kid_pr"] = kp = kid_pr_study(f, kid_sizes, args.repeats, rng)
    print("\n2. KID and precision/recall (k=3), train N vs test N (one distribution)")
    rows = [[n, f"{kp[n]['kid']['mean']:.3g}", f"{kp[n]['kid']['std']:.3g}",
             f"{kp[n]['negative']}/{kp[n]['kid']['repeats']}", pm(kp[n]["kid_gap"], ".3g"), pm(kp[n]["precision"]),
             pm(kp[n]["recall"])] for n in kid_sizes]  # fmt: skip
    print(table(["N", "KID mean", "KID std", "KID < 0", f"KID vs blurred r={args.blur}", "precision", "recall"], rows))

    clean, bilinear, same = fid(f.train[:m], f.test[:m]), fid(train_bi, test_bi), fid(f.test[:m], test_bi)
    out["resize"] = {"n": m, "clean": clean, "bilinear": bilinear, "clean_vs_bilinear_same_images": same}
    print(f"\n3. resizers, N = {m} per side (28 px -> 224 px)")
    rows = [
        ["train vs test, clean-fid resize (PIL bicubic, float)", f"{clean:.3f}"],
        ["train vs test, F.interpolate(bilinear) on the tensor", f"{bilinear:.3f}"],
        ["the same test images: clean vs bilinear", f"{same:.3f}"],
    ]
    print(table(["FID", "value"], rows))
    bias = fs["by_n"][fid_sizes[0]]["same"]["mean"] - fs["fid_inf"]
    print(f"\nRESULT: FID_inf {fs['fid_inf']:.3f}, bias at N={fid_sizes[0]} {bias:.3f}; "
          f"resizer gap {abs(clean - bilinear):.3f} ({bilinear / clean:.2f}x)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
