"""The page handlers, independent of Gradio's layout: each takes the user's inputs and the owner, calls the
:class:`Studio`, and turns every user error into one line for the page (never a traceback)."""

from __future__ import annotations

import html
import json
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from artforge import api
from artforge.studio.jobs import Job
from artforge.studio.service import JobView, Studio

T = TypeVar("T")
LOCAL_USER = "local"  # the owner of every job when the studio runs without --auth

# After a job is submitted or opened, the address bar holds ?job=ID: a refresh or a copied link shows it again.
SET_URL_JS = """(id) => { if (id) { const u = new URL(window.location.href); u.searchParams.set('job', id);
  window.history.replaceState(null, '', u.toString()); } return []; }"""


def owner_of(request: Any) -> str:
    """The signed-in Gradio user, or ``local`` without auth."""
    name = getattr(request, "username", None) if request is not None else None
    return str(name) if name else LOCAL_USER


def one_line(action: Callable[[], T]) -> tuple[T | None, str]:
    """``(result, "")``, or ``(None, message)`` where the message is one line: a user error as artforge words it,
    anything else by its type (its traceback goes to the server's log, not the page)."""
    try:
        return action(), ""
    except api.ArtforgeError as e:
        return None, str(e).splitlines()[0] if str(e) else "error"
    except Exception as e:  # noqa: BLE001 - the page shows one line; the server log keeps the trace
        traceback.print_exc(file=sys.stderr)
        return None, f"internal error ({type(e).__name__}); the server log has the details"


def progress_html(view: JobView | None) -> str:
    """A progress bar and the job's status line."""
    if view is None:
        return ""
    j = view.job
    value = 1.0 if j.status == "done" else j.progress
    return (
        f'<div class="artforge-progress" data-status="{j.status}">'
        f'<progress max="1" value="{value:.3f}" style="width:100%"></progress>'
        f"<div>{html.escape(view.line)}</div></div>"
    )


def params_text(job: Job) -> str:
    return json.dumps({"id": job.id, "kind": job.kind, **job.params}, indent=1, sort_keys=True)


def caption(job: Job) -> str:
    p = job.params
    what = {
        "instant": p.get("model"), "generate": f"{p.get('run_name')} n={p.get('n')}",
        "video": f"video {p.get('model')}",
        "train": f"train {p.get('model')} on {p.get('data_name')}, {p.get('kimg')} kimg",
        "walk": f"walk {p.get('run_name')}", "mix": f"style mix {p.get('run_name')}",
        "project": f"projection into {p.get('run_name')}",
    }.get(job.kind, f"paint {p.get('size')} px")  # fmt: skip
    names = p.get("style_names") or [p.get("style_name") or ""]
    style = " + ".join(str(n) for n in names if n)
    return f"{job.id} · {what}" + (f" · {style}" if style else "")


def gallery_rows(studio: Studio, owner: str) -> list[dict[str, Any]]:
    """The owner's finished jobs as plain data (the API's view of the Gallery)."""
    return [
        {"id": j.id, "kind": j.kind, "status": j.status, "params": j.params, "finished": j.finished}
        for j in studio.gallery(owner)
    ]


PAINT_FIELDS = ("size", "iterations", "style_weight", "preserve_color")


def paint_settings(params: dict[str, Any], paintings: Iterable[str]) -> dict[str, Any]:
    """Paint's fields from a Paint job's parameters or from an artforge PNG's (``{content, styles, config}``):
    size, iterations, style_weight, preserve_color as found, and ``style``: a bundled painting's name, or
    ``upload`` for any other style (its file is not in a PNG's parameters)."""
    cfg = params.get("config", params)
    if not isinstance(cfg, dict):
        raise api.ArtforgeError("the PNG's artforge parameters hold no Paint settings")
    out = {k: cfg[k] for k in PAINT_FIELDS if k in cfg}
    styles = params.get("styles") or []
    style = str(params.get("style") or (styles[0] if isinstance(styles, list) and styles else ""))
    name = style.removeprefix("sample:")
    out["style"] = name if style.startswith("sample:") and name in set(paintings) else "upload"
    more = [str(s).removeprefix("sample:") for s in styles[1:]] if isinstance(styles, list) else []
    out["more_paintings"] = [n for n in more if n in set(paintings)]  # uploads among them are not in a PNG
    blend = cfg.get("style_blend") or params.get("blend")
    out["blend"] = " ".join(f"{float(w):g}" for w in blend) if isinstance(blend, list) else ""
    if not out.keys() & set(PAINT_FIELDS):
        raise api.ArtforgeError("the PNG's artforge parameters hold no Paint settings (an Instant or Generate result?)")
    return out


def file_paths(files: Any) -> list[str]:
    """The paths of a multi-file upload (Gradio gives paths, or objects with ``.name``); none: []."""
    return [str(getattr(f, "name", f)) for f in files or []]


def open_job(studio: Studio, owner: str, job_id: str | None) -> tuple[str, str, str]:
    """For ``?job=ID``: (tab to show, the job id, a message); an unknown or foreign id says so in one line."""
    if not job_id:
        return "instant", "", ""
    view, msg = one_line(lambda: studio.view(owner, job_id))
    if view is None:
        return "instant", "", msg
    return view.job.kind, view.job.id, ""


def job_header(gr: Any, prefix: str) -> tuple[Any, Any]:
    """The one-line message and the job id box at the head of a tab's result column (``PREFIX-msg``, ``PREFIX-job``)."""
    return gr.Markdown(elem_id=f"{prefix}-msg"), gr.Textbox(label="Job", interactive=False, elem_id=f"{prefix}-job")
