"""What the workers run: Paint (Gatys through ``api.stylize``, with previews, progress and cancel through its
callbacks), Instant (a feed-forward model through ``api.stylize_with_model``) and Generate (``api.sample``); TASKS
adds Train (training.py) and Video, walk, style mixing and projection (media.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from artforge import api
from artforge.studio import media, training
from artforge.studio.runner import Batching, JobContext, Task

RESULT = "result.png"
PREVIEW = "preview.png"
PREVIEW_SECONDS = 1.0  # at most one preview file a second
PREVIEW_EVERY = 5  # iterations between preview candidates
MODELS_KEPT = 2  # feed-forward models kept loaded between Instant jobs
_models: OrderedDict[tuple[str, float], tuple[Any, threading.Lock]] = OrderedDict()
_models_lock = threading.Lock()


def style_spec(ctx: JobContext, style: str) -> str:
    """A job's style: ``sample:NAME`` for a bundled painting, else an upload saved in the job's folder."""
    return style if style.startswith("sample:") else str(ctx.folder / style)


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def paint(ctx: JobContext) -> str:
    """Gatys optimisation of the job's content in its style; a preview every few iterations, stops on cancel."""
    p: dict[str, Any] = ctx.job.params
    cfg = api.StylizeConfig(
        size=int(p["size"]), iterations=int(p["iterations"]), style_weight=float(p["style_weight"]),
        preserve_color=str(p["preserve_color"]), init=str(p.get("init", "content")), style_blend=p.get("blend"),
    )  # fmt: skip
    content = ctx.folder / "content.png"
    styles = [style_spec(ctx, str(s)) for s in p.get("styles", [p["style"]])]
    masks = [str(ctx.folder / str(m)) for m in p.get("masks", [])]
    t0 = time.perf_counter()
    last_preview = [0.0]

    def on_step(e: api.Progress) -> bool:
        ctx.give_way()  # Instant jobs first: they take a second, this takes minutes
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
    img = api.stylize(
        content, styles, cfg, masks=masks, save_every=PREVIEW_EVERY, on_snapshot=on_preview, callback=on_step
    )
    ctx.check()
    params: dict[str, object] = {
        "content": str(p["content_name"]),
        "styles": [str(n) for n in p.get("style_names", [p["style_name"]])],
        "config": cfg.to_dict(),
    }
    api.save_image(img, ctx.folder / RESULT, params)
    return RESULT


def _stylizer(model: str) -> tuple[Any, threading.Lock]:
    """A feed-forward model, loaded once and kept (the MODELS_KEPT last used), with the lock that one job at a time
    holds while it runs it (an AdaIN run swaps its encoder for a memo of the style)."""
    path = Path(model)
    key = (model, path.stat().st_mtime if path.is_file() else 0.0)
    with _models_lock:
        if key not in _models:
            _models[key] = (api.load_stylizer(model), threading.Lock())
            while len(_models) > MODELS_KEPT:
                _models.popitem(last=False)
        _models.move_to_end(key)
        return _models[key]


def instant(ctx: JobContext) -> str:
    """A shipped or trained feed-forward model on the job's content (AdaIN: with its style and alpha); a job of
    several photos (from a zip) gets a zip of results, named after the zip's entries."""
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"running {p['model']}")
    styles = [style_spec(ctx, str(p["style"]))] if p.get("style") else []
    if "inputs" in p:
        return _instant_zip(ctx, p, styles)
    model, lock = _stylizer(str(p.get("model_path", p["model"])))
    with lock:
        api.stylize_with_model(
            str(ctx.folder / "content.png"), ctx.folder / RESULT, model, styles=styles, size=int(p["size"]),
            alpha=float(p.get("alpha", 1.0)), precision=str(p.get("precision", "fp32")), progress=False,
        )  # fmt: skip
    ctx.check()
    return RESULT


def instant_key(p: Mapping[str, Any]) -> Hashable | None:
    """Instant jobs that can share a batch: one model, size, alpha and precision (a zip job runs alone)."""
    if "inputs" in p:
        return None
    return (str(p.get("model_path", p["model"])), int(p["size"]), float(p.get("alpha", 1.0)), p.get("precision"))


def _style_key(ctx: JobContext) -> tuple[str, ...]:
    """Jobs with one style share a forward pass: a bundled painting by name; an upload by its bytes, and only
    among one owner's jobs (a result's parameters name its style file, which must be the owner's own)."""
    style = str(ctx.job.params.get("style", ""))
    if not style or style.startswith("sample:"):
        return (style,)
    return (ctx.job.owner, hashlib.sha256((ctx.folder / style).read_bytes()).hexdigest())


def instant_batch(ctxs: list[JobContext]) -> list[str | BaseException]:
    """Instant jobs that waited together (one :func:`instant_key`): the model loaded once, each style encoded once,
    and the photos of one size and style in one forward pass; each result is written to its own job's folder."""
    p = ctxs[0].job.params
    model, lock = _stylizer(str(p.get("model_path", p["model"])))
    groups: dict[tuple[str, ...], list[JobContext]] = {}
    for ctx in ctxs:
        ctx.report(0.0, f"running {p['model']} (a batch of {len(ctxs)})")
        groups.setdefault(_style_key(ctx), []).append(ctx)
    for group in groups.values():
        group.sort(key=lambda c: _size_of(c.folder / "content.png"))  # one size: one forward pass
        style = str(group[0].job.params.get("style", ""))
        with lock:
            api.stylize_with_model(
                [str(c.folder / "content.png") for c in group], [c.folder / RESULT for c in group], model,
                styles=[style_spec(group[0], style)] if style else [], size=int(p["size"]),
                alpha=float(p.get("alpha", 1.0)), precision=str(p.get("precision", "fp32")), batch=len(group),
                progress=False,
            )  # fmt: skip
    return [_checked(ctx) for ctx in ctxs]


def _size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:  # the header only
        return (int(im.size[0]), int(im.size[1]))


def _checked(ctx: JobContext) -> str | BaseException:
    try:
        ctx.check()
    except Exception as e:  # noqa: BLE001 - the job's outcome: Cancelled
        return e
    return RESULT


def _instant_zip(ctx: JobContext, p: dict[str, Any], styles: list[str]) -> str:
    files = [str(ctx.folder / f"in-{i:03d}.png") for i in range(len(p["inputs"]))]
    written = api.stylize_with_model(
        files, str(ctx.folder / "results") + os.sep, str(p.get("model_path", p["model"])), styles=styles,
        size=int(p["size"]), alpha=float(p.get("alpha", 1.0)), precision=str(p.get("precision", "fp32")),
        progress=False,
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


BATCHING = {"instant": Batching(instant_key, instant_batch)}
TASKS: dict[str, Task] = {
    "paint": paint, "instant": instant, "generate": generate, "train": training.train, "video": media.video,
    "walk": media.walk, "mix": media.mix, "project": media.project,
}  # fmt: skip
