"""The Train page through ``gradio_client`` against a real studio: a tiny job that finishes and is then sampled in
Generate (grid, latent walk), Stop then Resume from the checkpoint, a ``kill -9`` restart then one Resume, another
user's job out of reach, bad training zips refused in one line, and a StyleGAN2 run trained on a zip whose styles
mix and into which a photo is projected."""

from __future__ import annotations

import json
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from artforge import api
from artforge.studio.uploads import MAX_TRAIN_ZIP_FILES

# dcgan on 256 Fashion-MNIST images at 32 px, batch 16: 16 img a step, a few hundred img/s on 2 cores
TINY = {
    "data_zip": None, "dataset": "fashion-mnist", "model": "dcgan", "style_upload": None, "resolution": 32,
    "batch": 16, "width": 8, "max_images": 256,
}  # fmt: skip

WaitJob = Callable[..., dict[str, Any]]  # the wait_job fixture (conftest.py)


def _status(client: Client, job: str) -> dict[str, Any]:
    state, _ = client.predict(job, api_name="/train_status")
    return dict(state)


def _until_trained(client: Client, job: str, steps: int, seconds: float = 90) -> dict[str, Any]:
    """The job's status once it has logged ``steps`` steps (it is still running)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = _status(client, job)
        if s["step"] >= steps:
            return s
        assert s["status"] in ("queued", "running"), s
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not reach step {steps}")


def _steps(data_dir: Path, job: str) -> list[int]:
    """The steps of the run's stats.jsonl, as written (a resume that started over would go back)."""
    stats = next((data_dir / "jobs" / job / "runs").glob("*/stats.jsonl"))
    return [json.loads(line)["step"] for line in stats.read_text().splitlines()]


def test_a_tiny_training_job_finishes_and_its_run_generates(wait_job: WaitJob, client: Client, studio: Any) -> None:
    job, msg = client.predict(**TINY, kimg=0.064, api_name="/train")
    assert msg == f"job {job} submitted"
    assert wait_job(client, job)["status"] == "done"
    state, grid = client.predict(job, api_name="/train_status")
    assert state["step"] == 4 and state["kimg"] == pytest.approx(0.064)
    assert state["checkpoint"] == "checkpoint-00000004.safetensors"
    assert [r["step"] for r in state["stats"]] == [1, 2, 3, 4] and "loss/G" in state["stats"][-1]
    assert Image.open(grid).size == (8 * 34 + 2, 8 * 34 + 2)  # the 64 snapshot samples of 32 px, padded
    run = f"{job}-{state['run']}"
    assert state["run"] == "00000-dcgan-fashion-mnist-32"
    g_job, g_msg, _, png = client.predict(run=run, seed=1, n=4, truncation=1.0, class_index=-1, api_name="/generate")
    assert g_msg.startswith(f"job {g_job}: done") and Image.open(png).size == (2 * 34 + 2, 2 * 34 + 2)
    # a latent walk through 3 points, 4 frames from one to the next: 2 x 4 + 1 frames
    w_job, w_msg, video, _ = client.predict(run=run, seed=0, points=3, frames=4, truncation=1.0, api_name="/walk")
    assert w_msg.startswith(f"job {w_job}: done")
    info = api.probe_video(video)
    assert info.frames == 9 and info.width == info.height  # square samples (enlarged for the codec)
    msg = client.predict(run=run, seed=0, n=2, band="coarse", truncation=1.0, api_name="/style_mix")[1]
    assert msg == f"{run} is a dcgan run; this is for stylegan2 runs"


def test_stop_then_resume_continues_from_the_checkpoint(wait_job: WaitJob, client: Client, studio: Any) -> None:
    job, _ = client.predict(**TINY, kimg=4, api_name="/train")  # 250 steps: longer than the test; a log tick each 6
    _until_trained(client, job, 3)
    stopping = client.predict(job, api_name="/train_stop")
    assert stopping == f"job {job}: stopping at the next step (a checkpoint is written)"
    state = wait_job(client, job)
    assert state["status"] == "cancelled" and "Resume continues it" in state["error"]
    stopped = _status(client, job)
    at = int(stopped["checkpoint"][len("checkpoint-") : -len(".safetensors")])
    assert at == stopped["step"] >= 3
    assert client.predict(job, api_name="/train_stop") == f"job {job} is cancelled; nothing to stop"
    kimg = (at + 3) * 16 / 1000  # three more steps
    assert client.predict(job, kimg, api_name="/train_resume") == (job, f"job {job}: resumed from its last checkpoint")
    assert wait_job(client, job)["status"] == "done"
    done = _status(client, job)
    assert done["step"] == at + 3 and done["total_kimg"] == pytest.approx(kimg)
    steps = _steps(studio.data_dir, job)
    # continued from `at`, not from 0 (the stop may log `at` twice when it falls on a log tick)
    assert steps == sorted(steps) and steps[-1] == at + 3 and steps.count(at) <= 2
    log = (studio.data_dir / "jobs" / job / "train.log").read_text()
    assert log.count("run: ") == 2 and len({ln for ln in log.splitlines() if ln.startswith("run: ")}) == 1
    msg = client.predict(job, 0, api_name="/train_resume")[1]
    assert msg == f"job {job} is done at kimg {done['kimg']:g}: give a larger kimg to train further"


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def _png(rng: np.random.Generator, side: int = 24) -> bytes:
    import io

    out = io.BytesIO()
    Image.fromarray((rng.random((side, side, 3)) * 255).astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_bad_training_zips_are_refused_in_one_line(client: Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    args = {**TINY, "dataset": "upload", "kimg": 0.016}
    cases = {
        "slip.zip": ({"a.png": _png(rng), "../../evil.png": _png(rng)},
                     "slip.zip: entry '../../evil.png' points outside the zip (zip slip)"),
        "abs.zip": ({"/etc/evil.png": _png(rng)}, "abs.zip: entry '/etc/evil.png' points outside the zip (zip slip)"),
        "many.zip": ({f"{i}.png": b"x" for i in range(MAX_TRAIN_ZIP_FILES + 1)},
                     f"many.zip: {MAX_TRAIN_ZIP_FILES + 1} files; at most {MAX_TRAIN_ZIP_FILES} in one zip"),
        "text.zip": ({"a.png": _png(rng), "notes/readme.png": b"hello"},
                     "text.zip entry notes/readme.png: not an image file PIL can read"),
    }  # fmt: skip
    for name, (entries, expected) in cases.items():
        path = _zip(tmp_path / name, entries)
        assert client.predict(**{**args, "data_zip": handle_file(str(path))}, api_name="/train") == ("", expected)
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.png": b"\0" * (12 * 2**20)})  # the studio's upload limit is 1 MB
    assert client.predict(**{**args, "data_zip": handle_file(str(bomb))}, api_name="/train")[1] == (
        "bomb.zip: its files unpack to more than 10 MB (limit); a zip bomb?"
    )
    assert client.predict(**args, api_name="/train")[1] == "data: upload a .zip of images, or choose a data set"


def test_a_data_set_not_on_the_machine_is_fetched_when_the_job_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Choosing mnist where it is missing queues the job, which first fetches it (as `artforge data fetch` does);
    offline, the fetch's one line fails the job before any training process starts. No download is tried here."""
    from artforge.studio import training
    from artforge.studio.jobs import JobStore
    from artforge.studio.runner import Runner

    fetched: list[str] = []
    ready = [{**d, "ready": False} if d["name"] == "mnist" else d for d in api.list_datasets()]
    monkeypatch.setattr(api, "list_datasets", lambda: ready)

    def offline(name: str, progress: bool = True) -> Path:
        fetched.append(name)
        raise api.ArtforgeError(f"{name}: the download failed (offline?); run `artforge data fetch {name}` when online")

    monkeypatch.setattr(api, "fetch_dataset", offline)
    store = JobStore(tmp_path / "data")
    store.open()
    runner = Runner(store, {"train": training.train})
    runner.start()
    try:
        job = runner.submit("ann", "train", {"config": {"data": "mnist", "model": "dcgan"}}, lambda d: None)
        runner.wait(job.id, 60)
    finally:
        runner.stop()
    ended = store.get("ann", job.id)
    assert fetched == ["mnist"] and ended.status == "failed" and ended.error is not None
    assert ended.error.startswith("mnist: the download failed (offline?)")
    assert ended.message == "fetching the mnist data set (once, for every later job too)"
    assert not (store.job_dir(job.id) / training.LOG).exists()  # no training process was started


def test_a_stylegan2_run_from_a_zip_mixes_styles_and_projects_a_photo(
    wait_job: WaitJob, client: Client, studio: Any, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    photos = _zip(tmp_path / "photos.zip", {f"set/{i}.png": _png(rng) for i in range(4)})
    job, _ = client.predict(handle_file(str(photos)), "upload", "stylegan2", 0.008, "mountains", None, 16, 4, 8, 0,
                            0, api_name="/train")  # fmt: skip
    assert wait_job(client, job)["status"] == "done"
    folder = studio.data_dir / "jobs" / job
    assert sorted(p.name for p in (folder / "data").iterdir()) == [f"img-{i:05d}.png" for i in range(4)]
    run = f"{job}-{_status(client, job)['run']}"
    m_job, m_msg, grid, _ = client.predict(run=run, seed=1, n=2, band="middle", truncation=1.0, api_name="/style_mix")
    assert m_msg.startswith(f"job {m_job}: done")
    assert Image.open(grid).size == (3 * 18 + 2, 3 * 18 + 2)  # sources x destinations + the headers, 16 px cells
    target = tmp_path / "target.png"
    target.write_bytes(_png(rng, 40))
    p_job, p_msg = client.predict(run=run, photo=handle_file(str(target)), steps=3, w_plus=True, seed=0,
                                  api_name="/project")  # fmt: skip
    state = wait_job(client, p_job)
    assert state["status"] == "done" and state["kind"] == "project" and state["message"].startswith("distance ")
    params, projected, _ = client.predict(p_job, api_name="/download")
    assert json.loads(params)["w_plus"] is True and Image.open(projected).size == (16, 16)
    with np.load(studio.data_dir / "jobs" / p_job / "w.npz") as f:
        assert f["ws"].shape[0] == 1 and f["ws"].shape[1] > 1
    # a long projection shows its steps, and Cancel stops it with the best so far kept in the job's folder
    long, _ = client.predict(run=run, photo=handle_file(str(target)), steps=1000, w_plus=False, seed=0,
                             api_name="/project")  # fmt: skip
    deadline = time.monotonic() + 120
    while not str(client.predict(long, api_name="/job").get("message")).startswith("step "):
        assert time.monotonic() < deadline, client.predict(long, api_name="/job")
        time.sleep(0.2)
    assert re.fullmatch(r"step \d+/1000 · best distance \S+", client.predict(long, api_name="/job")["message"])
    assert client.predict(long, api_name="/cancel") == f"job {long}: cancel requested"
    state = wait_job(client, long)
    assert state["status"] == "cancelled" and "the best projection after" in state["error"]
    assert (studio.data_dir / "jobs" / long / "projected.png").is_file()


def test_restart_then_one_resume_and_other_users_are_kept_out(wait_job: WaitJob, auth_studio: Any) -> None:
    ann = Client(auth_studio.url, auth=("ann", "pw-ann"), verbose=False)
    bob = Client(auth_studio.url, auth=("bob", "pw-bob"), verbose=False)
    job, _ = ann.predict(**TINY, kimg=4, api_name="/train")
    _until_trained(ann, job, 3)
    nothing = f"job {job}: no such job"
    assert bob.predict(job, api_name="/train_status")[0] == {"error": nothing}
    assert bob.predict(job, api_name="/train_stop") == nothing
    assert bob.predict(job, 0, api_name="/train_resume") == (job, nothing)
    assert bob.predict(job, api_name="/job") == {"error": nothing}

    auth_studio.restart()  # kill -9: the training process notices, stops cleanly and writes a checkpoint
    ann = Client(auth_studio.url, auth=("ann", "pw-ann"), verbose=False)
    state = ann.predict(job, api_name="/job")
    assert state["status"] == "interrupted" and state["error"] == "the server stopped before this job finished"
    listed = ann.predict(api_name="/train_jobs")
    assert [(r["id"], r["status"], r["model"], r["data"]) for r in listed] == [
        (job, "interrupted", "dcgan", "fashion-mnist")
    ]
    deadline = time.monotonic() + 60
    while not (auth_studio.data_dir / "jobs" / job / "train-result.json").is_file():  # the orphan's checkpoint
        assert time.monotonic() < deadline
        time.sleep(0.3)
    stopped, _ = ann.predict(job, api_name="/train_status")
    at = int(stopped["checkpoint"][len("checkpoint-") : -len(".safetensors")])
    assert at == stopped["step"] >= 3
    bob = Client(auth_studio.url, auth=("bob", "pw-bob"), verbose=False)
    assert bob.predict(job, 0, api_name="/train_resume") == (job, nothing)
    assert bob.predict(api_name="/train_jobs") == []
    kimg = (at + 2) * 16 / 1000
    assert ann.predict(job, kimg, api_name="/train_resume") == (job, f"job {job}: resumed from its last checkpoint")
    assert wait_job(ann, job)["status"] == "done"
    steps = _steps(auth_studio.data_dir, job)
    assert steps == sorted(steps) and steps[-1] == at + 2 and steps.count(at) <= 2
    assert job not in [r["id"] for r in bob.predict(api_name="/gallery")]
    assert job in [r["id"] for r in ann.predict(api_name="/gallery")]
    run = f"{job}-{ann.predict(job, api_name='/train_status')[0]['run']}"  # ann's run is hers to sample
    assert ann.predict(run=run, seed=0, n=1, api_name="/generate")[1].startswith("job ")
    for endpoint in ("/generate", "/walk"):
        msg = bob.predict(run=run, seed=0, api_name=endpoint)[1]
        assert "run must be one of" in msg or msg.startswith("no trained generator runs"), msg


def test_a_styliser_trained_on_a_zip_appears_in_instant(
    wait_job: WaitJob, client: Client, photo: Path, tmp_path: Path
) -> None:
    import skimage.data

    rng = np.random.default_rng(2)
    photos = _zip(tmp_path / "photos.zip", {f"{name}.png": _png(rng, 48) for name in ("a", "b", "c")})
    style = tmp_path / "coffee.png"
    Image.fromarray(skimage.data.coffee()).resize((64, 40)).save(style)
    job, msg = client.predict(data_zip=handle_file(str(photos)), dataset="upload", model="johnson", kimg=0.004,
                              style="upload", style_upload=handle_file(str(style)), resolution=32, batch=2, width=4,
                              api_name="/train")  # fmt: skip
    assert msg == f"job {job} submitted"
    assert wait_job(client, job)["status"] == "done"
    state = _status(client, job)
    assert state["params"]["style_name"] == "coffee.png" and state["params"]["model"] == "johnson"
    model = f"{job}-{state['run']}"
    i_job, msg, _, png = client.predict(content=handle_file(str(photo)), model=model, style_upload=None, size=64,
                                        api_name="/instant")  # fmt: skip
    assert msg.startswith(f"job {i_job}: done") and max(api.load_image(png).size) == 64
    assert api.read_params(png)["styles"] == []  # a per-style network: its style is built in
