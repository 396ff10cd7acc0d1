"""What the workers run: Paint (Gatys through ``api.stylize``, with previews, progress and cancel through its
callbacks), Instant (a feed-forward model through ``api.stylize_with_model``) and Generate (``api.sample``); TASKS
adds Train (training.py) and Video, walk, style mixing and projection (media.py)."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from artforge import api
from artforge.studio import media, training
from artforge.studio.runner import JobContext, Task

RESULT = "result.png"
PREVIEW = "preview.png"
PREVIEW_SECONDS = 1.0  # at most one preview file a second
PREVIEW_EVERY = 5  # iterations between preview candidates


def style_spec(ctx: JobContext, style: str) -> str:
    """A job's style: ``sample:NAME`` for a bundled painting, else the upload saved in the job's folder."""
    return style if style.startswith("sample:") else str(ctx.folder / style)


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def paint(ctx: JobContext) -> str:
    """Gatys optimisation of the job's content in its style; a preview every few iterations, stops on cancel."""
    p: dict[str, Any] = ctx.job.params
    cfg = api.StylizeConfig(
        size=int(p["size"]), iterations=int(p["iterations"]), style_weight=float(p["style_weight"]),
        preserve_color=str(p["preserve_color"]), init=str(p.get("init", "content")),
    )  # fmt: skip
    content = ctx.folder / "content.png"
    style = style_spec(ctx, str(p["style"]))
    t0 = time.perf_counter()
    last_preview = [0.0]

    def on_step(e: api.Progress) -> bool:
        spent = time.perf_counter() - t0
        eta = spent / e.step * (e.total - e.step)
        ctx.report(
            e.step / e.total,
            f"level {e.level + 1}/{e.levels} ({max(e.size)} px) · step {e.step}/{e.total} · ETA {_eta(eta)}",
        )
        return ctx.cancel.is_set()

    def on_preview(step: int, img: Image.Image) -> None:
        now = time.perf_counter()
        if now - last_preview[0] >= PREVIEW_SECONDS or step == PREVIEW_EVERY:
            api.save_image(img, ctx.folder / PREVIEW, png_level=1)
            last_preview[0] = now

    ctx.report(0.0, "starting: loading VGG")
    img = api.stylize(content, style, cfg, save_every=PREVIEW_EVERY, on_snapshot=on_preview, callback=on_step)
    ctx.check()
    params: dict[str, object] = {
        "content": str(p["content_name"]),
        "styles": [str(p["style_name"])],
        "config": cfg.to_dict(),
    }
    api.save_image(img, ctx.folder / RESULT, params)
    return RESULT


def instant(ctx: JobContext) -> str:
    """A shipped or trained feed-forward model on the job's content (AdaIN: with its style and alpha); a job of
    several photos (from a zip) gets a zip of results, named after the zip's entries."""
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"running {p['model']}")
    styles = [style_spec(ctx, str(p["style"]))] if p.get("style") else []
    if "inputs" in p:
        return _instant_zip(ctx, p, styles)
    api.stylize_with_model(
        str(ctx.folder / "content.png"), ctx.folder / RESULT, str(p.get("model_path", p["model"])), styles=styles,
        size=int(p["size"]), alpha=float(p.get("alpha", 1.0)), progress=False,
    )  # fmt: skip
    ctx.check()
    return RESULT


def _instant_zip(ctx: JobContext, p: dict[str, Any], styles: list[str]) -> str:
    files = [str(ctx.folder / f"in-{i:03d}.png") for i in range(len(p["inputs"]))]
    written = api.stylize_with_model(
        files, str(ctx.folder / "results") + os.sep, str(p.get("model_path", p["model"])), styles=styles,
        size=int(p["size"]),
        alpha=float(p.get("alpha", 1.0)), progress=False,
    )  # fmt: skip
    ctx.check()
    seen: set[str] = set()
    tmp = ctx.folder / "results.zip.tmp"
    with zipfile.ZipFile(tmp, "w") as z:  # written whole, then renamed: a reader never sees half a zip
        for entry, path in zip(p["inputs"], written, strict=True):
            stem, n = Path(str(entry)).stem, 1
            name = f"{stem}.png"
            while name in seen:
                n += 1
                name = f"{stem}-{n}.png"
            seen.add(name)
            z.write(path, name)
    os.replace(tmp, ctx.folder / "results.zip")
    shutil.copyfile(written[0], ctx.folder / PREVIEW)
    return "results.zip"


def generate(ctx: JobContext) -> str:
    """A grid of ``n`` samples of a trained generator run (seed; truncation for StyleGAN2; class if conditional)."""
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"sampling {p['run_name']}")
    options: dict[str, Any] = {"n": int(p["n"]), "seed": int(p["seed"]), "trunc": float(p["truncation"])}
    if p.get("class_index") is not None:
        options["class_index"] = int(p["class_index"])
    api.sample(str(p["run"]), grid=str(ctx.folder / RESULT), **options)
    ctx.check()
    return RESULT


TASKS: dict[str, Task] = {
    "paint": paint, "instant": instant, "generate": generate, "train": training.train, "video": media.video,
    "walk": media.walk, "mix": media.mix, "project": media.project,
}  # fmt: skip
