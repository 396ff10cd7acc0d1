"""The Video tab (a clip through a feed-forward model, with progress and Cancel) and the Generate tab's extras: a
latent-walk video, the StyleGAN2 style-mixing grid, and projection of an uploaded photo."""
# No `from __future__ import annotations`: Gradio reads gr.Request parameters from real annotations.

import html
from collections.abc import Callable
from typing import Any

from artforge.studio import media
from artforge.studio.pages import SET_URL_JS, job_header, one_line, owner_of, progress_html
from artforge.studio.service import Studio

StylePicker = Callable[[str], tuple[Any, Any]]


def _poll(studio: Studio, owner: str, job_id: str, shown: str, skip: Any) -> tuple[Any, ...]:
    """(progress bar, result file or None, key) of a heavy job, or skips when nothing changed."""
    if not job_id:
        return ("", None, "") if shown else (skip(),) * 3
    view, msg = one_line(lambda: studio.view(owner, job_id))
    if view is None:
        return (f"<div>{html.escape(msg)}</div>", None, "")
    key = f"{job_id}:{view.job.status}:{view.job.progress:.3f}:{view.job.message}"
    if key == shown:
        return (skip(),) * 3
    result = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))[0] if view.result else None
    return (progress_html(view), result, key)


def build_video_tab(gr: Any, studio: Studio, style_picker: StylePicker) -> dict[str, Any]:
    models = [r["name"] for r in studio.models()]
    skip = gr.skip
    with gr.Tab("Video", id="video"):
        with gr.Row():
            with gr.Column():
                clip = gr.File(label=f"Clip (a short video: at most {media.MAX_VIDEO_FRAMES} frames)",
                               elem_id="video-input")  # fmt: skip
                model = gr.Dropdown(models, value=models[0] if models else None, label="Model", allow_custom_value=True,
                                    elem_id="video-model")  # fmt: skip
                refresh = gr.Button("Refresh the list of models")
                style, style_up = style_picker("video")
                alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Alpha (AdaIN: 0 photo, 1 style)")
                size = gr.Slider(64, media.MAX_VIDEO_SIDE, value=256, step=16, label="Size (long side, px)",
                                 elem_id="video-size")  # fmt: skip
                temporal = gr.Checkbox(True, label="Temporally consistent (optical flow blending)")
                with gr.Row():
                    go = gr.Button("Stylise the clip", variant="primary", elem_id="video-go")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="video-cancel")
            with gr.Column():
                msg, job = job_header(gr, "video")
                progress = gr.HTML(elem_id="video-progress")
                result = gr.Video(label="Result", interactive=False, elem_id="video-result")
                download = gr.File(label="Download", elem_id="video-download")
        seen = gr.State("")
        timer = gr.Timer(1.0)  # in the tab: a timer ticks only while its tab is shown

    def submit(video: Any, model: str, style: str, style_upload: Any, alpha: float, size: float, temporal: bool,
               request: gr.Request) -> tuple[str, str]:  # fmt: skip
        owner = owner_of(request)
        j, m = one_line(lambda: media.submit_video(studio, owner, video, model, style, style_upload, alpha, size,
                                                   temporal))  # fmt: skip
        return (j.id, f"job {j.id} submitted") if j is not None else ("", m)

    def stop(job_id: str, request: gr.Request) -> str:
        j, m = one_line(lambda: studio.cancel(owner_of(request), job_id))
        return m if j is None else f"job {j.id}: cancel requested"

    def poll(job_id: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
        bar, res, key = _poll(studio, owner_of(request), job_id, shown, skip)
        return bar, res, res, key

    def refresh_models(request: gr.Request) -> Any:
        names = [r["name"] for r in studio.models(owner_of(request))]
        return gr.Dropdown(choices=names)

    go.click(submit, [clip, model, style, style_up, alpha, size, temporal], [job, msg], api_name="video")
    cancel.click(stop, job, msg, api_visibility="private")
    refresh.click(refresh_models, None, model, api_visibility="private")
    out = [progress, result, download, seen]
    timer.tick(poll, [job, seen], out, show_progress="hidden", api_visibility="private")
    job.change(poll, [job, seen], out, show_progress="hidden", api_visibility="private")
    job.change(None, job, None, js=SET_URL_JS, api_visibility="private")
    return {"job": job}


def build_generate_extras(gr: Any, studio: Studio, run: Any, seed: Any, truncation: Any) -> dict[str, Any]:
    """Below Generate's controls: walk, style mixing and projection, each an API endpoint."""
    skip = gr.skip
    with gr.Accordion("Latent walk (a video)", open=False):
        points = gr.Slider(2, 16, value=4, step=1, label="Points to walk through", elem_id="walk-points")
        frames = gr.Slider(1, 60, value=8, step=1, label="Frames from one point to the next", elem_id="walk-frames")
        walk_go = gr.Button("Make the walk video", elem_id="walk-go")
    with gr.Accordion("StyleGAN2: style mixing grid", open=False):
        mix_n = gr.Slider(1, 8, value=4, step=1, label="Sources x destinations", elem_id="mix-n")
        band = gr.Radio(list(media.BANDS), value="coarse", label="Styles taken from the source", elem_id="mix-band")
        mix_go = gr.Button("Mix styles", elem_id="mix-go")
    with gr.Accordion("StyleGAN2: project a photo", open=False):
        photo = gr.File(label="Photo", elem_id="project-photo")
        steps = gr.Slider(1, 1000, value=200, step=1, label="Steps", elem_id="project-steps")
        w_plus = gr.Checkbox(False, label="W+ (one w per layer: closer, less editable)")
        with gr.Row():
            project_go = gr.Button("Project (heavy lane)", elem_id="project-go")
            project_cancel = gr.Button("Cancel (keeps the best so far)", variant="stop", elem_id="project-cancel")
    # the extras' results, outside the (closed) accordions so that a ?job= address shows them
    extra_msg = gr.Markdown(elem_id="extras-msg")
    extra_job = gr.Textbox(label="Job (walk, style mixing)", interactive=False, elem_id="extras-job")
    walk_video = gr.Video(label="Walk", interactive=False, elem_id="walk-result")
    mix_image = gr.Image(label="Style mixing", type="filepath", interactive=False, elem_id="mix-result")
    project_job = gr.Textbox(label="Projection job", interactive=False, elem_id="project-job")
    project_progress = gr.HTML(elem_id="project-progress")
    project_image = gr.Image(label="Projected", type="filepath", interactive=False, elem_id="project-result")
    extra_file = gr.File(label="Download", elem_id="extras-download")
    seen = gr.State("")
    timer = gr.Timer(1.0)  # in the Generate tab: a timer ticks only while its tab is shown

    def finished(owner: str, job_id: str) -> tuple[str, str, Any, Any]:
        view, m = one_line(lambda: studio.wait(owner, job_id, 600))
        if view is None or view.result is None:
            return job_id, m or (view.line if view else ""), None, None
        served, m = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))
        return job_id, m or view.line, served, served

    def walk(run: str, seed: float, points: float, frames: float, truncation: float,
             request: gr.Request) -> tuple[str, str, Any, Any]:  # fmt: skip
        owner = owner_of(request)
        j, m = one_line(lambda: media.submit_walk(studio, owner, run, seed, points, frames, truncation))
        return finished(owner, j.id) if j is not None else ("", m, None, None)

    def mix(run: str, seed: float, n: float, band: str, truncation: float,
            request: gr.Request) -> tuple[str, str, Any, Any]:  # fmt: skip
        owner = owner_of(request)
        j, m = one_line(lambda: media.submit_mix(studio, owner, run, seed, n, band, truncation))
        return finished(owner, j.id) if j is not None else ("", m, None, None)

    def project(run: str, photo: Any, steps: float, w_plus: bool, seed: float, request: gr.Request) -> tuple[str, str]:
        owner = owner_of(request)
        j, m = one_line(lambda: media.submit_project(studio, owner, run, photo, steps, w_plus, seed))
        return (j.id, f"job {j.id} submitted") if j is not None else ("", m)

    def stop_projection(job_id: str, request: gr.Request) -> str:
        j, m = one_line(lambda: studio.cancel(owner_of(request), job_id))
        return m if j is None else f"job {j.id}: cancel requested (the best projection so far is kept)"

    def poll(job_id: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
        return _poll(studio, owner_of(request), job_id, shown, skip)  # the projected image has its own download

    walk_go.click(walk, [run, seed, points, frames, truncation], [extra_job, extra_msg, walk_video, extra_file],
                  api_name="walk")  # fmt: skip
    mix_go.click(mix, [run, seed, mix_n, band, truncation], [extra_job, extra_msg, mix_image, extra_file],
                 api_name="style_mix")  # fmt: skip
    extra_job.change(None, extra_job, None, js=SET_URL_JS, api_visibility="private")
    project_go.click(project, [run, photo, steps, w_plus, seed], [project_job, extra_msg], api_name="project")
    project_cancel.click(stop_projection, project_job, extra_msg, api_visibility="private")  # the API has /cancel
    out = [project_progress, project_image, seen]
    timer.tick(poll, [project_job, seen], out, show_progress="hidden", api_visibility="private")
    project_job.change(poll, [project_job, seen], out, show_progress="hidden", api_visibility="private")
    project_job.change(None, project_job, None, js=SET_URL_JS, api_visibility="private")

    def shown(owner: str, job_id: str, kind: str) -> tuple[Any, ...]:
        """For ``?job=ID`` of a walk or a style-mixing job: (message, walk video, mixing grid, download)."""
        view, m = one_line(lambda: studio.view(owner, job_id))
        if view is None or view.result is None:
            return (m or (view.line if view else ""), skip(), skip(), None)
        served = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))[0]
        return (view.line, served if kind == "walk" else skip(), served if kind == "mix" else skip(), served)

    return {
        "project_job": project_job, "extra_job": extra_job, "shown": shown,
        "shown_outputs": [extra_msg, walk_video, mix_image, extra_file],
    }  # fmt: skip
