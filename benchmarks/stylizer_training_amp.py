"""Feed-forward styliser training: seconds per step with ``--amp none`` (fp32) against ``--amp bf16`` (the loss VGG
and the AdaIN decoder under bf16 autocast; what ``--amp auto`` picks where bf16 is native), in one process.

Both trainers are built by ``artforge.train.build.build_stylizer`` from the same config on the same real photos
(scikit-image's, cropped as a run crops them) and take real ``step()``s: the network forward, the VGG losses, the
backward pass and Adam. The two are timed in alternating rounds (the median of each), after one warm-up step each.

    python benchmarks/stylizer_training_amp.py                       # johnson, half width, 128 px, batch 4
    python benchmarks/stylizer_training_amp.py --model adain --width 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import CONTENT_PHOTOS, machine_info, print_header, table


def photos(dest: Path) -> Path:
    import skimage.data
    from PIL import Image

    for name in (*CONTENT_PHOTOS, "rocket", "retina", "immunohistochemistry"):  # six photos
        Image.fromarray(getattr(skimage.data, name)()[..., :3]).save(dest / f"{name}.png")
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="johnson", choices=["johnson", "gan-style", "adain"])
    p.add_argument("--width", type=int, default=16, help="network width (johnson 16 = half the paper's)")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    p.add_argument("--steps", type=int, default=4, help="steps per round (4)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    print_header("styliser training: fp32 against bf16 autocast", machine_info(args.threads))

    import torch

    from artforge.core.device import native_bf16
    from artforge.families.config import TrainConfig
    from artforge.train.build import build_stylizer
    from artforge.train.processes import Processes

    procs = Processes(0, 1, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        base = {
            "model": args.model, "data": str(photos(Path(tmp))), "resolution": args.resolution, "batch": args.batch,
            "width": args.width, "style": ["sample:mountains", "sample:swamp"][: 2 if args.model == "adain" else 1],
        }  # fmt: skip
        configs = {amp: TrainConfig.from_dict({**base, "amp": amp}) for amp in ("none", "bf16")}
        trainers = {amp: build_stylizer(cfg, procs)[0] for amp, cfg in configs.items()}
        times: dict[str, list[float]] = {amp: [] for amp in trainers}
        for t in trainers.values():
            t.step()  # warm-up
        for _ in range(args.rounds):
            for amp, t in trainers.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    t.step()
                times[amp].append((time.perf_counter() - t0) / args.steps)
    med = {amp: statistics.median(v) for amp, v in times.items()}
    print(table(
        ["--amp", "s/step (median)", "rounds"],
        [[amp, f"{m:.3f}", " ".join(f"{x:.3f}" for x in times[amp])] for amp, m in med.items()],
    ))  # fmt: skip
    print(f"\nbf16 speed-up: {med['none'] / med['bf16']:.2f}x  (native bf16 here: {native_bf16('cpu')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
