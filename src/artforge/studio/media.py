"""Video and the Generate extras: a short clip through a feed-forward model (``artforge video``; heavy lane), and for
a trained generator run a latent-walk video, the StyleGAN2 style-mixing grid (light lane) and the projection of an
uploaded photo (``artforge project``; heavy lane)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artforge import api
from artforge.studio.checks import choice, model_path, number
from artforge.studio.jobs import Job
from artforge.studio.runner import Cancelled, JobContext
from artforge.studio.uploads import check_image

if TYPE_CHECKING:
    from artforge.studio.service import Studio

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
MAX_VIDEO_FRAMES = 600  # a short clip: 24 s at 25 fps
MAX_VIDEO_SIDE = 1024  # px, the output's long side
BANDS = ("coarse", "middle", "fine")
PREVIEW = "preview.png"
REPORT_S = 0.25  # progress of a video job: at most this often, s


# ---------------------------------------------------------------- Video


def submit_video(
    studio: Studio, owner: str, video: str | None, model: str, style: str | None = None,
    style_upload: str | None = None, alpha: float = 1.0, size: float = 256, temporal: bool = True,
) -> Job:  # fmt: skip
    """A Video job in the heavy lane: the clip is checked (bytes, then decoded: a video stream with frames, at most
    MAX_VIDEO_FRAMES of them) before it is queued."""
    rows = {r["name"]: r for r in studio.models(owner)}
    model = choice(model, tuple(rows), "model")
    if not video:
        raise api.ArtforgeError("video: upload a clip first")
    src = Path(str(video))
    if src.stat().st_size > studio.opts.max_upload_bytes:
        mb, limit = src.stat().st_size / 2**20, studio.opts.max_upload_bytes / 2**20
        raise api.ArtforgeError(f"video {src.name}: {mb:.1f} MB is over the upload limit of {limit:.0f} MB")
    suffix = src.suffix.lower() if src.suffix.lower() in VIDEO_SUFFIXES else ".mp4"
    try:
        info = api.probe_video(src)
    except api.ArtforgeError as e:
        raise api.ArtforgeError(f"video {src.name}: " + str(e).replace(str(src), "").lstrip(": ")) from None
    except Exception:  # noqa: BLE001 - whatever FFmpeg makes of a file that is not a video
        raise api.ArtforgeError(f"video {src.name}: not a video file FFmpeg can read") from None
    if info.width * info.height > api.MAX_PIXELS:
        raise api.ArtforgeError(f"video {src.name}: {info.width}x{info.height} frames are over artforge's pixel limit")
    if info.frames is not None and info.frames > MAX_VIDEO_FRAMES:
        raise api.ArtforgeError(f"video {src.name}: {info.frames} frames; the studio takes clips of at most "
                                f"{MAX_VIDEO_FRAMES} (artforge video has no limit)")  # fmt: skip
    spec, style_name, s_img = ("", "", None)
    if rows[model]["kind"] == "adain":
        spec, style_name, s_img = studio.pick_style(style or next(iter(studio.paintings)), style_upload)
    params = {
        "content_name": src.name, "model": model, "style": spec, "style_name": style_name, "input": f"input{suffix}",
        "alpha": number(alpha, 0, 1, "alpha"), "size": int(number(size, 16, MAX_VIDEO_SIDE, "size")),
        "temporal": bool(temporal), "frames": info.frames, **model_path(rows[model]),
    }  # fmt: skip

    def prepare(folder: Path) -> None:
        shutil.copyfile(src, folder / str(params["input"]))
        if s_img is not None:
            api.save_image(s_img, folder / "style.png", png_level=1)

    return studio.runner.submit(owner, "video", params, prepare)


class Counting:
    """A styliser that counts its frames for the progress bar, stops when its job is cancelled, and refuses a clip
    longer than MAX_VIDEO_FRAMES (a container may not say how many frames it holds)."""

    def __init__(self, inner: Any, ctx: JobContext, total: int | None) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_total", total)
        object.__setattr__(self, "_n", 0)
        object.__setattr__(self, "_reported", 0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:  # the video pipeline swaps the AdaIN encoder in and out
        setattr(self._inner, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._ctx.check()
        n = self._n + 1
        if n > MAX_VIDEO_FRAMES:
            raise api.ArtforgeError(f"the clip has more than {MAX_VIDEO_FRAMES} frames; the studio takes short clips")
        out = self._inner(*args, **kwargs)
        object.__setattr__(self, "_n", n)
        total, now = self._total, time.monotonic()
        if n == total or now - self._reported >= REPORT_S:  # a database write per frame would slow short clips
            self._ctx.report(min(n / total, 0.99) if total else 0.0, f"frame {n}" + (f"/{total}" if total else ""))
            object.__setattr__(self, "_reported", now)
        return out


def first_frame(video: Path, dest: Path) -> None:
    """The video's first frame as a PNG (the gallery's picture of it)."""
    import av  # noqa: PLC0415 - lazy: the [video] extra

    with av.open(str(video)) as f:
        frame = next(f.decode(video=0))
        frame.to_image().save(dest)


def video(ctx: JobContext) -> str:
    """The clip through the job's model, frame by frame with temporal blending; ``result.mp4`` when all is done."""
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"loading {p['model']}")
    net = Counting(api.load_stylizer(str(p.get("model_path", p["model"]))), ctx, p.get("frames"))
    style = None
    if p.get("style"):
        style = p["style"] if str(p["style"]).startswith("sample:") else str(ctx.folder / str(p["style"]))
    options: dict[str, Any] = {"style": style, "alpha": float(p["alpha"]), "size": int(p["size"]), "progress": False}
    if not p["temporal"]:
        options["blend"] = 0.0
    api.stylize_video(ctx.folder / str(p["input"]), ctx.folder / "result.mp4", net, **options)
    first_frame(ctx.folder / "result.mp4", ctx.folder / PREVIEW)
    return "result.mp4"


# ---------------------------------------------------------------- Generate extras


def _run(studio: Studio, owner: str, run: str, stylegan2: bool = False) -> dict[str, Any]:
    rows = {r["name"]: r for r in studio.runs(owner)}
    if not rows:
        raise api.ArtforgeError(f"no trained generator runs in {studio.opts.runs}: train one (Train page) first")
    row = rows[choice(run, tuple(rows), "run")]
    if stylegan2 and row["model"] != "stylegan2":
        raise api.ArtforgeError(f"{row['name']} is a {row['model']} run; this is for stylegan2 runs")
    return row


def submit_walk(
    studio: Studio, owner: str, run: str, seed: float = 0, n: float = 4, frames: float = 8, truncation: float = 1.0
) -> Job:
    """A latent-walk video of any generator run: ``n`` latent points, ``frames`` frames from one to the next."""
    row = _run(studio, owner, run)
    psi = number(truncation, 0, 1, "truncation")
    if row["model"] != "stylegan2" and psi != 1.0:
        raise api.ArtforgeError(f"truncation is for stylegan2 runs; {row['name']} is {row['model']}: use 1")
    params = {
        "run": row["path"], "run_name": row["name"], "model": row["model"], "seed": int(number(seed, 0, 2**31, "seed")),
        "n": int(number(n, 2, 16, "n (points)")), "frames": int(number(frames, 1, 60, "frames")), "truncation": psi,
    }  # fmt: skip
    return studio.runner.submit(owner, "walk", params, lambda d: None)


def walk(ctx: JobContext) -> str:
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"walking through {p['run_name']}")
    api.sample(
        str(p["run"]), n=int(p["n"]), seed=int(p["seed"]), interpolate=True, frames=int(p["frames"]),
        trunc=float(p["truncation"]), video=str(ctx.folder / "walk.mp4"), fps=12,
    )  # fmt: skip
    first_frame(ctx.folder / "walk.mp4", ctx.folder / PREVIEW)
    return "walk.mp4"


def submit_mix(
    studio: Studio, owner: str, run: str, seed: float = 0, n: float = 4, band: str = "coarse", truncation: float = 1.0
) -> Job:
    """The style-mixing grid of a stylegan2 run: ``n`` sources x ``n`` destinations, crossing over at ``band``."""
    row = _run(studio, owner, run, stylegan2=True)
    params = {
        "run": row["path"], "run_name": row["name"], "model": row["model"], "seed": int(number(seed, 0, 2**31, "seed")),
        "n": int(number(n, 1, 8, "n")), "band": choice(band, BANDS, "band"),
        "truncation": number(truncation, 0, 1, "truncation"),
    }  # fmt: skip
    return studio.runner.submit(owner, "mix", params, lambda d: None)


def mix(ctx: JobContext) -> str:
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"style mixing ({p['band']}) in {p['run_name']}")
    api.sample(
        str(p["run"]), n=int(p["n"]), seed=int(p["seed"]), style_mix=str(p["band"]), trunc=float(p["truncation"]),
        grid=str(ctx.folder / "mix.png"),
    )  # fmt: skip
    return "mix.png"


def submit_project(
    studio: Studio, owner: str, run: str, photo: str | None, steps: float = 200, w_plus: bool = False, seed: float = 0
) -> Job:
    """Projection of an uploaded photo into a stylegan2 run (heavy lane): the w that best reproduces it."""
    row = _run(studio, owner, run, stylegan2=True)
    img = check_image(photo, "photo", studio.opts.max_upload_bytes)
    params = {
        "run": row["path"], "run_name": row["name"], "model": row["model"], "content_name": Path(str(photo)).name,
        "steps": int(number(steps, 1, 5000, "steps")), "w_plus": bool(w_plus),
        "seed": int(number(seed, 0, 2**31, "seed")),
    }  # fmt: skip

    def prepare(folder: Path) -> None:
        api.save_image(img, folder / "content.png", png_level=1)

    return studio.runner.submit(owner, "project", params, prepare)


def project(ctx: JobContext) -> str:
    p: dict[str, Any] = ctx.job.params
    ctx.report(0.0, f"projecting into {p['run_name']} ({p['steps']} steps)")
    out = ctx.folder / "projection"
    reported = [0.0]

    def on_step(done: int, steps: int, best: float) -> bool:
        ctx.give_way()
        if done == steps or time.monotonic() - reported[0] >= REPORT_S:
            ctx.report(done / steps, f"step {done}/{steps} · best distance {best:.4g}")
            reported[0] = time.monotonic()
        return ctx.cancel.is_set()

    r = api.project(
        str(p["run"]), ctx.folder / "content.png", out, steps=int(p["steps"]), w_plus=bool(p["w_plus"]),
        seed=int(p["seed"]), progress=False, callback=on_step,
    )  # fmt: skip
    for name in ("projected.png", "target.png", "w.npz"):
        if (out / name).is_file():
            shutil.copyfile(out / name, ctx.folder / name)
    if r["interrupted"]:
        raise Cancelled(f"the best projection after {r['steps_done']} steps is kept in the job's folder")
    ctx.report(1.0, f"distance {float(r['distance']):.4g} (from {float(r['start_distance']):.4g})")
    return "projected.png"
