"""Train jobs: a generator (dcgan, vae, gan, stylegan2) or a styliser (johnson, adain) trained on a data set or an
uploaded zip, in the heavy lane, by ``artforge.api.train`` in a process of its own (train_worker.py) so that Stop is
the CLI's Ctrl-C (a checkpoint at the next step) and Resume is ``artforge train --resume RUN``. The run dir lives in
the job's folder: its ``stats.jsonl`` gives the loss curves, img/s and the ETA, its ``samples-*.png`` the grids."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artforge import api
from artforge.studio.checks import choice, number
from artforge.studio.jobs import Job
from artforge.studio.runner import Cancelled, JobContext
from artforge.studio.train_worker import REQUEST, RESULT
from artforge.studio.uploads import MAX_TRAIN_ZIP_FILES, check_image, read_zip

if TYPE_CHECKING:
    from artforge.studio.service import Studio

GENERATORS = ("dcgan", "vae", "gan", "stylegan2")
STYLISERS = ("johnson", "adain")
MODELS = (*GENERATORS, *STYLISERS)
DATASETS = ("fashion-mnist", "mnist", "cifar10")
UPLOAD_DATA = "upload"  # the data choice that means "the uploaded zip"
SAMPLES, PREVIEW, LOG = "samples.png", "preview.png", "train.log"
POLL_S = 0.5


def run_dir(folder: Path) -> Path | None:
    """The job's run dir (``runs/NNNNN-...``), once the training process has made it."""
    runs = folder / "runs"
    found = sorted(d for d in runs.iterdir() if (d / "config.json").is_file()) if runs.is_dir() else []
    return found[-1] if found else None


def checkpoints(run: Path | None) -> list[Path]:
    return sorted(run.glob("checkpoint-*.safetensors")) if run is not None else []


def read_stats(run: Path | None) -> list[dict[str, float]]:
    """The run's ``stats.jsonl``, one row a log tick; rows that a resume from an earlier checkpoint logged again
    replace the old ones (a half-written last line is skipped)."""
    path = None if run is None else run / "stats.jsonl"
    if path is None or not path.is_file():
        return []
    rows: list[dict[str, float]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        while rows and rows[-1].get("step", 0) >= row.get("step", 0):
            rows.pop()
        rows.append(row)
    return rows


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def state(job: Job, folder: Path) -> dict[str, Any]:
    """Where a train job stands: kimg reached of its total, img/s, ETA (while it runs), newest checkpoint."""
    run = run_dir(folder)
    stats = read_stats(run)
    last = stats[-1] if stats else {}
    total = float(job.params["kimg"])
    kimg = float(last.get("kimg", 0.0))
    speed = next((float(r["img_per_s"]) for r in reversed(stats) if "img_per_s" in r), 0.0)
    eta = (total - kimg) * 1000 / speed if speed > 0 and job.status == "running" and kimg < total else None
    ckpts = checkpoints(run)
    return {
        "kimg": kimg, "total_kimg": total, "step": int(last.get("step", 0)), "img_per_s": speed, "eta_s": eta,
        "checkpoint": ckpts[-1].name if ckpts else None, "run": run.name if run else None,
    }  # fmt: skip


def message(s: dict[str, Any]) -> str:
    eta = f" · ETA {_eta(s['eta_s'])}" if s["eta_s"] is not None else ""
    speed = f" · {s['img_per_s']:.0f} img/s" if s["img_per_s"] else ""
    return f"kimg {s['kimg']:.3g}/{s['total_kimg']:g}{speed}{eta}"


def curves(stats: list[dict[str, float]]) -> list[dict[str, Any]]:
    """The loss curves in long form for a plot: ``[{kimg, value, series}]`` for every ``loss/*`` value."""
    return [
        {"kimg": r["kimg"], "value": v, "series": k.removeprefix("loss/")}
        for r in stats
        for k, v in sorted(r.items())
        if k.startswith("loss/") and "kimg" in r
    ]


# ---------------------------------------------------------------- submitting and resuming


def _ticks(kimg: float, batch: int) -> dict[str, float]:
    """Log about 40 times and snapshot (checkpoint + grid) about 8 times a run, at least once a batch."""
    step = batch / 1000
    return {"tick_kimg": max(kimg / 40, step), "snap_kimg": max(kimg / 8, step)}


def submit(
    studio: Studio, owner: str, data_zip: str | None, dataset: str, model: str, kimg: float, style: str | None = None,
    style_upload: str | None = None, resolution: float = 0, batch: float = 32, width: float = 0,
    max_images: float = 0, seed: float = 0,
) -> Job:  # fmt: skip
    """A Train job in the heavy lane; the data (a data set on this machine, or a zip read in memory and every image
    decoded) and the style of a styliser are checked before anything is queued."""
    model = choice(model, MODELS, "model")
    dataset = choice(dataset, (*DATASETS, UPLOAD_DATA), "data")
    k = number(kimg, 0.001, 100_000, "kimg")
    b = int(number(batch, 1, 1024, "batch"))
    cfg: dict[str, Any] = {
        "model": model, "kimg": k, "batch": b, "seed": int(number(seed, 0, 2**31, "seed")), **_ticks(k, b),
        "resolution": int(number(resolution, 8, 1024, "resolution")) if resolution else None,
        "width": int(number(width, 1, 1024, "width")) if width else None,
        "max_images": int(number(max_images, 1, 10**7, "max images")) if max_images else None,
    }  # fmt: skip
    images: list[Any] = []
    if dataset == UPLOAD_DATA:
        data_name = Path(str(data_zip)).name
        images = _zip_images(data_zip, studio.opts.max_upload_bytes)
        cfg["data"] = UPLOAD_DATA  # the job's data/ folder, named when the job runs
    else:  # a data set not on this machine yet is fetched when the job starts (artforge data fetch)
        data_name = cfg["data"] = dataset
    style_name, s_img = "", None
    if model in STYLISERS:
        spec, style_name, s_img = studio.pick_style(style or next(iter(studio.paintings)), style_upload)
        if model == "johnson":  # a bundled painting by its name (the model records it), an upload from the folder
            cfg["style"] = [spec]
        else:  # adain trains on folders of works: the job's styles/ holds the one image
            s_img = s_img if s_img is not None else api.load_image(studio.paintings[spec.removeprefix("sample:")])
            cfg["style"] = ["styles"]
    params = {"model": model, "data_name": data_name, "style_name": style_name, "kimg": k, "config": cfg}
    api.TrainConfig.from_dict({**cfg, "style": []})  # unknown keys or bad types: refused now

    def prepare(folder: Path) -> None:
        if images:
            (folder / "data").mkdir()
        for i, img in enumerate(images):
            api.save_image(img, folder / "data" / f"img-{i:05d}.png", png_level=1)
        if s_img is not None:
            api.save_image(s_img, folder / "style.png", png_level=1)
        if cfg.get("style") == ["styles"] and s_img is not None:
            (folder / "styles").mkdir()
            api.save_image(s_img, folder / "styles" / "style.png", png_level=1)

    return studio.runner.submit(owner, "train", params, prepare)


def _zip_images(data_zip: str | None, max_bytes: int) -> list[Any]:
    if not data_zip:
        raise api.ArtforgeError("data: upload a .zip of images, or choose a data set")
    zip_name = Path(str(data_zip)).name
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (entry, data) in enumerate(read_zip(data_zip, max_bytes, MAX_TRAIN_ZIP_FILES, strict_paths=True)):
            path = Path(tmp) / f"entry-{i}"  # named by the app, never by the zip
            path.write_bytes(data)
            try:
                images.append(check_image(str(path), f"{zip_name} entry", max_bytes))
            except api.ArtforgeError as e:
                raise api.ArtforgeError(str(e).replace(path.name, entry[:60])) from None
            path.unlink()
    return images


def resume(studio: Studio, owner: str, job_id: str, kimg: float | None = None) -> Job:
    """A stopped, interrupted or failed train job (or a finished one, given a larger ``kimg``) back in the queue:
    it continues from its newest checkpoint, as ``artforge train --resume RUN --kimg K`` does."""
    job = studio.store.get(owner, job_id)
    if job.kind != "train":
        raise api.ArtforgeError(f"job {job.id} is a {job.kind} job, not a training job")
    if job.active:
        raise api.ArtforgeError(f"job {job.id} is {job.status}; it can be resumed once it has stopped")
    k = float(job.params["kimg"]) if not kimg else number(kimg, 0.001, 100_000, "kimg")
    reached = state(job, studio.store.job_dir(job.id))["kimg"]
    if job.status == "done" and k <= reached:
        raise api.ArtforgeError(f"job {job.id} is done at kimg {reached:g}: give a larger kimg to train further")
    cfg = {**job.params["config"], "kimg": k, **_ticks(k, int(job.params["config"]["batch"]))}
    params = {**job.params, "kimg": k, "config": cfg, "resumes": int(job.params.get("resumes", 0)) + 1}
    return studio.runner.requeue(owner, job.id, params)


# ---------------------------------------------------------------- the task


def _request(ctx: JobContext) -> dict[str, Any]:
    """What the training process runs: ``--resume`` of the job's run when it has a checkpoint, else a new run."""
    folder, p = ctx.folder, ctx.job.params
    cfg = dict(p["config"])
    run = run_dir(folder)
    if run is not None and checkpoints(run):
        keep = ("kimg", "tick_kimg", "snap_kimg")
        return {"resume": str(run), "overrides": {k: cfg[k] for k in keep}, "parent": os.getpid()}
    if run is not None:  # a run stopped before its first checkpoint: nothing to continue
        shutil.rmtree(run)
    if cfg.get("data") == UPLOAD_DATA:
        cfg["data"] = str(folder / "data")
    cfg["style"] = [s if s.startswith("sample:") else str(folder / s) for s in cfg.get("style", [])]
    cfg = {k: v for k, v in cfg.items() if v is not None}
    return {"config": cfg, "parent": os.getpid()}


def train(ctx: JobContext) -> str:
    """Run the training process, follow its stats and grids, SIGINT it (a clean stop) on cancel."""
    folder = ctx.folder
    (folder / RESULT).unlink(missing_ok=True)
    data = str(ctx.job.params["config"].get("data"))
    if data in DATASETS and not {d["name"]: d["ready"] for d in api.list_datasets()}.get(data):
        ctx.report(0.0, f"fetching the {data} data set (once, for every later job too)")
        api.fetch_dataset(data, progress=False)  # offline: one line saying what to do, and the job fails with it
    request = _request(ctx)
    (folder / REQUEST).write_text(json.dumps(request), encoding="utf-8")
    ctx.report(ctx.job.progress, "resuming from its checkpoint" if "resume" in request else "starting")
    cmd = [sys.executable, "-m", "artforge.studio.train_worker", str(folder)]
    with open(folder / LOG, "a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        stopping, grid = False, ""
        while True:
            try:
                code: int | None = proc.wait(POLL_S)
            except subprocess.TimeoutExpired:
                code = None
            if ctx.cancel.is_set() and not stopping:
                proc.send_signal(signal.SIGINT)
                stopping = True
            grid = _follow(ctx, grid)
            if code is not None:
                break
    result = json.loads((folder / RESULT).read_text()) if (folder / RESULT).is_file() else None
    if result is None:
        raise api.ArtforgeError(f"the training process ended unexpectedly (exit code {code}); see {LOG}")
    if result["status"] == "failed":
        raise api.ArtforgeError(str(result["error"]))
    if result["status"] == "interrupted":
        s = state(ctx.job, folder)
        kept = f"stopped at kimg {s['kimg']:.3g} with {s['checkpoint']}; Resume continues it"
        raise Cancelled(kept if s["checkpoint"] else "stopped before its first checkpoint; Resume starts it again")
    run, grid = run_dir(folder), _newest_grid(folder)
    if run is None or not grid:
        raise api.ArtforgeError(f"the training run wrote no sample grid; see {LOG}")
    shutil.copyfile(run / grid, folder / (SAMPLES + ".tmp"))
    os.replace(folder / (SAMPLES + ".tmp"), folder / SAMPLES)
    return SAMPLES


def _newest_grid(folder: Path) -> str:
    run = run_dir(folder)
    grids = sorted(run.glob("samples-*.png")) if run is not None else []
    return grids[-1].name if grids else ""


def _follow(ctx: JobContext, shown: str) -> str:
    """Report kimg, img/s and the ETA; copy a new sample grid to the job's preview. Returns the grid shown."""
    s = state(ctx.job, ctx.folder)
    ctx.report(min(s["kimg"] / s["total_kimg"], 1.0), message(s))
    grid = _newest_grid(ctx.folder)
    if grid and grid != shown:
        run = run_dir(ctx.folder)
        assert run is not None
        shutil.copyfile(run / grid, ctx.folder / (PREVIEW + ".tmp"))
        os.replace(ctx.folder / (PREVIEW + ".tmp"), ctx.folder / PREVIEW)
    return grid
