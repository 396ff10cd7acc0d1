"""Quality at equal wall-clock time: artforge's default Gatys run against plain single-scale L-BFGS.

For each (content, style) pair: run ``artforge.api.stylize`` with its defaults (coarse-to-fine
pyramid) and time it (T). Then run plain single-scale L-BFGS Gatys at full size, from the content
image, on the same VGG and the same loss, until T seconds have passed; plain means unprojected, as
in Gatys et al.'s and neural-style's code (``--projected-single`` also runs artforge's projected
single-scale, for reference). Both final images are scored
with one full-resolution ``GatysLoss`` (content and Gram style terms). Target: artforge's style loss
is lower at no worse content loss. Also writes both images side by side for looking at.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from _common import content_image, machine_info, print_header, style_image, table
from artforge import api
from artforge.data.images import to_image
from artforge.gatys.config import StylizeConfig
from artforge.gatys.pyramid import Interrupted, LevelProblem, Progress, build_level, stylize_tensor
from artforge.nn.encoders import VGGEncoder


class Deadline:
    """A ``stylize_tensor`` callback: counts iterations and stops the run once ``budget`` s have passed."""

    def __init__(self, budget: float) -> None:
        self.start, self.budget, self.iterations = time.perf_counter(), budget, 0

    def __call__(self, _p: Progress) -> bool:
        self.iterations += 1
        return time.perf_counter() - self.start >= self.budget


def score(problem_loss: torch.nn.Module, image: Image.Image) -> tuple[float, float]:
    from artforge.data.images import to_tensor

    with torch.no_grad():
        _, parts = problem_loss(to_tensor(image))
    return float(parts["content"]), float(parts["style"])


def single_scale(
    encoder: VGGEncoder,
    content: Image.Image,
    style: Image.Image,
    cfg: StylizeConfig,
    budget: float,
    bounds: tuple[float, float] | None,
) -> tuple[Image.Image, int, LevelProblem]:
    """Single-scale L-BFGS at full size from the content image until ``budget`` s have passed (the
    clock starts before the targets are built); ``bounds=None`` is the plain, unprojected run.
    Also returns the level's problem, whose loss judges the images."""
    single_cfg = StylizeConfig.from_dict({**cfg.to_dict(), "scales": 1, "iterations": 100_000, "optimizer": "lbfgs"})
    deadline = Deadline(budget)
    try:
        x = stylize_tensor(encoder, content, [style], single_cfg, callback=deadline, progress=False, bounds=bounds)
    except Interrupted as stopped:
        x = stopped.partial
    problem = build_level(encoder, content, [style], single_cfg, single_cfg.size)
    return to_image(x), deadline.iterations, problem


def slug(name: str) -> str:
    """A file-name-safe short form of a sample name or an image path."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(Path(name).with_suffix(""))).strip("-")[-48:]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", default="astronaut:mountains,chelsea:swamp", help="content:style,...")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--outdir", default="benchmarks/out")
    p.add_argument(
        "--projected-single", action="store_true",
        help="also run single-scale with artforge's projection onto [0, 1], for reference",
    )  # fmt: skip
    p.add_argument("--quick", action="store_true", help="64 px, 5 iterations: a smoke test")
    args = p.parse_args()
    print_header("quality at equal wall-clock: artforge default vs single-scale L-BFGS", machine_info())
    cfg = StylizeConfig(
        size=64 if args.quick else args.size, iterations=5 if args.quick else StylizeConfig().iterations
    )
    encoder = api.encoder_for(cfg.weights, cfg.pooling, "cpu")
    Path(args.outdir).mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, float, int, float, float, float, float, bool]] = []
    extra: list[list[object]] = []
    for pair in args.pairs.split(","):
        c_name, s_name = pair.split(":")
        content, style = content_image(c_name), style_image(s_name)
        t0 = time.perf_counter()
        ours = api.stylize(content, style, cfg)
        budget = time.perf_counter() - t0

        plain, iters, problem = single_scale(encoder, content, style, cfg, budget, None)
        judge = problem.loss()
        (c_ours, s_ours), (c_plain, s_plain) = score(judge, ours), score(judge, plain)
        ok = s_ours < s_plain and c_ours <= c_plain
        if args.projected_single:
            projected, p_iters, _ = single_scale(encoder, content, style, cfg, budget, (0.0, 1.0))
            c_proj, s_proj = score(judge, projected)
            extra.append([pair, p_iters, f"{c_proj:.4f}", f"{s_proj:.4f}", f"{c_ours:.4f}", f"{s_ours:.4f}"])
            print(f"  single-scale projected onto [0, 1] ({p_iters} it): content {c_proj:.4f} style {s_proj:.4f}")
        rows.append((pair, budget, iters, c_ours, s_ours, c_plain, s_plain, ok))
        sheet = Image.new("RGB", (ours.width * 2, ours.height), "white")
        sheet.paste(ours, (0, 0))
        sheet.paste(plain, (ours.width, 0))
        print(f"{pair}: {budget:.0f} s; artforge content {c_ours:.4f} style {s_ours:.4f} | "
              f"single-scale ({iters} it) content {c_plain:.4f} style {s_plain:.4f}", flush=True)  # fmt: skip
        sheet.save(Path(args.outdir) / f"equal-time-{slug(c_name)}-{slug(s_name)}.png")

    print()
    headers = ["pair", "seconds", "plain its", "ours content", "ours style", "plain content", "plain style", "verdict"]
    body = [
        [pair, f"{t:.0f}", it, f"{c1:.4f}", f"{s1:.4f}", f"{c2:.4f}", f"{s2:.4f}",
         "better" if ok else ("lower style, worse content" if s1 < s2 else "worse style")]
        for pair, t, it, c1, s1, c2, s2, ok in rows
    ]  # fmt: skip
    print(table(headers, body))
    wins = sum(r[-1] for r in rows)
    if extra:
        print("\nFor reference, not in the verdict: artforge's own single-scale run (projected) at the same time")
        print(table(["pair", "its", "projected content", "projected style", "ours content", "ours style"], extra))
    print(f"\nRESULT: artforge better (lower style, no worse content) on {wins}/{len(rows)} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
