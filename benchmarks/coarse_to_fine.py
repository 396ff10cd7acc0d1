"""Time for coarse-to-fine (pyramid) L-BFGS to reach the loss that single-scale L-BFGS reaches.

Measured:

1. single-scale: ``StylizeConfig(scales=1)`` at ``--size`` (default 512 px) for ``--iterations``
   (default 500) L-BFGS iterations. Its *final objective* L* is the total loss
   ``content_weight*L_c + style_weight*L_s + tv_weight*L_tv`` seen by the last iteration.
2. pyramid: the default schedule (``scales`` auto, coarsest level ``--min-scale`` = 128 px,
   ``--pyramid-iterations`` = StylizeConfig's 100 at the final level, 2x per coarser level), run by
   ``artforge.gatys.pyramid.stylize_tensor`` itself, with the schedule's final level lengthened:
   that level (full size, untiled, the very same objective as the single-scale run) keeps iterating
   past its configured count until its objective <= L*, or ``--cap-factor`` x the single-scale
   iterations; its callback then stops the run.

Both runs are ``stylize_tensor`` runs, recorded by its per-iteration callback. Wall time counts from
the start of each run and includes building every level's targets (style Grams, content features;
the "targets s" column times that work again, separately). The objective of an iteration is the
``total`` of the callback's losses: the loss evaluated during that iteration, i.e. at the iterate
before its update. Both runs are measured the same way, at full resolution; coarse-level losses are
recorded but never compared. The encoder is warmed up at every level size before either run.

Target: pyramid time to reach L* <= 1/3 of the single-scale time.

``--reference plain``: the single-scale run is plain Gatys L-BFGS, as in Gatys et al.'s and
neural-style's code (no projection onto [0, 1]; the image is clamped only when saved), and L* is the
objective of the 8-bit image it saves, i.e. of its result rather than of its unclamped iterate. The
pyramid is scored on its saved image too (near the threshold), and a projected single-scale run to
the same L* is timed as a control, which shows how much of the gain is the projection alone.

Full run (~30 min on 2 cores):  python benchmarks/coarse_to_fine.py --json coarse_to_fine.json
Quick check (seconds):          python benchmarks/coarse_to_fine.py --quick
Against plain Gatys (~25 min):   python benchmarks/coarse_to_fine.py --reference plain
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from PIL import Image

from _common import (
    CONTENT_PHOTOS,
    STYLE_PAINTINGS,
    content_image,
    level_loss,
    machine_info,
    print_header,
    style_image,
    table,
)
from artforge.api import encoder_for
from artforge.data import tiling
from artforge.data.images import resize_long, to_image, to_tensor
from artforge.gatys.config import StylizeConfig
from artforge.gatys.pyramid import Interrupted, Level, Progress, build_level, schedule, stylize_tensor
from artforge.nn.encoders import VGGEncoder

TARGET = 1 / 3


@dataclass
class Run:
    """One run's loss-vs-time curve: one entry per optimiser iteration, all levels in order."""

    name: str
    elapsed_s: list[float] = field(default_factory=list)  # since the start of the run
    total: list[float] = field(default_factory=list)  # objective evaluated in that iteration
    level_side: list[int] = field(default_factory=list)  # long side of the level, px
    level_iteration: list[int] = field(default_factory=list)  # 1-based, within its level
    level_end_s: dict[int, float] = field(default_factory=dict)  # long side -> elapsed at level end
    targets_s: float = 0.0  # time building the targets of its levels (included in elapsed_s; timed apart)

    def record(self, t0: float, side: int, i: int, total: float) -> None:
        self.elapsed_s.append(time.perf_counter() - t0)
        self.total.append(total)
        self.level_side.append(side)
        self.level_iteration.append(i)
        self.level_end_s[side] = self.elapsed_s[-1]


def saved_image(x: torch.Tensor) -> torch.Tensor:
    """What ``save_image`` keeps of an iterate: clamped to [0, 1] and rounded to 8 bits."""
    return to_tensor(to_image(x))


def targets_seconds(
    encoder: VGGEncoder, content: Image.Image, style: Image.Image, cfg: StylizeConfig, levels: list[Level]
) -> float:
    """Seconds to build every level's targets, as ``stylize_tensor`` does at the start of each level."""
    t0 = time.perf_counter()
    for lv in levels:
        build_level(encoder, content, [style], cfg, lv.long_side).loss()
    return time.perf_counter() - t0


def run_single(
    encoder: VGGEncoder,
    content: Image.Image,
    style: Image.Image,
    cfg: StylizeConfig,
    iterations: int,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> tuple[Run, torch.Tensor]:
    """Single-scale run; ``bounds=None`` is plain Gatys (no projection, clamped only when saved).
    Returns the curve and the final image."""
    run = Run("single-scale")
    cfg = dataclasses.replace(cfg, iterations=iterations, scales=1)
    run.targets_s = targets_seconds(encoder, content, style, cfg, [Level(cfg.size, iterations)])

    def record(p: Progress) -> None:
        run.record(t0, max(p.size), p.iteration, p.losses["total"])

    t0 = time.perf_counter()
    x = stylize_tensor(encoder, content, [style], cfg, callback=record, progress=False, bounds=bounds)
    return run, x


@dataclass
class PyramidResult:
    run: Run
    reached_s: float | None  # elapsed when the final level's objective first was <= threshold
    reached_iteration: int | None  # final-level iteration (1-based) at which that happened
    reached_total: float | None  # the objective then
    configured_s: float | None  # elapsed after the configured final-level iterations
    configured_total: float | None  # objective at that iteration
    configured_x: torch.Tensor | None  # iterate after the configured iterations (for --verify-driver)


def run_pyramid(
    encoder: VGGEncoder,
    content: Image.Image,
    style: Image.Image,
    cfg: StylizeConfig,
    threshold: float,
    cap: int,
    min_final: int,
    time_cap: float,
    judge: Callable[[torch.Tensor], float] | None = None,
    name: str = "pyramid",
) -> PyramidResult:
    """``stylize_tensor`` (one style, no masks, untiled levels) whose final level runs until its
    objective <= ``threshold``, ``cap`` iterations or ``time_cap`` seconds since the start (0: no
    limit), but at least ``min_final`` iterations; its callback records the curve and stops the run.

    ``judge``: how the reference is scored (its fp32 objective, for a pyramid that optimises under
    bf16; the objective of the saved 8-bit image, against plain Gatys). Once the pyramid's objective
    is within 2% of ``threshold``, each final-level iterate is also scored by ``judge``, which alone
    decides when the threshold is reached; those evaluations are measuring, not optimising, so their
    time is left off the pyramid's clock. With ``cfg.scales == 1`` this is a projected single-scale
    run that stops at the threshold."""
    run = Run(name)
    levels = schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
    final = len(levels) - 1
    longer = [*levels[:-1], Level(levels[-1].long_side, max(levels[-1].iterations, cap))]
    res = PyramidResult(run, None, None, None, None, None, None)
    run.targets_s = targets_seconds(encoder, content, style, cfg, levels)
    judging_s = 0.0

    def on_progress(p: Progress) -> bool:
        nonlocal judging_s
        i, total = p.iteration, p.losses["total"]
        if p.level == final and judge is not None and total <= 1.02 * threshold:
            t_judge = time.perf_counter()
            total = judge(p.image())  # the iterate after this step
            judging_s += time.perf_counter() - t_judge
        run.record(t0 + judging_s, levels[p.level].long_side, i, total)
        if p.level != final:
            return False
        if res.reached_s is None and total <= threshold:
            res.reached_s, res.reached_iteration, res.reached_total = run.elapsed_s[-1], i, total
        if i == levels[-1].iterations:
            res.configured_s, res.configured_total = run.elapsed_s[-1], total
            res.configured_x = p.image().clamp(0, 1)
        out_of_time = 0 < time_cap < run.elapsed_s[-1]
        return (res.reached_s is not None or out_of_time) and i >= min_final

    t0 = time.perf_counter()
    try:
        stylize_tensor(encoder, content, [style], cfg, callback=on_progress, progress=False, levels=longer)
    except Interrupted:
        pass
    return res


def warm_up(encoder: VGGEncoder, content: Image.Image, sides: list[int], layers: list[str]) -> None:
    """One forward+backward at every level size, so no run pays first-call costs for a shape."""
    for side in sides:
        w, h = resize_long(content, side).size
        x = torch.rand(1, 3, h, w, requires_grad=True)
        feats = encoder(x, layers)
        sum((f.mean() for f in feats.values()), torch.zeros(())).backward()


def fmt_s(t: float | None) -> str:
    return "-" if t is None else f"{t:.1f}"


def main(argv: list[str] | None = None) -> int:
    d = StylizeConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=d.size, help=f"output long side, px (default {d.size})")
    p.add_argument("--iterations", type=int, default=500, help="single-scale L-BFGS iterations (default 500)")
    p.add_argument(
        "--pyramid-iterations", type=int, default=d.iterations,
        help=f"pyramid iterations at the final level, 2x per coarser level (default {d.iterations})",
    )  # fmt: skip
    p.add_argument("--scales", type=int, default=d.scales, help="pyramid levels (default auto)")
    p.add_argument("--min-scale", type=int, default=d.min_scale, help=f"coarsest long side (default {d.min_scale})")
    p.add_argument(
        "--cap-factor", type=float, default=3.0,
        help="stop the pyramid's final level after this many x --iterations at the latest (default 3)",
    )  # fmt: skip
    p.add_argument(
        "--time-cap-factor", type=float, default=1.0,
        help="...or once the pyramid has run this many x the single-scale time (0: off; default 1,\n"
        "beyond which the ratio is > 1 and the target certainly missed)",
    )  # fmt: skip
    p.add_argument("--content", default="astronaut", help=f"skimage photo ({', '.join(CONTENT_PHOTOS)}) or path")
    p.add_argument("--style", default="mountains", help=f"bundled painting ({', '.join(STYLE_PAINTINGS)}) or path")
    p.add_argument("--content-weight", type=float, default=d.content_weight)
    p.add_argument("--style-weight", type=float, default=d.style_weight)
    p.add_argument("--tv-weight", type=float, default=d.tv_weight)
    p.add_argument(
        "--precision", choices=["fp32", "bf16"], default=d.precision,
        help="the pyramid's --precision (default fp32); single-scale always runs and is judged in fp32",
    )  # fmt: skip
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default=d.optimizer)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--weights", default=d.weights)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--json", type=Path, help="write both loss-vs-time curves and the summary here")
    p.add_argument(
        "--verify-driver", action="store_true",
        help="also run artforge's stylize_tensor with the pyramid config as configured and check that the\n"
        "lengthened run reproduces its output after the configured iterations (costs one more pyramid run)",
    )  # fmt: skip
    p.add_argument(
        "--reference", choices=["projected", "plain"], default="projected",
        help="projected (default): single-scale runs artforge's projected L-BFGS and L* is its last\n"
        "objective. plain: single-scale is plain Gatys L-BFGS (no projection, as in Gatys et al.'s and\n"
        "neural-style's code) and L* is the objective of the 8-bit image it saves; the pyramid is judged\n"
        "on its saved image too, and a projected single-scale run to the same L* is timed as a control",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true", help="128 px, levels 32/64/128, few iterations; implies --verify-driver"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.iterations, args.pyramid_iterations, args.min_scale = 128, 20, 4, 32
        args.verify_driver = True

    torch.manual_seed(args.seed)
    print_header("artforge benchmark: coarse-to-fine vs single-scale time to equal loss", machine_info(args.threads))

    base = StylizeConfig(
        size=args.size, content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        optimizer=args.optimizer, learning_rate=args.learning_rate, weights=args.weights, seed=args.seed, device="cpu",
    )  # fmt: skip
    single_cfg = dataclasses.replace(base, iterations=args.iterations, scales=1)
    pyr_cfg = dataclasses.replace(
        base, iterations=args.pyramid_iterations, scales=args.scales, min_scale=args.min_scale,
        precision=args.precision,
    )  # fmt: skip
    for c in (single_cfg, pyr_cfg):
        c.validate()
    if args.size > pyr_cfg.tile_size:
        p.error(f"--size {args.size} > tile size {pyr_cfg.tile_size}: a tiled final level has no single objective")

    content, style = content_image(args.content), style_image(args.style)
    encoder = encoder_for(args.weights, pyr_cfg.pooling, "cpu")
    levels = schedule(pyr_cfg.size, pyr_cfg.iterations, pyr_cfg.scales, pyr_cfg.min_scale)
    cap = max(levels[-1].iterations, math.ceil(args.cap_factor * args.iterations))
    w, h = resize_long(content, args.size).size

    print(f"content    : {args.content} -> {w}x{h} px    style: {args.style} (style_scale {pyr_cfg.style_scale})")
    print(
        f"objective  : {args.content_weight:g}*content + {args.style_weight:g}*style + {args.tv_weight:g}*tv"
        f"   content layers {pyr_cfg.content_layers}, style layers {pyr_cfg.style_layers}"
    )
    print(f"optimizer  : {args.optimizer} (lr {args.learning_rate or 'default'}), weights {args.weights}")
    print(f"precision  : single-scale fp32; pyramid {args.precision}"
          f"{' (judged by the fp32 objective near the threshold)' if args.precision != 'fp32' else ''}")  # fmt: skip
    print(f"single     : 1 level, {w}x{h}, {args.iterations} iterations")
    print(f"pyramid    : schedule(size={args.size}, iterations={args.pyramid_iterations}, scales={args.scales}, "
          f"min_scale={args.min_scale}); final level stops at {cap} iterations"
          f"{f' or {args.time_cap_factor:g} x single-scale time' if args.time_cap_factor else ''}")  # fmt: skip
    rows = []
    for k, lv in enumerate(levels):
        lw, lh = resize_long(content, lv.long_side).size
        n_tiles = len(tiling.windows(lh, lw, pyr_cfg.tile_size, pyr_cfg.tile_overlap))
        rows.append([k, lv.long_side, f"{lw}x{lh}", lv.iterations, n_tiles, f"{lw * lh * lv.iterations / (w * h):.1f}"])
    print(table(["level", "long side", "WxH", "iterations", "tiles", "cost (full-size iters)"], rows))
    print(flush=True)

    layers = sorted(set(pyr_cfg.content_layers) | set(pyr_cfg.style_layers))
    warm_up(encoder, content, sorted({lv.long_side for lv in levels} | {args.size}), layers)

    plain = args.reference == "plain"
    print(
        f"running single-scale ({args.iterations} iterations{', plain: no projection' if plain else ''}) ...",
        flush=True,
    )
    single, x_single = run_single(encoder, content, style, single_cfg, args.iterations, None if plain else (0.0, 1.0))
    single_s = single.level_end_s[max(single.level_end_s)]
    threshold = single.total[-1]
    print(f"  done in {single_s:.1f} s; final objective {threshold:.6g}", flush=True)
    judge: Callable[[torch.Tensor], float] | None = None
    if plain or args.precision != "fp32":  # score like the reference: fp32, on its saved image if plain
        fp32_loss = level_loss(encoder, content, style, args.size, single_cfg)[0]
        prepare = saved_image if plain else torch.Tensor.detach

        def judge(xi: torch.Tensor) -> float:
            with torch.no_grad():
                return float(fp32_loss(prepare(xi))[0])

        if plain:
            reported, threshold = threshold, judge(x_single)
            print(f"  objective of its saved 8-bit image (the new L*): {threshold:.6g}", flush=True)

    print(f"running pyramid until objective <= {threshold:.6g} at full size ...", flush=True)
    min_final = levels[-1].iterations if args.verify_driver else 0
    pyr = run_pyramid(
        encoder, content, style, pyr_cfg, threshold, cap, min_final, args.time_cap_factor * single_s, judge
    )
    control: PyramidResult | None = None
    if plain:
        print(f"control: projected single-scale until its saved image's objective <= {threshold:.6g} ...")
        control = run_pyramid(
            encoder, content, style, single_cfg, threshold, cap, 0, args.time_cap_factor * single_s, judge,
            name="projected single-scale",
        )  # fmt: skip
    print(flush=True)

    print("pyramid levels (losses at coarse levels are at their own resolution, not comparable):")
    rows = []
    for lv in levels:
        idx = [j for j, s in enumerate(pyr.run.level_side) if s == lv.long_side]
        last = pyr.run.total[idx[-1]] if idx else float("nan")
        rows.append([lv.long_side, lv.iterations, len(idx), f"{pyr.run.level_end_s[lv.long_side]:.1f}", f"{last:.6g}"])
    print(table(["long side", "configured iters", "iters run", "elapsed at end s", "last objective"], rows))
    print()

    single_min = min(single.total)
    rows = [
        ["single-scale", f"{args.iterations}", f"{single_s:.1f}", f"{threshold:.6g}", f"{single.targets_s:.1f}"],
        [
            f"pyramid, as configured ({levels[-1].iterations} final iters)",
            str(levels[-1].iterations) if pyr.configured_s is not None else "-",
            fmt_s(pyr.configured_s),
            "-" if pyr.configured_total is None else f"{pyr.configured_total:.6g}",
            "",
        ],
        [
            "pyramid, to reach single-scale final objective",
            "-" if pyr.reached_iteration is None else str(pyr.reached_iteration),
            fmt_s(pyr.reached_s),
            "-" if pyr.reached_total is None else f"{pyr.reached_total:.6g}",
            f"{pyr.run.targets_s:.1f}",
        ],
    ]
    if control is not None:
        rows.append([
            "control: projected single-scale, to the same",
            "-" if control.reached_iteration is None else str(control.reached_iteration),
            fmt_s(control.reached_s),
            "-" if control.reached_total is None else f"{control.reached_total:.6g}",
            f"{control.run.targets_s:.1f}",
        ])  # fmt: skip
    print(table(["run", "final-level iters", "wall s", "objective", "targets s (incl.)"], rows))
    print(f"(single-scale minimum objective over its {args.iterations} iterations: {single_min:.6g})")
    if plain:
        print(f"(plain single-scale: last objective {reported:.6g}, unclamped; its saved image {threshold:.6g} is L*)")
        if control is not None and control.reached_s is not None:
            print(f"(control ratio, projection alone: {control.reached_s / single_s:.3f} x single-scale time)")
    print()

    verified: bool | None = None
    if args.verify_driver:
        print("verifying the lengthened run against artforge.gatys.pyramid.stylize_tensor ...", flush=True)
        ref = stylize_tensor(encoder, content, [style], pyr_cfg, progress=False)
        assert pyr.configured_x is not None
        diff = float((ref - pyr.configured_x).abs().max())
        verified = diff <= 1e-5
        print(f"  max |stylize_tensor - lengthened run| = {diff:.3g} : {'OK' if verified else 'MISMATCH'}")
        print()

    note = ("  (reference: plain Gatys, saved images)" if plain else "") + (
        "  (--quick: tiny sizes, not meaningful)" if args.quick else ""
    )
    ratio: float | None = None
    if pyr.reached_s is None:
        final_iters = pyr.run.level_side.count(levels[-1].long_side)
        print(
            f"RESULT: pyramid did not reach {threshold:.6g} in {final_iters} final-level iterations "
            f"({pyr.run.elapsed_s[-1]:.1f} s = {pyr.run.elapsed_s[-1] / single_s:.2f} x single-scale) : FAIL{note}"
        )
    else:
        ratio = pyr.reached_s / single_s
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(
            f"RESULT: pyramid {pyr.reached_s:.1f} s (final-level iteration {pyr.reached_iteration}) / single-scale "
            f"{single_s:.1f} s = {ratio:.3f} ; target <= {TARGET:.3f} : {verdict}{note}"
        )

    if args.json:
        summary = {
            "command": sys.argv,
            "machine": dict(machine_info()),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "schedule": [asdict(lv) for lv in levels],
            "threshold": threshold,
            "single_s": single_s,
            "pyramid_reached_s": pyr.reached_s,
            "pyramid_reached_final_iteration": pyr.reached_iteration,
            "pyramid_configured_s": pyr.configured_s,
            "pyramid_configured_total": pyr.configured_total,
            "ratio": ratio,
            "reference": args.reference,
            "control_reached_s": None if control is None else control.reached_s,
            "target": TARGET,
            "driver_verified": verified,
        }
        curves = {r.name: asdict(r) for r in (single, pyr.run, *([control.run] if control else []))}
        args.json.write_text(json.dumps({"summary": summary, "curves": curves}, indent=1))
        print(f"curves written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
