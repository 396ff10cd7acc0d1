"""The Train tab: data (a data set or a zip), model, kimg; while the job runs its loss curves, newest sample grid,
img/s and ETA; Stop (a checkpoint, as Ctrl-C) and Resume (as ``artforge train --resume``), also after a restart."""
# No `from __future__ import annotations`: Gradio reads gr.Request parameters from real annotations.

import html
from collections.abc import Callable
from typing import Any

from artforge import api
from artforge.studio import training
from artforge.studio.pages import SET_URL_JS, job_header, one_line, owner_of
from artforge.studio.service import Studio

StylePicker = Callable[[str], tuple[Any, Any]]


def jobs_of(studio: Studio, owner: str) -> list[dict[str, Any]]:
    """The owner's training jobs, newest first: ``[{id, status, model, data, kimg, error}]``."""
    return [
        {"id": j.id, "status": j.status, "model": j.params["model"], "data": j.params["data_name"],
         "kimg": j.params["kimg"], "error": j.error}
        for j in studio.store.list(owner, kind="train")
    ]  # fmt: skip


def _choices(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"{r['id']} · {r['model']} on {r['data']} · {r['status']}", r["id"]) for r in rows]


def status(studio: Studio, owner: str, job_id: str) -> tuple[dict[str, Any], str | None]:
    """A train job as data (status, line, kimg, img/s, ETA, checkpoint, the stats rows) and its newest grid."""
    view = studio.view(owner, job_id)
    if view.job.kind != "train":
        raise api.ArtforgeError(f"job {view.job.id} is a {view.job.kind} job, not a training job")
    folder = studio.store.job_dir(view.job.id)
    state = training.state(view.job, folder)
    stats = training.read_stats(training.run_dir(folder))
    grid = studio.serve(owner, view.job.id, training.PREVIEW) if view.preview else None
    j = view.job
    out = {"id": j.id, "status": j.status, "line": view.line, "error": j.error, "position": view.position,
           "params": j.params, **state, "stats": stats}  # fmt: skip
    return out, grid


def build_tab(gr: Any, studio: Studio, style_picker: StylePicker) -> dict[str, Any]:
    """The tab's components and handlers, inside the Blocks' Tabs; returns the components others need."""
    skip = gr.skip
    with gr.Tab("Train", id="train") as tab:
        with gr.Row():
            with gr.Column():
                data = gr.Radio([*training.DATASETS, training.UPLOAD_DATA], value="fashion-mnist", label="Data",
                                elem_id="train-data")  # fmt: skip
                data_zip = gr.File(label="Images (.zip; when Data is 'upload')", elem_id="train-zip")
                model = gr.Dropdown(list(training.MODELS), value="dcgan", label="Model (generators, then stylisers)",
                                    elem_id="train-model")  # fmt: skip
                kimg = gr.Number(1.0, label="kimg (thousands of images shown)", elem_id="train-kimg")
                with gr.Accordion("Styliser: style (johnson, adain)", open=False):
                    style, style_up = style_picker("train")
                with gr.Accordion("More settings", open=False):
                    resolution = gr.Number(0, precision=0, label="Resolution, px (0 = the model's default)",
                                           elem_id="train-resolution")  # fmt: skip
                    batch = gr.Number(32, precision=0, label="Batch", elem_id="train-batch")
                    width = gr.Number(0, precision=0, label="Width (0 = the model's default)", elem_id="train-width")
                    max_images = gr.Number(0, precision=0, label="Max images (0 = all)", elem_id="train-max-images")
                    seed = gr.Number(0, precision=0, label="Seed")
                with gr.Row():
                    go = gr.Button("Train", variant="primary", elem_id="train-go")
                    stop = gr.Button("Stop (keeps a checkpoint)", variant="stop", elem_id="train-stop")
                jobs = gr.Dropdown([], label="Your training jobs", elem_id="train-jobs")
                resume_kimg = gr.Number(
                    0, label="Resume: train to kimg (0 = the job's own)", elem_id="train-resume-kimg"
                )
                resume = gr.Button("Resume from the last checkpoint", elem_id="train-resume")
            with gr.Column():
                msg, job = job_header(gr, "train")
                progress = gr.HTML(elem_id="train-progress")
                grid = gr.Image(label="Samples (newest snapshot)", type="filepath", interactive=False,
                                elem_id="train-grid")  # fmt: skip
                plot = gr.LinePlot(x="kimg", y="value", color="series", title="Losses", elem_id="train-plot")
                state = gr.JSON(visible=False)
        seen = gr.State("")
        hidden = gr.Textbox(visible=False)
        listed = gr.Button(visible=False)
        timer = gr.Timer(1.0)  # in the tab: a timer ticks only while its tab is shown

    def submit(data_zip: Any, dataset: str, model: str, kimg: float, style: str, style_upload: Any, resolution: float,
               batch: float, width: float, max_images: float, seed: float,
               request: gr.Request) -> tuple[str, str]:  # fmt: skip
        owner = owner_of(request)
        j, m = one_line(lambda: training.submit(studio, owner, data_zip, dataset, model, kimg, style, style_upload,
                                                resolution, batch, width, max_images, seed))  # fmt: skip
        return (j.id, f"job {j.id} submitted") if j is not None else ("", m)

    def stop_job(job_id: str, request: gr.Request) -> str:
        owner = owner_of(request)

        def act() -> str:
            j = studio.store.get(owner, job_id)
            if j.kind != "train":
                raise api.ArtforgeError(f"job {j.id} is a {j.kind} job, not a training job")
            if not j.active:
                return f"job {j.id} is {j.status}; nothing to stop"
            studio.cancel(owner, j.id)
            return f"job {j.id}: stopping at the next step (a checkpoint is written)"

        done, m = one_line(act)
        return done or m

    def resume_job(job_id: str, kimg: float, request: gr.Request) -> tuple[str, str]:
        owner = owner_of(request)
        j, m = one_line(lambda: training.resume(studio, owner, job_id, kimg))
        return (j.id, f"job {j.id}: resumed from its last checkpoint") if j is not None else (job_id, m)

    def api_status(job_id: str, request: gr.Request) -> tuple[dict[str, Any], Any]:
        out, m = one_line(lambda: status(studio, owner_of(request), job_id))
        return out if out is not None else ({"error": m}, None)

    def poll(job_id: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
        if not job_id:
            return ("", None, None, "") if shown else (skip(),) * 4
        out, m = one_line(lambda: status(studio, owner_of(request), job_id))
        if out is None:
            return (f"<div>{html.escape(m)}</div>", None, None, "")
        s, served = out
        key = f"{job_id}:{s['status']}:{s['step']}:{s['checkpoint']}:{s['line']}"
        if key == shown:
            return (skip(),) * 4
        import pandas as pd  # noqa: PLC0415 - lazy: a dependency of gradio

        rows = training.curves(s["stats"])
        frame = pd.DataFrame(rows, columns=["kimg", "value", "series"])
        value = 1.0 if s["status"] == "done" else min(s["kimg"] / max(s["total_kimg"], 1e-9), 1.0)
        bar = (f'<div class="artforge-progress" data-status="{s["status"]}"><progress max="1" value="{value:.3f}" '
               f'style="width:100%"></progress><div>{html.escape(s["line"])}</div></div>')  # fmt: skip
        return (bar, served if served else skip(), frame, key)

    def list_jobs(request: gr.Request) -> Any:
        return gr.Dropdown(choices=_choices(jobs_of(studio, owner_of(request))))

    def on_tab(current: str, request: gr.Request) -> tuple[Any, Any]:
        """The job list; with no job shown, the newest interrupted one (after a restart) is ready to resume."""
        rows = jobs_of(studio, owner_of(request))
        pick = "" if current else next((r["id"] for r in rows if r["status"] == "interrupted"), "")
        return gr.Dropdown(choices=_choices(rows), value=pick or None), pick or skip()

    def api_jobs(request: gr.Request) -> list[dict[str, Any]]:
        return jobs_of(studio, owner_of(request))

    inputs = [data_zip, data, model, kimg, style, style_up, resolution, batch, width, max_images, seed]
    go.click(submit, inputs, [job, msg], api_name="train").then(list_jobs, None, jobs, api_visibility="private")
    stop.click(stop_job, job, msg, api_name="train_stop")
    resume.click(resume_job, [job, resume_kimg], [job, msg], api_name="train_resume")
    jobs.select(lambda j: j, jobs, job, api_visibility="private")
    tab.select(on_tab, job, [jobs, job], api_visibility="private")
    poll_out = [progress, grid, plot, seen]
    timer.tick(poll, [job, seen], poll_out, show_progress="hidden", api_visibility="private")
    job.change(poll, [job, seen], poll_out, show_progress="hidden", api_visibility="private")
    job.change(None, job, None, js=SET_URL_JS, api_visibility="private")
    hidden.submit(api_status, hidden, [state, grid], api_name="train_status")
    listed.click(api_jobs, None, state, api_name="train_jobs")
    return {"job": job, "jobs": jobs}
