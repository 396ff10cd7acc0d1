"""The studio without its pages: submit, watch, cancel and delete jobs for one owner at a time; the Gradio
pages and API endpoints are thin wrappers around it, and the tests drive it directly."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artforge import api
from artforge.studio.checks import choice as _choice
from artforge.studio.checks import model_path
from artforge.studio.checks import number as _number
from artforge.studio.jobs import Job, JobStore
from artforge.studio.runner import Runner
from artforge.studio.settings import ServeOptions
from artforge.studio.tasks import BATCHING, PREVIEW, TASKS
from artforge.studio.uploads import check_image, folder_images, keep_image, read_zip, safe_name

PRESERVE = ("none", "luminance", "histogram")
UPLOAD = "upload"  # the style choice that means "the uploaded style image"
SIZES = (16, 2048)  # long side limits of a job, px


def _blend(text: str, n: int) -> list[float] | None:
    """Blend weights typed as "2 1" or "2, 1": one per style, none negative, not all zero; empty: equal."""
    if not str(text or "").strip():
        return None
    try:
        weights = [float(w) for w in str(text).replace(",", " ").split()]
    except ValueError:
        raise api.ArtforgeError(f"blend weights are numbers, one per style, like '2 1'; not {text!r}") from None
    if len(weights) != n:
        raise api.ArtforgeError(f"give one blend weight per style ({n}), or none; {len(weights)} given")
    if min(weights) < 0 or sum(weights) <= 0:
        raise api.ArtforgeError("blend weights must be >= 0 and not all 0")
    return weights


@dataclass(frozen=True)
class JobView:
    """What a page shows of a job."""

    job: Job
    position: int  # in its lane's queue; 0 when not queued
    preview: Path | None
    result: Path | None

    @property
    def line(self) -> str:
        j = self.job
        if j.status == "queued":
            return f"job {j.id}: queued, position {self.position} in the {j.lane} lane"
        if j.status == "running":
            return f"job {j.id}: running · {j.message}" if j.message else f"job {j.id}: running"
        if j.status == "done":
            took = f" in {j.finished - j.started:.1f} s" if j.finished and j.started else ""
            return f"job {j.id}: done{took}"
        return f"job {j.id}: {j.status}" + (f" · {j.error}" if j.error else "")


class Studio:
    """One studio: a job store in ``opts.data_dir`` and its worker lanes. :meth:`start` before use."""

    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.store = JobStore(opts.data_dir)
        self.runner = Runner(self.store, TASKS, opts.heavy_workers, opts.light_workers, BATCHING)
        self.outbox: Path | None = None
        self.paintings = api.sample_paintings()
        self.precision = opts.instant_precision if opts.instant_precision != "auto" else api.fast_precision()

    def start(self) -> int:
        """Open the store (returns how many jobs of a previous server became interrupted) and start the workers."""
        n = self.store.open()
        self.outbox = Path(tempfile.mkdtemp(prefix="artforge-studio-"))
        self.runner.start()
        return n

    def stop(self) -> None:
        self.runner.stop()
        if self.outbox is not None:
            shutil.rmtree(self.outbox, ignore_errors=True)

    def _trained(self, owner: str | None, list_: Any) -> list[dict[str, Any]]:
        """Rows of ``list_`` (api.list_runs or api.list_models) for the runs of ``owner``'s train jobs, each
        named ``<job id>-<run>``: another user's runs are not offered."""
        rows = []
        for job in self.store.list(owner, ("done", "cancelled", "interrupted", "failed"), "train") if owner else []:
            for row in list_(self.store.job_dir(job.id) / "runs"):
                if row.get("source", "trained") == "trained":
                    rows.append({**row, "name": f"{job.id}-{row['name']}", "job": job.id})
        return rows

    def models(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Shipped models, styliser runs under ``--runs`` and those ``owner`` trained in the studio."""
        return api.list_models(str(self.opts.runs)) + self._trained(owner, lambda d: api.list_models(str(d)))

    def runs(self, owner: str | None = None) -> list[dict[str, Any]]:
        """The trained generator runs under ``--runs`` and those ``owner`` trained in the studio (only these can be
        sampled: no other path is accepted)."""
        return api.list_runs(self.opts.runs) + self._trained(owner, api.list_runs)

    def pick_style(self, choice: Any, upload: str | None) -> tuple[str, str, Any]:
        """(spec for the job, name for its parameters, image to save as style.png or None)."""
        choice = _choice(choice, (*self.paintings, UPLOAD), "style")
        if choice != UPLOAD:
            return f"sample:{choice}", f"sample:{choice}", None
        img = check_image(upload, "style image", self.opts.max_upload_bytes)
        return "style.png", Path(str(upload)).name, img

    def submit_paint(
        self, owner: str, content: str | None, style: str, style_upload: str | None = None, size: float = 256,
        iterations: float = 50, style_weight: float = api.StylizeConfig.style_weight, preserve_color: str = "none",
        quick: bool = False, more_paintings: Sequence[str] | None = None, more_uploads: Sequence[str] | None = None,
        blend: str = "", masks: Sequence[str] | None = None,
    ) -> Job:  # fmt: skip
        """A Paint (Gatys) job in the heavy lane; every input is checked before anything is queued. ``quick`` starts
        from a feed-forward picture (``--init fast``) that the finest levels refine. More styles: bundled paintings
        and uploads, after the first; ``blend``: one weight per style ("2 1"), or ``masks``: one per style, white
        where it paints."""
        c_img = check_image(content, "content image", self.opts.max_upload_bytes)
        spec, style_name, s_img = self.pick_style(style, style_upload)
        specs, names, more = [spec], [style_name], []
        for name in more_paintings or []:
            specs.append(f"sample:{_choice(name, tuple(self.paintings), 'painting')}")
            names.append(specs[-1])
        for i, up in enumerate(more_uploads or []):
            more.append(check_image(up, "style image", self.opts.max_upload_bytes))
            specs.append(f"style-{i + 1}.png")
            names.append(Path(str(up)).name)
        weights = _blend(blend, len(specs))
        mask_imgs = [check_image(m, "mask", self.opts.max_upload_bytes).convert("L") for m in masks or []]
        if mask_imgs and len(mask_imgs) != len(specs):
            raise api.ArtforgeError(f"give one mask per style ({len(specs)}), or none; {len(mask_imgs)} given")
        if mask_imgs and weights:
            raise api.ArtforgeError("blend weights and masks do not combine: masks give each style its region")
        params = {
            "content_name": Path(str(content)).name, "style": spec, "style_name": style_name,
            "styles": specs, "style_names": names, "blend": weights,
            "masks": [f"mask-{i}.png" for i in range(len(mask_imgs))],
            "size": int(_number(size, 64, SIZES[1], "size")),
            "iterations": int(_number(iterations, 1, 2000, "iterations")),
            "style_weight": _number(style_weight, 0, 1e6, "style weight"),
            "preserve_color": _choice(preserve_color, PRESERVE, "colour preservation"),
            "init": "fast" if quick else "content",
        }  # fmt: skip

        def prepare(folder: Path) -> None:
            self._save_inputs(folder, c_img, s_img, str(content))
            for i, img in enumerate(more):
                api.save_image(img, folder / f"style-{i + 1}.png", png_level=1)
            for i, img in enumerate(mask_imgs):
                api.save_image(img, folder / f"mask-{i}.png", png_level=1)

        return self.runner.submit(owner, "paint", params, prepare)

    def submit_instant(
        self, owner: str, content: str | None, model: str, style: str | None = None, style_upload: str | None = None,
        size: float = 512, alpha: float = 1.0,
    ) -> Job:  # fmt: skip
        """An Instant (feed-forward) job in the light lane; AdaIN models take a style, the others none."""
        rows = {r["name"]: r for r in self.models(owner)}
        model = _choice(model, tuple(rows), "model")
        c_img = check_image(content, "content image", self.opts.max_upload_bytes)
        spec, style_name, s_img = ("", "", None)
        if rows[model]["kind"] == "adain":
            spec, style_name, s_img = self.pick_style(style or next(iter(self.paintings)), style_upload)
        params = {
            "content_name": Path(str(content)).name, "model": model, "style": spec, "style_name": style_name,
            "size": int(_number(size, 64, SIZES[1], "size")), "alpha": _number(alpha, 0, 1, "alpha"),
            "precision": self.precision,
            **model_path(rows[model]),
        }  # fmt: skip
        return self.runner.submit(owner, "instant", params, lambda d: self._save_inputs(d, c_img, s_img, str(content)))

    def submit_generate(
        self, owner: str, run: str, seed: float = 0, n: float = 16, truncation: float = 1.0,
        class_index: float | None = None,
    ) -> Job:  # fmt: skip
        """A Generate job in the light lane: a grid of ``n`` samples of a listed run."""
        rows = {r["name"]: r for r in self.runs(owner)}
        if not rows:
            raise api.ArtforgeError(f"no trained generator runs in {self.opts.runs}: train one (artforge train) first")
        row = rows[_choice(run, tuple(rows), "run")]
        psi = _number(truncation, 0, 1, "truncation")
        if row["model"] != "stylegan2" and psi != 1.0:
            raise api.ArtforgeError(f"truncation is for stylegan2 runs; {row['name']} is {row['model']}: use 1")
        cls = None if class_index is None or float(class_index) < 0 else int(_number(class_index, 0, 1e6, "class"))
        if cls is not None and not row["conditional"]:
            raise api.ArtforgeError(f"{row['name']} is not class-conditional: leave the class at -1 (random)")
        params = {
            "run": row["path"], "run_name": row["name"], "model": row["model"],
            "seed": int(_number(seed, 0, 2**31, "seed")),
            "n": int(_number(n, 1, 64, "n")), "truncation": psi, "class_index": cls,
        }  # fmt: skip
        return self.runner.submit(owner, "generate", params, lambda d: None)

    def submit_instant_zip(
        self, owner: str, photos: str | None, model: str, style: str | None = None, style_upload: str | None = None,
        size: float = 512, alpha: float = 1.0,
    ) -> Job:  # fmt: skip
        """Instant over a zip of photos (every entry decoded and checked first); the result is a zip of PNGs."""
        zip_name = Path(str(photos)).name
        imgs, names = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for entry, data in read_zip(photos, self.opts.max_upload_bytes):
                name = safe_name(entry)
                path = Path(tmp) / name
                path.write_bytes(data)
                imgs.append(check_image(str(path), f"{zip_name} entry", self.opts.max_upload_bytes))
                path.unlink()
                names.append(name)
        return self._submit_many(owner, zip_name, imgs, names, model, style, style_upload, size, alpha)

    def submit_instant_folder(
        self, owner: str, photos: Sequence[str] | None, model: str, style: str | None = None,
        style_upload: str | None = None, size: float = 512, alpha: float = 1.0,
    ) -> Job:  # fmt: skip
        """Instant over the files of an uploaded folder (or several photos): each decoded and checked; hidden files
        and system litter (Thumbs.db, desktop.ini) are skipped; the result is a zip of PNGs named after them."""
        files = folder_images(photos, self.opts.max_upload_bytes)
        imgs = [check_image(f, "folder file", self.opts.max_upload_bytes) for f in files]
        label = f"{len(files)} photos"
        return self._submit_many(owner, label, imgs, [safe_name(f) for f in files], model, style, style_upload, size,
                                 alpha)  # fmt: skip

    def _submit_many(
        self, owner: str, label: str, imgs: list[Any], names: list[str], model: str, style: str | None,
        style_upload: str | None, size: float, alpha: float,
    ) -> Job:  # fmt: skip
        rows = {r["name"]: r for r in self.models(owner)}
        model = _choice(model, tuple(rows), "model")
        spec, style_name, s_img = ("", "", None)
        if rows[model]["kind"] == "adain":
            spec, style_name, s_img = self.pick_style(style or next(iter(self.paintings)), style_upload)
        params = {
            "content_name": label, "inputs": names, "model": model, "style": spec, "style_name": style_name,
            "size": int(_number(size, 64, SIZES[1], "size")), "alpha": _number(alpha, 0, 1, "alpha"),
            "precision": self.precision,
            **model_path(rows[model]),
        }  # fmt: skip

        def prepare(folder: Path) -> None:
            for i, img in enumerate(imgs):
                api.save_image(img, folder / f"in-{i:03d}.png", png_level=1)
            if s_img is not None:
                api.save_image(s_img, folder / "style.png", png_level=1)

        return self.runner.submit(owner, "instant", params, prepare)

    @staticmethod
    def _save_inputs(folder: Path, content: Any, style: Any, upload: str) -> None:
        """content.png (the upload's own bytes where it already is that PNG) and style.png, if any."""
        keep_image(upload, content, folder / "content.png")
        if style is not None:
            api.save_image(style, folder / "style.png", png_level=1)

    def check_upload(self, path: str | None, what: str) -> Any:
        """An upload decoded and within the limits, or one line saying why not."""
        return check_image(path, what, self.opts.max_upload_bytes)

    def view(self, owner: str, job_id: str) -> JobView:
        job = self.store.get(owner, job_id)
        folder = self.store.job_dir(job.id)
        preview = folder / PREVIEW if (folder / PREVIEW).is_file() else None
        result = self.store.file(owner, job.id, job.result) if job.status == "done" and job.result else None
        return JobView(job, self.store.position(job), preview, result)

    @staticmethod
    def image_name(job: Job) -> str:
        """The file that shows a finished job as a picture: its PNG result, else (a zip of results, a video) its
        preview: the first result, the first frame."""
        return str(job.result) if str(job.result).endswith(".png") else PREVIEW

    def wait(self, owner: str, job_id: str, timeout: float = 300.0) -> JobView:
        self.store.get(owner, job_id)
        self.runner.wait(job_id, timeout)
        return self.view(owner, job_id)

    def cancel(self, owner: str, job_id: str) -> Job:
        return self.runner.cancel(owner, job_id)

    def delete(self, owner: str, job_id: str) -> None:
        self.store.delete(owner, job_id)

    def gallery(self, owner: str) -> list[Job]:
        """``owner``'s finished jobs, newest first."""
        return self.store.list(owner, ("done",))

    def serve(self, owner: str, job_id: str, name: str) -> str:
        """A copy of a file of ``owner``'s job, in this server's outbox, for the page to show or download
        (the data dir itself is never served); the name tells whose job it came from."""
        src = self.store.file(owner, job_id, name)
        return self.serve_path(src, f"artforge-{job_id}-{name}")

    def serve_path(self, src: Path, name: str) -> str:
        if self.outbox is None:
            raise api.ArtforgeError("the studio has not started")
        folder = Path(tempfile.mkdtemp(dir=self.outbox))
        dest = folder / name
        shutil.copyfile(src, dest)
        return os.fspath(dest)
