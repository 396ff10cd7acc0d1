"""The Video page and Paint's quick tier through ``gradio_client`` against a real studio: a clip comes back with the
same frame count and size; a file that is not a video is refused in one line; a quick Paint job starts from a fast
feed-forward result (its parameters say init=fast)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file

from artforge import api
from artforge.data.video import read_frames, write_frames

WaitJob = Callable[..., dict[str, Any]]  # the wait_job fixture (conftest.py)


def test_a_video_job_stylises_every_frame(wait_job: WaitJob, client: Client, studio: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clip = write_frames(tmp_path / "clip.mp4", [(rng.random((48, 64, 3)) * 255).astype(np.uint8) for _ in range(7)],
                        fps=10)  # fmt: skip
    job, msg = client.predict(video=handle_file(str(clip)), model="johnson-mountains", style_upload=None, size=64,
                              api_name="/video")  # fmt: skip
    assert msg == f"job {job} submitted"
    state = wait_job(client, job)
    assert state["status"] == "done" and state["kind"] == "video" and state["message"] == "frame 7/7"
    params, result, line = client.predict(job, api_name="/download")
    assert line.startswith(f"job {job}: done") and json.loads(params)["model"] == "johnson-mountains"
    info = api.probe_video(result)
    assert (info.width, info.height, info.frames) == (64, 48, 7)
    frames = read_frames(result)
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3)
    assert (studio.data_dir / "jobs" / job / "preview.png").is_file()  # the gallery's picture: the first frame
    assert job in [r["id"] for r in client.predict(api_name="/gallery")]
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    job, msg = client.predict(video=handle_file(str(notes)), model="johnson-mountains", style_upload=None,
                              api_name="/video")  # fmt: skip
    assert job == "" and msg.startswith("video notes.mp4: ") and "\n" not in msg
    job, msg = client.predict(video=None, model="johnson-mountains", style_upload=None, api_name="/video")
    assert msg == "video: upload a clip first"


def test_paint_quick_starts_from_a_fast_result(wait_job: WaitJob, client: Client, photo: Path) -> None:
    job, msg = client.predict(content=handle_file(str(photo)), style="altar", style_upload=None, size=64,
                              iterations=3, quick=True, api_name="/paint")  # fmt: skip
    assert msg == f"job {job} submitted"
    assert wait_job(client, job)["status"] == "done"
    params, png, _ = client.predict(job, api_name="/download")
    assert json.loads(params)["init"] == "fast" and api.read_params(png)["config"]["init"] == "fast"  # type: ignore[index]
    plain, _ = client.predict(content=handle_file(str(photo)), style="altar", style_upload=None, size=64, iterations=1,
                              api_name="/paint")  # fmt: skip
    assert wait_job(client, plain)["status"] == "done"
    assert json.loads(client.predict(plain, api_name="/download")[0])["init"] == "content"


class _Net:
    """A stand-in styliser: returns its input, has an encoder the video pipeline may swap."""

    kind, needs_style, encoder = "johnson", False, "vgg"

    def __call__(self, x: Any, styles: Any = None, alpha: float = 1.0) -> Any:
        return x


def test_the_video_styliser_counts_frames_stops_on_cancel_and_limits_the_clip(tmp_path: Path) -> None:
    from artforge.studio.jobs import JobStore
    from artforge.studio.media import MAX_VIDEO_FRAMES, Counting
    from artforge.studio.runner import Cancelled, JobContext

    store = JobStore(tmp_path)
    store.open()
    job = store.create("local", "video", "heavy", {})
    ctx = JobContext(store, job)
    net, inner = Counting(_Net(), ctx, 4), _Net()
    assert [net(i) for i in range(4)] == [0, 1, 2, 3] and net.kind == "johnson" and not net.needs_style
    row = store.get("local", job.id)
    assert (row.progress, row.message) == (0.99, "frame 4/4")  # done when the video is written
    net.encoder = "memo"  # style_features_once swaps the encoder of the real styliser, not of the wrapper
    assert net._inner.encoder == "memo" and inner.encoder == "vgg"
    ctx.cancel.set()
    with pytest.raises(Cancelled):
        net(3)
    endless = Counting(_Net(), JobContext(store, job), None)  # a container that does not say how long it is
    for i in range(MAX_VIDEO_FRAMES):
        endless(i)
    assert store.get("local", job.id).message.startswith("frame ")
    with pytest.raises(api.ArtforgeError, match=f"more than {MAX_VIDEO_FRAMES} frames"):
        endless(0)
