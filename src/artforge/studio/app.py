"""The studio's Gradio Blocks: Instant, Paint, Video, Generate, Train and Gallery tabs (Video, Train and Generate's
extras in ui_media.py and ui_train.py); every action is also an API endpoint."""
# No `from __future__ import annotations` here: Gradio finds gr.Request / gr.SelectData parameters by their
# annotations, which must be real objects because gradio itself is imported inside build().

import os
from pathlib import Path
from typing import Any

from artforge import api
from artforge.studio.pages import (
    SET_URL_JS,
    caption,
    gallery_rows,
    job_header,
    one_line,
    open_job,
    owner_of,
    paint_settings,
    params_text,
)  # fmt: skip
from artforge.studio.service import UPLOAD, Studio
from artforge.studio.ui_media import build_generate_extras, build_video_tab
from artforge.studio.ui_paint import build_paint_tab
from artforge.studio.ui_train import build_tab as build_train_tab


def _thumbnails(studio: Studio) -> list[tuple[str, str]]:
    """Small copies of the bundled paintings for the style pickers."""
    out = []
    for name, path in studio.paintings.items():
        img = api.load_image(path, "painting")
        img.thumbnail((192, 192))
        dest = Path(studio.serve_path(path, f"{name}.jpg"))
        img.save(dest, quality=85)
        out.append((os.fspath(dest), name))
    return out


def build(studio: Studio) -> Any:
    """The Blocks app over a started :class:`Studio`."""
    import gradio as gr  # noqa: PLC0415 - lazy: optional [web] extra, ~2 s to import

    thumbs = _thumbnails(studio)
    names = [n for _, n in thumbs]
    models = [r["name"] for r in studio.models()]
    adain = {r["name"] for r in studio.models() if r["kind"] == "adain"}
    skip = gr.skip

    def style_picker(prefix: str) -> tuple[Any, Any]:
        pick = gr.Gallery(
            value=thumbs, label="Bundled paintings (click one)", columns=3, height=180, allow_preview=False,
            elem_id=f"{prefix}-paintings",
        )  # fmt: skip
        style = gr.Radio([*names, UPLOAD], value=names[0], label="Style", elem_id=f"{prefix}-style")
        upload = gr.File(label="Style image (when Style is 'upload')", elem_id=f"{prefix}-style-upload")

        def chosen(evt: gr.SelectData) -> str:
            return str(names[int(evt.index)])

        pick.select(chosen, None, style, api_visibility="private")
        return style, upload

    # Gradio's cache of served copies: files older than a day go, checked hourly
    with gr.Blocks(title="artforge studio", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("# artforge studio\nStyle transfer on your own machine. Jobs keep running if you close the tab.")
        url_msg = gr.Markdown(elem_id="url-msg")
        with gr.Tabs(selected="instant") as tabs:
            # ---------------------------------------------------------------- Instant
            with gr.Tab("Instant", id="instant") as i_tab:
                with gr.Row():
                    with gr.Column():
                        i_content = gr.File(label="Photo", elem_id="instant-content")
                        i_model = gr.Dropdown(models, value=models[0] if models else None, label="Model",
                                              allow_custom_value=True, elem_id="instant-model")  # fmt: skip
                        i_style, i_style_up = style_picker("instant")
                        i_alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Alpha (AdaIN: 0 photo, 1 style)")
                        i_size = gr.Slider(
                            64, 1024, value=512, step=32, label="Size (long side, px)", elem_id="instant-size"
                        )
                        i_refresh = gr.Button("Refresh the list of models (your trained stylisers)",
                                              elem_id="instant-refresh")  # fmt: skip
                        i_go = gr.Button("Stylise", variant="primary", elem_id="instant-go")
                        with gr.Row():  # several photos: a zip of results comes back
                            with gr.Column(min_width=160):
                                i_zip = gr.File(label="Several photos: a .zip", elem_id="instant-zip", height=140)
                                i_zip_go = gr.Button("Stylise the zip", elem_id="instant-zip-go")
                            with gr.Column(min_width=160):
                                i_folder = gr.File(label="...or a folder of photos", file_count="directory",
                                                   elem_id="instant-folder", height=140)  # fmt: skip
                                i_folder_go = gr.Button("Stylise the folder", elem_id="instant-folder-go")
                    with gr.Column():
                        i_msg, i_job = job_header(gr, "instant")
                        i_result = gr.Image(label="Result", type="filepath", interactive=False, format="png",
                                            elem_id="instant-result")  # fmt: skip
                        i_file = gr.File(label="Download (PNG with its parameters)", elem_id="instant-download")
            paint_tab = build_paint_tab(gr, studio, style_picker, names)
            video_tab = build_video_tab(gr, studio, style_picker)
            # ---------------------------------------------------------------- Generate
            with gr.Tab("Generate", id="generate") as gen_tab:
                with gr.Row():
                    with gr.Column():
                        run_names = [r["name"] for r in studio.runs()]
                        gen_run = gr.Dropdown(
                            run_names, value=run_names[0] if run_names else None, allow_custom_value=True,
                            label=f"Trained run (dcgan, vae, gan, stylegan2 under {studio.opts.runs})",
                            elem_id="generate-run",
                        )  # fmt: skip
                        gen_refresh = gr.Button("Refresh the list of runs", elem_id="generate-refresh")
                        gen_seed = gr.Number(0, precision=0, label="Seed", elem_id="generate-seed")
                        gen_n = gr.Slider(1, 64, value=16, step=1, label="n (images in the grid)", elem_id="generate-n")
                        gen_trunc = gr.Slider(0, 1, value=1.0, step=0.05, label="Truncation psi (StyleGAN2; 1 = none)")
                        gen_class = gr.Number(-1, precision=0, label="Class (conditional runs; -1 = random)")
                        gen_go = gr.Button("Generate", variant="primary", elem_id="generate-go")
                        extras = build_generate_extras(gr, studio, gen_run, gen_seed, gen_trunc)
                    with gr.Column():
                        gen_msg, gen_job = job_header(gr, "generate")
                        gen_result = gr.Image(label="Samples", type="filepath", interactive=False, format="png",
                                              elem_id="generate-result")  # fmt: skip
                        gen_file = gr.File(label="Download", elem_id="generate-download")
            train_tab = build_train_tab(gr, studio, style_picker)
            # ---------------------------------------------------------------- Gallery
            with gr.Tab("Gallery", id="gallery") as g_tab:
                g_refresh = gr.Button("Refresh", elem_id="gallery-refresh")
                g_ids = gr.State([])
                g_images = gr.Gallery(label="Your finished jobs", columns=4, elem_id="gallery-images")
                g_job = gr.Textbox(label="Job", elem_id="gallery-job")
                g_params = gr.Code(label="Parameters", language="json", elem_id="gallery-params")
                g_file = gr.File(label="Download (PNG with its parameters)", elem_id="gallery-download")
                with gr.Row():
                    g_reopen = gr.Button("Open in Paint with these settings", elem_id="gallery-reopen")
                    g_delete = gr.Button("Delete", variant="stop", elem_id="gallery-delete")
                g_png = gr.File(label="Open an artforge PNG in Paint (its stored settings)", elem_id="gallery-png")
                g_msg = gr.Markdown(elem_id="gallery-msg")
                g_rows = gr.JSON(visible=False)

        # ---------------------------------------------------------------- Instant handlers
        def instant(content: Any, model: str, style: str, style_upload: Any, alpha: float, size: float,
                    request: gr.Request) -> tuple[str, str, Any, Any]:  # fmt: skip
            owner = owner_of(request)
            job, msg = one_line(lambda: studio.submit_instant(owner, content, model, style, style_upload, size, alpha))
            if job is None:
                return "", msg, None, None
            return show_instant(owner, job.id, wait=True)

        def show_instant(owner: str, job_id: str, wait: bool = False) -> tuple[str, str, Any, Any]:
            view, msg = one_line(lambda: studio.wait(owner, job_id, 300) if wait else studio.view(owner, job_id))
            if view is None:
                return job_id, msg, None, None
            if view.result is None:
                return job_id, view.line, None, None
            served, msg = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))
            shown = serve_or_none(owner, job_id, studio.image_name(view.job))
            return job_id, msg or view.line, shown, served

        i_go.click(instant, [i_content, i_model, i_style, i_style_up, i_alpha, i_size],
                   [i_job, i_msg, i_result, i_file], api_name="instant")  # fmt: skip

        def instant_many(submit: Any) -> Any:
            """The handler of a zip or a folder of photos: ``submit`` is the Studio's method for it."""

            def run(photos: Any, model: str, style: str, style_upload: Any, alpha: float, size: float,
                    request: gr.Request) -> tuple[str, str, Any, Any]:  # fmt: skip
                owner = owner_of(request)
                job, msg = one_line(lambda: submit(owner, photos, model, style, style_upload, size, alpha))
                if job is None:
                    return "", msg, None, None
                return show_instant(owner, job.id, wait=True)

            return run

        i_zip_go.click(instant_many(studio.submit_instant_zip), [i_zip, i_model, i_style, i_style_up, i_alpha, i_size],
                       [i_job, i_msg, i_result, i_file], api_name="instant_zip")  # fmt: skip
        i_folder_go.click(instant_many(studio.submit_instant_folder),
                          [i_folder, i_model, i_style, i_style_up, i_alpha, i_size],
                          [i_job, i_msg, i_result, i_file], api_name="instant_folder")  # fmt: skip

        def refresh_models(request: gr.Request) -> Any:
            rows = studio.models(owner_of(request))
            adain.update(r["name"] for r in rows if r["kind"] == "adain")
            return gr.Dropdown(choices=[r["name"] for r in rows])

        i_refresh.click(refresh_models, None, i_model, api_visibility="private")
        i_tab.select(refresh_models, None, i_model, api_visibility="private")  # the user's new stylisers
        i_model.change(lambda m: gr.update(interactive=m in adain), i_model, i_style, api_visibility="private")
        i_job.change(None, i_job, None, js=SET_URL_JS, api_visibility="private")

        # ---------------------------------------------------------------- Generate handlers
        def generate(run: str, seed: float, n: float, truncation: float, class_index: float,
                     request: gr.Request) -> tuple[str, str, Any, Any]:  # fmt: skip
            owner = owner_of(request)
            job, msg = one_line(lambda: studio.submit_generate(owner, run, seed, n, truncation, class_index))
            if job is None:
                return "", msg, None, None
            return show_instant(owner, job.id, wait=True)

        def refresh_runs(request: gr.Request) -> Any:
            names = [r["name"] for r in studio.runs(owner_of(request))]
            return gr.Dropdown(choices=names, value=names[0] if names else None)

        gen_in = [gen_run, gen_seed, gen_n, gen_trunc, gen_class]
        gen_go.click(generate, gen_in, [gen_job, gen_msg, gen_result, gen_file], api_name="generate")
        gen_refresh.click(refresh_runs, None, gen_run, api_visibility="private")

        def runs_on_tab(current: str, request: gr.Request) -> Any:  # the user's new runs; the chosen one stays
            names = [r["name"] for r in studio.runs(owner_of(request))]
            return gr.Dropdown(choices=names, value=current if current in names else (names[0] if names else None))

        gen_tab.select(runs_on_tab, gen_run, gen_run, api_visibility="private")
        gen_job.change(None, gen_job, None, js=SET_URL_JS, api_visibility="private")

        def job_status(job_id: str, request: gr.Request) -> dict[str, Any]:
            view, msg = one_line(lambda: studio.view(owner_of(request), job_id))
            if view is None:
                return {"error": msg}
            j = view.job
            return {"id": j.id, "kind": j.kind, "status": j.status, "progress": j.progress, "message": j.message,
                    "position": view.position, "error": j.error, "line": view.line}  # fmt: skip

        g_status_in = gr.Textbox(visible=False)
        g_status_in.submit(job_status, g_status_in, g_rows, api_name="job")

        # ---------------------------------------------------------------- Gallery handlers
        def serve_or_none(owner: str, job_id: str, name: str) -> str | None:
            return one_line(lambda: studio.serve(owner, job_id, name))[0]

        def show_gallery(request: gr.Request) -> tuple[list[tuple[str, str]], list[str], str]:
            owner = owner_of(request)
            items, ids = [], []
            for j in studio.gallery(owner):
                served = serve_or_none(owner, j.id, studio.image_name(j))
                if served:
                    items.append((served, caption(j)))
                    ids.append(j.id)
            return items, ids, "" if ids else "no finished jobs yet"

        def select(ids: list[str], evt: gr.SelectData) -> str:
            return ids[evt.index] if 0 <= evt.index < len(ids) else ""

        def details(job_id: str, request: gr.Request) -> tuple[str, Any, str]:
            owner = owner_of(request)
            if not job_id:
                return "", None, ""
            view, msg = one_line(lambda: studio.view(owner, job_id))
            if view is None:
                return "", None, msg
            served = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))[0] if view.result else None
            return params_text(view.job), served, view.line

        def delete(job_id: str, request: gr.Request) -> str:
            _, msg = one_line(lambda: studio.delete(owner_of(request), job_id))
            return msg or f"job {job_id} deleted"

        g_out = [g_images, g_ids, g_msg]
        g_refresh.click(show_gallery, None, g_out, api_visibility="private")
        g_tab.select(show_gallery, None, g_out, api_visibility="private")
        g_images.select(select, g_ids, g_job, api_visibility="private")
        g_job.change(details, g_job, [g_params, g_file, g_msg], api_name="download")
        deleted = g_delete.click(delete, g_job, g_msg, api_name="delete")
        deleted.then(show_gallery, None, g_out, api_visibility="private")
        g_rows_btn = gr.Button(visible=False)

        def rows(request: gr.Request) -> list[dict[str, Any]]:
            return gallery_rows(studio, owner_of(request))

        g_rows_btn.click(rows, None, g_rows, api_name="gallery")

        # ---------------------------------------------------------------- ?job=ID
        # ---------------------------------------------------------------- Open in Paint
        paint_fields = paint_tab["fields"]

        def fill_paint(settings: dict[str, Any], content: Any, style_file: Any) -> tuple[Any, ...]:
            """The Paint tab, selected, with ``settings`` in its fields (fields without a setting keep theirs)."""
            get = settings.get
            values = (
                content if content is not None else skip(), get("style", skip()),
                style_file if style_file is not None else skip(), get("size", skip()), get("iterations", skip()),
                get("style_weight", skip()), get("preserve_color", skip()), get("more_paintings", skip()),
                get("blend", skip()),
            )  # fmt: skip
            return (gr.Tabs(selected="paint"), *values)

        def reopen(job_id: str, request: gr.Request) -> tuple[Any, ...]:
            owner = owner_of(request)
            view, msg = one_line(lambda: studio.view(owner, job_id))
            if view is None or view.job.kind != "paint":
                return (skip(),) * (len(paint_fields) + 1) + (msg or f"job {job_id} is not a Paint job",)
            settings = paint_settings(view.job.params, studio.paintings)
            content = serve_or_none(owner, job_id, "content.png")
            style_file = serve_or_none(owner, job_id, "style.png") if settings["style"] == UPLOAD else None
            return (*fill_paint(settings, content, style_file), f"job {job_id}: its settings are in Paint")

        def open_png(path: Any) -> tuple[Any, ...]:
            def read() -> dict[str, Any]:
                studio.check_upload(path, "artforge PNG")
                return paint_settings(api.read_params(path), studio.paintings)

            settings, msg = one_line(read)
            if settings is None:
                return (skip(),) * (len(paint_fields) + 1) + (msg.replace(str(path), os.path.basename(str(path))),)
            return (*fill_paint(settings, None, None), "its settings are in Paint: add a content photo")

        reopen_out = [tabs, *paint_fields, g_msg]
        g_reopen.click(reopen, g_job, reopen_out, api_name="open_in_paint")
        g_png.upload(open_png, g_png, reopen_out, api_name="open_png")

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            owner = owner_of(request)
            tab, job_id, msg = open_job(studio, owner, request.query_params.get("job"))
            if tab == "paint":
                return gr.Tabs(selected="paint"), job_id, *(skip(),) * 8, msg
            none = (skip(),) * 4
            if tab == "instant" and job_id:
                return gr.Tabs(selected="instant"), skip(), *show_instant(owner, job_id), *none, msg
            if tab == "generate":
                return gr.Tabs(selected="generate"), skip(), *none, *show_instant(owner, job_id), msg
            return skip(), skip(), *none, *none, msg

        shown_i, shown_g = [i_job, i_msg, i_result, i_file], [gen_job, gen_msg, gen_result, gen_file]
        demo.load(on_load, None, [tabs, paint_tab["job"], *shown_i, *shown_g, url_msg], api_visibility="private")

        def on_load_more(request: gr.Request) -> tuple[Any, ...]:
            """?job=ID of a Train, Video or Generate-extras job: its tab, and its job id where the tab shows it."""
            owner = owner_of(request)
            tab, job_id, _ = open_job(studio, owner, request.query_params.get("job"))
            boxes = {"train": 1, "video": 2, "project": 3, "walk": 4, "mix": 4}
            if tab not in boxes:
                return (skip(),) * 9
            out: list[Any] = [skip()] * 5
            out[0] = gr.Tabs(selected="generate" if boxes[tab] > 2 else tab)
            out[boxes[tab]] = job_id
            return (*out, *(extras["shown"](owner, job_id, tab) if tab in ("walk", "mix") else (skip(),) * 4))

        more = [tabs, train_tab["job"], video_tab["job"], extras["project_job"], extras["extra_job"],
                *extras["shown_outputs"]]  # fmt: skip
        demo.load(on_load_more, None, more, api_visibility="private")
    return demo
