"""Distillation targets for a per-style network (``artforge train --targets``): each photo's centre square at
``--size`` px, and beside it artforge's default Gatys result for it (``api.stylize``, the pyramid, beta = 5).

    .venv/bin/python scripts/gatys_targets.py data/photos data/pairs --style sample:mountains [--size 256]

writes DEST/photos/NAME.png and DEST/targets/NAME.png (each target written atomically, so an interrupted run
resumes where it stopped). Then:

    artforge train --model johnson --data DEST/photos --targets DEST/targets --style sample:mountains ...

At 256 px a photo takes about 65 s on one core of a 2-core VM.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from PIL import Image

from artforge import api


def centre_square(path: Path, size: int) -> Image.Image:
    img = api.load_image(path, "photo")  # upright RGB, with artforge's checks
    s = min(img.size)
    left, top = (img.width - s) // 2, (img.height - s) // 2
    return img.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("photos", type=Path, help="folder of photographs")
    p.add_argument("dest", type=Path, help="writes DEST/photos and DEST/targets")
    p.add_argument("--style", default="sample:mountains", help="the style image (sample:mountains)")
    p.add_argument("--size", type=int, default=256, help="side of the square photos and targets (256)")
    args = p.parse_args()
    (args.dest / "photos").mkdir(parents=True, exist_ok=True)
    (args.dest / "targets").mkdir(parents=True, exist_ok=True)
    for f in sorted(q for q in args.photos.iterdir() if q.is_file()):
        out = args.dest / "targets" / f"{f.stem}.png"
        if out.exists():
            continue
        photo = centre_square(f, args.size)
        photo.save(args.dest / "photos" / f"{f.stem}.png")
        t0 = time.perf_counter()
        result = api.stylize(photo, args.style, size=args.size)
        tmp = out.with_suffix(".tmp.png")
        result.save(tmp)
        tmp.rename(out)
        print(f"{f.stem}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
