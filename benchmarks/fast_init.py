"""Gatys from a fast result: ``--init fast[:MODEL]`` against today's default run, at equal loss.

Target (issue 21.3): at 512 px, reach the (content, style) loss of the default run (pyramid from the photo), or
dominate it, in <= 1/3 of its wall-clock time. For each content:style pair, in one process:

1. the default run, ``api.stylize(content, style)``, timed as a whole call (T), scored by one full-size GatysLoss;
2. the shipped fast schedule, ``api.stylize(..., init="fast[:MODEL]")`` (the feed-forward picture, then the two
   finest levels at half the iterations), timed and scored the same way;
3. time to reach: the same first guess and first level, then the final level for as long as it takes (at most T)
   until its iterate's (content, style) loss is at or below the default's on both. The losses are the ones the
   optimiser computes on the full-size image anyway, the same objective as the scorer.

Writes photo | default | fast side by side per pair (``--outdir``). ``--quick``: 128 px, one pair, a smoke test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from PIL import Image

from _common import content_image, machine_info, print_header, style_image, table
from artforge import api
from artforge.data.images import resize_long, to_tensor
from artforge.feedforward.first_guess import DEFAULT_MODEL, first_guess, load_for_init
from artforge.gatys.config import StylizeConfig
from artforge.gatys.progress import Interrupted, Progress
from artforge.gatys.pyramid import Level, build_level, refine_schedule, stylize_tensor
from artforge.nn.weights import encoder_for

TARGET = 1 / 3
HELD_OUT = "/tmp/plasma/usr/share/wallpapers/Autumn/contents/images/1280x800.jpg"


def score(loss: torch.nn.Module, image: Image.Image) -> tuple[float, float]:
    with torch.no_grad():
        _, parts = loss(to_tensor(image))
    return float(parts["content"]), float(parts["style"])


class Reach:
    """Stops the final level once its iterate is at or below ``goal`` on both losses, or after ``budget`` s."""

    def __init__(self, goal: tuple[float, float], budget: float, start: float) -> None:
        self.goal, self.budget, self.start = goal, budget, start
        self.reached: float | None = None
        self.iterations = 0

    def __call__(self, p: Progress) -> bool:
        elapsed = time.perf_counter() - self.start
        if p.level == p.levels - 1:
            self.iterations = p.iteration
            if p.losses["content"] <= self.goal[0] and p.losses["style"] <= self.goal[1]:
                self.reached = elapsed
                return True
        return elapsed >= self.budget


def time_to_reach(
    content: Image.Image,
    style: Image.Image,
    style_spec: str,
    cfg: StylizeConfig,
    model: str,
    goal: tuple[float, float],
    budget: float,
) -> tuple[float | None, int]:
    """Seconds (first guess included) until the fast run's final-level iterate reaches ``goal``; None if not in
    ``budget``."""
    start = time.perf_counter()
    net = load_for_init(model, [style_spec], torch.device("cpu"))
    init = first_guess(net, content, [style], cfg.size)
    levels = refine_schedule(cfg.size, cfg.iterations, cfg.scales, cfg.min_scale)
    levels = [*levels[:-1], Level(levels[-1].long_side, 100_000)]
    reach = Reach(goal, budget, start)
    encoder = encoder_for(cfg.weights, cfg.pooling, "cpu")
    try:
        stylize_tensor(encoder, content, [style], cfg, init=init, levels=levels, callback=reach, progress=False)
    except Interrupted:
        pass
    return reach.reached, reach.iterations


def side_by_side(images: list[Image.Image], path: Path) -> None:
    h = min(i.height for i in images)
    row = [i.resize((round(i.width * h / i.height), h)) for i in images]
    out = Image.new("RGB", (sum(i.width for i in row) + 8 * (len(row) - 1), h), "white")
    x = 0
    for i in row:
        out.paste(i, (x, 0))
        x += i.width + 8
    out.save(path, quality=90)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default=f"astronaut:mountains,chelsea:swamp,{HELD_OUT}:altar", help="content:style,...")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"the fast model ({DEFAULT_MODEL})")
    p.add_argument("--outdir", default="benchmarks/out")
    p.add_argument("--quick", action="store_true", help="128 px, the first pair: a smoke test")
    args = p.parse_args()
    pairs = [tuple(s.rsplit(":", 1)) for s in args.pairs.split(",")]
    if args.quick:
        args.size, pairs = 128, pairs[:1]
    print_header("Gatys from a fast result vs the default run", machine_info())
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    rows, ratios = [], []
    for c_name, s_name in pairs:
        content, style = content_image(c_name), style_image(s_name)
        style_spec = f"sample:{s_name}" if "/" not in s_name and "." not in s_name else s_name
        cfg = StylizeConfig(size=args.size, device="cpu")
        loss = build_level(encoder_for(cfg.weights, cfg.pooling, "cpu"), content, [style], cfg, cfg.size).loss()

        t0 = time.perf_counter()
        default = api.stylize(content, style, cfg)
        t_default = time.perf_counter() - t0
        goal = score(loss, default)

        t0 = time.perf_counter()
        fast = api.stylize(content, style_spec, cfg, init=f"fast:{args.model}")
        t_fast = time.perf_counter() - t0
        fast_loss = score(loss, fast)

        reached, its = time_to_reach(content, style, style_spec, cfg, args.model, goal, t_default)
        ratio = reached / t_default if reached is not None else float("inf")
        ratios.append(ratio)
        name = f"{Path(c_name).parent.parent.parent.name or c_name}-{Path(s_name).stem}"
        side_by_side([resize_long(content, args.size), default, fast], out / f"fast-init-{name}.jpg")
        rows.append([
            f"{c_name[-40:]} : {s_name[-30:]}", f"{t_default:.1f}", f"{goal[0]:.4f}", f"{goal[1]:.4f}",
            f"{t_fast:.1f} ({t_fast / t_default:.2f}x)", f"{fast_loss[0]:.4f}", f"{fast_loss[1]:.4f}",
            "not in T" if reached is None else f"{reached:.1f} s = {ratio:.2f}x ({its} its)",
        ])  # fmt: skip
        print(table(["pair", "T default s", "content", "style", "fast s", "content", "style", "reach"], rows[-1:]))
    print()
    print(table(["pair", "T default s", "content", "style", "fast s", "content", "style", "reach"], rows))
    met = all(r <= TARGET for r in ratios)
    worst = max(ratios)
    print(f"RESULT: time to reach the default's losses / its time, worst pair {worst:.2f} (target <= {TARGET:.2f}): "
          f"{'MET' if met else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
