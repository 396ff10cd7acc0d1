"""The Paint tab: Gatys optimisation of a photo in one or more styles (blend weights or masks), with the picture so
far, the level, a progress bar with the ETA and Cancel; endpoints /paint (one style), /paint_styles and /cancel."""
# No `from __future__ import annotations`: Gradio reads gr.Request parameters from real annotations.

import html
from typing import Any

from artforge import api
from artforge.studio.pages import SET_URL_JS, file_paths, job_header, one_line, owner_of, progress_html
from artforge.studio.service import PRESERVE, Studio
from artforge.studio.tasks import PREVIEW
from artforge.studio.ui_media import StylePicker


def build_paint_tab(gr: Any, studio: Studio, style_picker: StylePicker, names: list[str]) -> dict[str, Any]:
    """The tab and its handlers; returns its job box (``job``) and the fields Open in Paint fills (``fields``)."""
    skip = gr.skip
    with gr.Tab("Paint", id="paint"):
        with gr.Row():
            with gr.Column():
                p_content = gr.File(label="Content photo", elem_id="paint-content")
                p_style, p_style_up = style_picker("paint")
                p_size = gr.Slider(64, 1024, value=256, step=32, label="Size (long side, px)",
                                   elem_id="paint-size")  # fmt: skip
                p_iters = gr.Slider(1, 500, value=50, step=1, label="Iterations (finest level)",
                                    elem_id="paint-iterations")  # fmt: skip
                p_weight = gr.Slider(0.1, 100, value=api.StylizeConfig.style_weight, step=0.1,
                                     label="Style strength")  # fmt: skip
                p_color = gr.Radio(list(PRESERVE), value="none", label="Colour preservation")
                p_quick = gr.Checkbox(False, label="Quick (start from a fast result, refine the finest levels)",
                                      elem_id="paint-quick")  # fmt: skip
                with gr.Accordion("More styles: a blend, or one per region (masks)", open=False):
                    p_more = gr.CheckboxGroup(names, label="Bundled paintings to add after the style above",
                                              elem_id="paint-more")  # fmt: skip
                    p_more_up = gr.File(file_count="multiple", label="Style images to add (uploads)",
                                        elem_id="paint-more-upload")  # fmt: skip
                    p_blend = gr.Textbox(label="Blend weights, one per style in order (the style above, the "
                                         "paintings ticked, the uploads), e.g. 2 1; empty: equal",
                                         elem_id="paint-blend")  # fmt: skip
                    p_masks = gr.File(file_count="multiple", label="Masks, one per style in the same order: "
                                      "white where that style paints (instead of weights)",
                                      elem_id="paint-masks")  # fmt: skip
                with gr.Row():
                    p_go = gr.Button("Paint", variant="primary", elem_id="paint-go")
                    p_cancel = gr.Button("Cancel", variant="stop", elem_id="paint-cancel")
            with gr.Column():
                p_msg, p_job = job_header(gr, "paint")
                p_progress = gr.HTML(elem_id="paint-progress")
                p_preview = gr.Image(label="So far", type="filepath", interactive=False,
                                     elem_id="paint-preview")  # fmt: skip
                p_result = gr.Image(label="Result", type="filepath", interactive=False, format="png",
                                    elem_id="paint-result")  # fmt: skip
                p_file = gr.File(label="Download (PNG with its parameters)", elem_id="paint-download")
        p_seen = gr.State("")
        timer = gr.Timer(1.0)
        p_one = gr.Button(visible=False)  # /paint (in the tab: a component outside one would join the tab bar)

    def paint(content: Any, style: str, style_upload: Any, size: float, iterations: float, style_strength: float,
              preserve_color: str, quick: bool, more_paintings: list[str] | None, more_uploads: list[Any] | None,
              blend: str, masks: list[Any] | None, request: gr.Request) -> tuple[str, str]:  # fmt: skip
        owner = owner_of(request)
        job, msg = one_line(lambda: studio.submit_paint(
            owner, content, style, style_upload, size, iterations, style_strength, preserve_color, bool(quick),
            more_paintings, file_paths(more_uploads), blend, file_paths(masks),
        ))  # fmt: skip
        return (job.id, f"job {job.id} submitted") if job is not None else ("", msg)

    def poll(job_id: str, seen: str, request: gr.Request) -> tuple[Any, ...]:
        """Status, progress, preview, result, download and what was shown; skips when nothing changed."""
        if not job_id:
            return ("", None, None, None, "") if seen else (skip(),) * 5
        owner = owner_of(request)
        view, msg = one_line(lambda: studio.view(owner, job_id))
        if view is None:
            return (f"<div>{html.escape(msg)}</div>", None, None, None, "")
        mtime = view.preview.stat().st_mtime_ns if view.preview else 0
        key = f"{job_id}:{view.job.status}:{view.job.progress:.4f}:{view.job.message}:{mtime}"
        if key == seen:
            return (skip(),) * 5
        preview = one_line(lambda: studio.serve(owner, job_id, PREVIEW))[0] if view.preview else None
        result = one_line(lambda: studio.serve(owner, job_id, str(view.job.result)))[0] if view.result else None
        return (progress_html(view), preview, result, result, key)

    def cancel(job_id: str, request: gr.Request) -> str:
        job, msg = one_line(lambda: studio.cancel(owner_of(request), job_id))
        return msg if job is None else f"job {job.id}: cancel requested"

    paint_in = [p_content, p_style, p_style_up, p_size, p_iters, p_weight, p_color, p_quick]
    p_go.click(paint, [*paint_in, p_more, p_more_up, p_blend, p_masks], [p_job, p_msg],
               api_name="paint_styles")  # fmt: skip

    # /paint: one style, without the more-styles fields (Gradio's API makes every file input a required one)
    def paint_one(content: Any, style: str, style_upload: Any, size: float, iterations: float,
                  style_strength: float, preserve_color: str, quick: bool,
                  request: gr.Request) -> tuple[str, str]:  # fmt: skip
        return paint(content, style, style_upload, size, iterations, style_strength, preserve_color, quick,
                     None, None, "", None, request)  # fmt: skip

    p_one.click(paint_one, paint_in, [p_job, p_msg], api_name="paint")
    p_cancel.click(cancel, p_job, p_msg, api_name="cancel")
    poll_out = [p_progress, p_preview, p_result, p_file, p_seen]
    timer.tick(poll, [p_job, p_seen], poll_out, show_progress="hidden", api_visibility="private")
    p_job.change(poll, [p_job, p_seen], poll_out, show_progress="hidden", api_visibility="private")
    p_job.change(None, p_job, None, js=SET_URL_JS, api_visibility="private")
    return {
        "job": p_job,
        "fields": [p_content, p_style, p_style_up, p_size, p_iters, p_weight, p_color, p_more, p_blend],
    }
