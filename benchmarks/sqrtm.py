"""Time of the matrix square root in FID, d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) (Heusel et al. 2017).

Two ways to the same number, on the same 2048-dim statistics, in one process:

- artforge: ``artforge.metrics.frechet_distance`` (two symmetric eigendecompositions: S1^{1/2} by ``eigh``, then the
  eigenvalues of S1^{1/2} S2 S1^{1/2}; see metrics/stats.py);
- reference: ``scipy.linalg.sqrtm(S1 @ S2)`` (Schur method on the non-symmetric product), as pytorch-fid computes it,
  then the same formula with the real part of the trace.

The statistics are the mean and covariance of ``--samples`` Gaussian vectors whose covariance has a power-law
spectrum (lambda_k ~ k^-1.5, like pooled CNN features), one set per side, so both covariances are full-rank and
realistic in conditioning. Each method runs ``--rounds`` times, interleaved (order alternating); the median is
reported, with the two FID values and their relative difference.

Full run (~1 min on 2 cores):    python benchmarks/sqrtm.py
Quick check (seconds):           python benchmarks/sqrtm.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from _common import machine_info, print_header, table
from artforge.metrics.stats import feature_statistics, frechet_distance


def scipy_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance (without its eps retry, which these full-rank inputs never need)."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1.dot(s2))
    covmean = covmean[0] if isinstance(covmean, tuple) else covmean  # scipy < 1.16 returned (sqrtm, errest) on disp
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def statistics_pair(d: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mu1, S1, mu2, S2) of two samples of n d-dim Gaussians with power-law spectra and different rotations."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        scale = np.arange(1, d + 1) ** -0.75  # sqrt of lambda_k ~ k^-1.5
        x = (rng.normal(size=(n, d)) * scale) @ q.T + rng.normal(scale=0.1, size=d)
        out.extend(feature_statistics(x.astype(np.float32)))
    return out[0], out[1], out[2], out[3]


def _blas() -> dict[str, str]:
    """numpy's BLAS library and its thread count (set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS to change it)."""
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return {"name": str(cfg.get("name")), "version": str(cfg.get("version"))}
    except (TypeError, KeyError):
        return {"name": "unknown"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", default="2048", help="comma-separated feature sizes (2048: Inception pool3)")
    p.add_argument("--samples", type=int, default=10_000, help="vectors per side behind each covariance (10000)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per method; the median is reported (5)")
    p.add_argument("--quick", action="store_true", help="256 dims, 1 round: a smoke test")
    args = p.parse_args()
    if args.quick:
        args.dims, args.samples, args.rounds = "256", 1000, 1
    import scipy

    blas = ", ".join(f"{k} {v}" for k, v in _blas().items())
    info = [*machine_info(), ("numpy", np.__version__), ("scipy", scipy.__version__), ("numpy BLAS", blas)]
    print_header("FID matrix square root: artforge eigh path vs scipy.linalg.sqrtm", info)
    print(f"load average : {os.getloadavg()[0]:.2f}\n", flush=True)
    methods: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]] = {
        "artforge frechet_distance (eigh)": frechet_distance,
        "scipy.linalg.sqrtm(S1 @ S2) (pytorch-fid)": scipy_fid,
    }
    rows = []
    for d in (int(x) for x in args.dims.split(",")):
        stats = statistics_pair(d, args.samples, seed=d)
        times: dict[str, list[float]] = {m: [] for m in methods}
        values: dict[str, float] = {}
        for r in range(args.rounds):
            for name in list(methods)[:: 1 if r % 2 == 0 else -1]:
                t0 = time.perf_counter()
                values[name] = methods[name](*stats)
                times[name].append(time.perf_counter() - t0)
        ours, ref = (statistics.median(times[m]) for m in methods)
        v_ours, v_ref = (values[m] for m in methods)
        for name in methods:
            rows.append([d, name, f"{statistics.median(times[name]):.3f}", f"{values[name]:.6f}"])
        rel = abs(v_ours - v_ref) / abs(v_ref)
        print(f"d={d}: artforge {ours:.3f} s, scipy {ref:.3f} s (x{ref / ours:.2f}); FID rel. difference {rel:.1e}")
    print()
    print(table(["dim", "method", "seconds (median)", "FID"], rows))
    print(f"\nRESULT: d={rows[-2][0]}: artforge {rows[-2][2]} s, scipy.linalg.sqrtm {rows[-1][2]} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
