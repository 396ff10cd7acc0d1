"""StyleGAN2 sample quality on Fashion-MNIST at 32 px: per image seen and at equal wall-clock against artforge's
DCGAN, and ADA against no augmentation on 2,000 images.

Targets (issue 19, "What it must reach", items 1 and 2):

1. default mode: at ``--kimg`` K (default 200), FD(stylegan2) <= 0.8 x FD(dcgan) at the same kimg. Also reported:
   the two at equal wall-clock time, i.e. each model's FD at its last snapshot within the training time of the
   shorter of the two runs, and which of them wins there.
2. ``--ada``: on the first ``--max-images`` (default 2000) training images, FD(``--augment ada``) <= 0.75 x
   FD(``--augment none``) at K kimg, and ADA's p settles (its range over the last quarter of the run is at most
   ``--settle``, default 0.05) instead of running away (reaching 1).

Protocol. Every model is trained through the public API exactly as a user trains it, one run after the other in this
process, on the same device and threads: ``artforge.api.train(model="stylegan2", data="fashion-mnist",
resolution=32, batch=32, kimg=K, snap_kimg=S, keep=1000, ...)`` (the family's defaults: the 32 px preset, ADA;
``--ada`` mode adds ``max_images`` and ``augment="ada"`` or ``"none"``) and ``api.train(model="dcgan",
data="fashion-mnist", resolution=32, kimg=K, ...)`` (its defaults: width 64, batch 64). Every snapshot (every
``--snap`` S kimg, and the last) is then sampled as ``artforge eval`` samples it: ``build.model_from_checkpoint``
(G_ema) and ``sampling.generate_uint8`` (``--samples`` images, default 10000, quantised to 8 bits, seed fixed). Each
is scored with the yardstick of ``dcgan_quality.py`` (its functions, imported): the small CNN classifier trained on
the 60000 training images (here at 32 px, 2 epochs, seeded; its test accuracy is printed), FD between Gaussians of
its 128-d penultimate features of the samples and of the 10000 test images, and KID on the same features. The floor
is the FD of ``--samples`` random training images.

Wall time of a snapshot is the run's own timing, read from its ``stats.jsonl``: the sum over log ticks of the
images of the tick / its ``img_per_s``, i.e. the time of the training loop from its first step (training steps,
log ticks and the saving of earlier snapshots; not the data loading and network building before it). The runs are
sequential, so load drift on the machine hits them unequally: run it on an idle machine.
In ``--ada`` mode the trajectory of p is the ``augment/p`` column of the run's stats.jsonl (its mean over each tick).

Full runs: hours. On one busy thread of a 2-core EPYC, the 32 px nets train at ~13 img/s (StyleGAN2) and ~220 img/s
(DCGAN) and sample at ~80 and ~1600 img/s, so the default mode takes ~5 h (StyleGAN2 ~4.2 h training + ~45 min
scoring 21 snapshots) and ``--ada`` ~10 h (two StyleGAN2 runs); two idle cores are faster.
    python benchmarks/stylegan2_quality.py --grid /tmp/stylegan2_quality
    python benchmarks/stylegan2_quality.py --ada --grid /tmp/stylegan2_quality_ada
Quick check (~1 min each on one thread; tiny widths, 4 kimg, 500 samples: its figures mean nothing):
    OMP_NUM_THREADS=1 python benchmarks/stylegan2_quality.py --quick
    OMP_NUM_THREADS=1 python benchmarks/stylegan2_quality.py --quick --ada
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from _common import machine_info, print_header, table
from artforge import api
from artforge.core import checkpoint as ckpt
from artforge.core.device import resolve_device
from artforge.data.grid import make_grid
from artforge.families.config import TrainConfig
from artforge.metrics import feature_statistics
from artforge.train import build as training
from artforge.train.build import model_from_checkpoint
from artforge.train.sampling import generate_uint8
from dcgan_quality import FEATURE_DIM, FeatureNet, fit_yardstick, floor_images, score

TARGET_DCGAN = 0.8  # FD(stylegan2) / FD(dcgan) at K kimg
TARGET_ADA = 0.75  # FD(ada) / FD(none) at K kimg on --max-images images
RESOLUTION = 32
GEN_BATCH = 64  # sampling batch: StyleGAN2's grouped convs run faster on CPU in small batches than in 500s
QUICK = {"kimg": 4.0, "snap": 0.5, "samples": 500, "classifier_epochs": 1, "classifier_images": 6000}
QUICK_NETS: dict[str, dict[str, Any]] = {"stylegan2": {"width": 16, "z_dim": 64}, "dcgan": {"width": 16}}


@dataclass
class Judge:
    """The yardstick of dcgan_quality.py with the test set's statistics."""

    net: FeatureNet
    f_test: np.ndarray
    mu_test: np.ndarray
    sigma_test: np.ndarray
    device: torch.device
    seed: int

    def __call__(self, images: Tensor, what: str) -> tuple[float, float, float]:
        """(FD, KID mean, KID std) of uint8 ``images`` ``[N, C, R, R]``."""
        return score(self.net, images, self.f_test, self.mu_test, self.sigma_test, self.device, self.seed, what)


@dataclass
class Snapshot:
    kimg: float
    wall: float  # s of the training loop (stats.jsonl)
    fd: float
    kid: float
    kid_std: float
    p: float | None  # ADA's p (tick mean) at the snapshot; None for dcgan


@dataclass
class Run:
    label: str
    run: Path
    total_s: float  # wall time of the whole api.train call, set-up included
    snaps: list[Snapshot]
    last_images: Tensor  # uint8 samples of the last snapshot


def ticks(run: Path) -> list[dict[str, float]]:
    """stats.jsonl's tick rows with ``wall`` added: seconds of the training loop up to that row."""
    batch = json.loads((run / "config.json").read_text())["batch"]
    rows, wall, last_step = [], 0.0, 0
    for line in (run / "stats.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "img_per_s" not in row:
            continue
        wall += (row["step"] - last_step) * batch / row["img_per_s"]
        last_step = row["step"]
        rows.append({**row, "wall": wall})
    return rows


def train_and_score(label: str, out: Path, judge: Judge, args: argparse.Namespace, **overrides: Any) -> Run:
    """One ``api.train`` run, then every snapshot sampled as ``artforge eval`` does and scored."""
    options = dict(data=args.data, resolution=RESOLUTION, **overrides, kimg=args.kimg, snap_kimg=args.snap,
                   keep=1000, device=str(judge.device), seed=args.seed)  # fmt: skip
    print(f"--- {label}: api.train({', '.join(f'{k}={v!r}' for k, v in options.items())}, out=...)", flush=True)
    t0 = time.perf_counter()
    last = api.train(out=out, progress=not args.no_progress, **options)
    total = time.perf_counter() - t0
    run = last.parent
    by_step = {int(r["step"]): r for r in ticks(run)}
    snaps, images = [], torch.empty(0)
    t0 = time.perf_counter()
    for path in ckpt.checkpoints(run):
        net, cfg, meta, fam = model_from_checkpoint(path, judge.device)
        num_classes = int(meta["shapes"]["num_classes"])
        x = generate_uint8(net, fam, cfg, num_classes, args.samples, args.seed + 10_000, judge.device, GEN_BATCH)
        images = torch.from_numpy(x)
        row = by_step[int(meta["step"])]
        fd, k_mean, k_std = judge(images, f"{label} at kimg {row['kimg']:g}")
        snaps.append(Snapshot(row["kimg"], row["wall"], fd, k_mean, k_std, row.get("augment/p")))
    print(f"{label}: run {run}; api.train {total:.0f} s, scoring {len(snaps)} snapshots "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    return Run(label, run, total, snaps, images)


def print_run(r: Run) -> None:
    last = r.snaps[-1]
    print(f"{r.label}: FD per snapshot ({r.run.name}; {last.kimg * 1000 / last.wall:.1f} img/s over the run)")
    with_p = any(s.p is not None for s in r.snaps)
    heads = ["kimg", "wall s", "FD", "KID", *(["p"] if with_p else [])]
    rows = [[f"{s.kimg:.2f}", f"{s.wall:.1f}", f"{s.fd:.3f}", f"{s.kid:.4g} +- {s.kid_std:.2g}",
             *([f"{s.p:.3f}" if s.p is not None else ""] if with_p else [])] for s in r.snaps]  # fmt: skip
    print(table(heads, rows))
    print()


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def equal_time(runs: list[Run]) -> str:
    """Both runs' FD at their last snapshot within the shorter run's training time; returns the summary line.

    If the slower model has no snapshot that early, the faster one still wins outright when its final FD beats the
    slower one's first snapshot (which had more time); otherwise the comparison needs a smaller ``--snap``."""
    fast, slow = sorted(runs, key=lambda r: r.snaps[-1].wall)
    budget, a = fast.snaps[-1].wall, fast.snaps[-1]
    within = [s for s in slow.snaps if s.wall <= budget]
    b = within[-1] if within else slow.snaps[0]
    print(f"Equal wall-clock: at {budget:.1f} s, the training time of the shorter run ({fast.label})")
    rows = [[r.label, f"{s.kimg:.2f}", f"{s.wall:.1f}", f"{s.fd:.3f}"] for r, s in ((fast, a), (slow, b))]
    print(table(["model", "kimg", "wall s", "FD"], rows))
    if within:
        winner, fds = (fast.label, (a.fd, b.fd)) if a.fd <= b.fd else (slow.label, (b.fd, a.fd))
        line = f"at {budget:.0f} s ({fast.label}'s time) {winner} wins, FD {fds[0]:.3f} vs {fds[1]:.3f}"
    elif a.fd <= b.fd:
        line = (f"{fast.label} wins: FD {a.fd:.3f} in {budget:.0f} s, {slow.label} {b.fd:.3f} even at its first "
                f"snapshot ({b.wall:.0f} s)")  # fmt: skip
    else:
        line = (f"n/a: {slow.label}'s first snapshot ({b.wall:.0f} s) is after {fast.label}'s {budget:.0f} s and "
                f"beats it; lower --snap")  # fmt: skip
    if not within:
        print(f"({slow.label} has no snapshot within {budget:.1f} s; its first is shown)")
    print()
    return line


def p_trajectory(r: Run, settle: float, points: int = 20) -> tuple[bool, str]:
    """Prints p over the run (every tick, thinned to about ``points`` rows); (settled, one-line summary)."""
    rows = [t for t in ticks(r.run) if "augment/p" in t]
    if not rows:
        return False, "no augment/p in stats.jsonl"
    ps = np.array([t["augment/p"] for t in rows])
    shown = sorted({*range(0, len(rows), max(1, len(rows) // points)), len(rows) - 1})
    print(f"ADA p over the run ({r.label}; tick means from stats.jsonl):")
    print(table(["kimg", "wall s", "p"], [[f"{rows[i]['kimg']:.2f}", f"{rows[i]['wall']:.1f}", f"{ps[i]:.4f}"]
                                           for i in shown]))  # fmt: skip
    total = rows[-1]["kimg"]
    tail = ps[[i for i, t in enumerate(rows) if t["kimg"] >= 0.75 * total]]
    spread, top = float(tail.max() - tail.min()), float(ps.max())
    if top >= 0.99:
        state, ok = f"RAN AWAY (p reached {top:.3f})", False
    elif spread <= settle:
        state, ok = f"settled at {float(tail.mean()):.3f}", True
    else:
        state, ok = f"still moving ({float(tail[0]):.3f} -> {float(tail[-1]):.3f})", False
    line = f"p {state}; last quarter ({len(tail)} ticks) range {spread:.4f} (bound {settle:g}), max p {top:.3f}"
    print(line)
    print()
    return ok, line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--kimg", type=float, default=200.0, help="training length of every run, kimg (default 200)")
    p.add_argument("--snap", type=float, default=10.0, help="snapshot (and score) every S kimg (default 10)")
    p.add_argument("--ada", action="store_true", help="target 2: ADA vs no augmentation on --max-images images")
    p.add_argument("--max-images", type=int, default=2000, help="--ada: first N training images (default 2000)")
    p.add_argument("--settle", type=float, default=0.05, help="--ada: max range of p over the last quarter")
    p.add_argument("--samples", type=int, default=10_000, help="generated images per snapshot (default 10000)")
    p.add_argument("--classifier-epochs", type=int, default=2, help="yardstick training epochs (default 2)")
    p.add_argument("--classifier-images", type=int, default=None, help="first N train images for it (default all)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist[:DIR of its idx files] (default: the usual)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", default=None, help="keep the run dirs here (default: a temporary dir)")
    p.add_argument("--grid", metavar="DIR", default=None, help="write 8x8 grids of the last snapshots and test")
    p.add_argument("--no-progress", action="store_true", help="no training progress bars")
    quick_help = "smoke test: 4 kimg, snap 0.5, 500 samples, tiny widths, small yardstick (options given win)"
    p.add_argument("--quick", action="store_true", help=quick_help)
    args = p.parse_args(argv)
    if args.quick:  # only what the command line left at its default
        for key, value in QUICK.items():
            if getattr(args, key) == p.get_default(key):
                setattr(args, key, value)
    nets = QUICK_NETS if args.quick else {"stylegan2": {}, "dcgan": {}}

    target = "ADA vs none on small data" if args.ada else "StyleGAN2 vs DCGAN per kimg and per second"
    print_header(f"artforge benchmark: StyleGAN2 quality, {target} (Fashion-MNIST, 32 px)", machine_info(args.threads))
    device = resolve_device(args.device)
    t0 = time.perf_counter()
    cfg = TrainConfig(model="stylegan2", data=args.data, resolution=RESOLUTION)
    ds, images, _ = training.open_data(cfg)
    labels = ds.tensors()[1]
    test_ds, test_images, _ = training.open_data(cfg, split="test")
    n_cls = args.classifier_images or len(images)
    clf, f_test, acc = fit_yardstick(
        images, labels, test_images, test_ds.tensors()[1], args.classifier_epochs, n_cls, device, args.seed
    )
    judge = Judge(clf, f_test, *feature_statistics(f_test, what="test features"), device, args.seed)
    print(f"yardstick  : dcgan_quality's CNN, {FEATURE_DIM}-d features, {args.classifier_epochs} epoch(s) on {n_cls} "
          f"train images at {RESOLUTION} px; test accuracy {acc:.4f} ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
    floor = judge(floor_images(images, args.samples, args.seed), "train set (floor)")
    print(f"floor      : FD {floor[0]:.3f}, KID {floor[1]:.4g} +- {floor[2]:.2g} ({args.samples} random training "
          f"images vs {len(test_images)} test)")  # fmt: skip
    print(f"protocol   : {args.kimg:g} kimg per run, snapshots every {args.snap:g} kimg, {args.samples} samples each"
          f"{'; tiny widths (--quick)' if args.quick else ''}")  # fmt: skip
    print(flush=True)

    with contextlib.ExitStack() as stack:
        out = Path(args.out) if args.out else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sg2q-")))
        sg2 = {"model": "stylegan2", "batch": 32, **nets["stylegan2"]}
        if args.ada:
            small = {**sg2, "max_images": args.max_images}
            runs = [
                train_and_score("stylegan2 ada", out, judge, args, **small, augment="ada"),
                train_and_score("stylegan2 none", out, judge, args, **small, augment="none"),
            ]
        else:
            runs = [
                train_and_score("stylegan2", out, judge, args, **sg2),
                train_and_score("dcgan", out, judge, args, model="dcgan", **nets["dcgan"]),
            ]
        print()
        for r in runs:
            print_run(r)
        if args.grid:
            grid = Path(args.grid)
            grid.mkdir(parents=True, exist_ok=True)
            for name, x in [*((r.label.replace(" ", "_"), r.last_images) for r in runs), ("test", test_images)]:
                path = grid / f"stylegan2_quality_{name}.png"
                make_grid(x[:64].float() / 255, nrow=8).save(path)
                print(f"grid       : {path}")
            print()

        a, b = runs[0].snaps[-1], runs[1].snaps[-1]
        ratio = a.fd / b.fd if b.fd > 0 else float("inf")
        note = "  (--quick: a few kimg, tiny nets: not meaningful)" if args.quick else ""
        if args.ada:
            settled, p_line = p_trajectory(runs[0], args.settle)
            print(f"FD ada / none at {a.kimg:g} kimg = {a.fd:.3f} / {b.fd:.3f} = {ratio:.3f} (target <= "
                  f"{TARGET_ADA}): {verdict(ratio <= TARGET_ADA)}")  # fmt: skip
            print(f"p settles (not running away): {verdict(settled)}")
            print(f"RESULT: ada/none FD ratio {ratio:.3f} (target <= {TARGET_ADA}): {verdict(ratio <= TARGET_ADA)}; "
                  f"{p_line}: {verdict(settled)}{note}")  # fmt: skip
        else:
            time_line = equal_time(runs)
            print(f"FD stylegan2 / dcgan at {a.kimg:g} / {b.kimg:g} kimg = {a.fd:.3f} / {b.fd:.3f} = {ratio:.3f} "
                  f"(target <= {TARGET_DCGAN}): {verdict(ratio <= TARGET_DCGAN)}")  # fmt: skip
            print(f"equal wall-clock: {time_line}")
            print(f"RESULT: stylegan2/dcgan FD ratio {ratio:.3f} at {a.kimg:g} kimg (target <= {TARGET_DCGAN}): "
                  f"{verdict(ratio <= TARGET_DCGAN)}; floor {floor[0]:.3f}; {time_line}{note}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
