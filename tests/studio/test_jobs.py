"""The job store and its worker lanes: restart marks interrupted, owners are isolated, paths stay inside a job's
folder, results appear whole or not at all, and a quick job never waits behind a long one."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from artforge import api
from artforge.studio.jobs import JobStore
from artforge.studio.runner import JobContext, Runner


def test_restart_marks_queued_and_running_jobs_interrupted(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    assert store.open() == 0
    done = store.create("ann", "instant", "light", {"n": 1})
    (store.job_dir(done.id) / "result.png").write_bytes(b"png")
    store.claim(done.id)
    store.finish(done.id, "done", result="result.png")
    running = store.create("ann", "paint", "heavy", {})
    store.claim(running.id)
    queued = store.create("bob", "paint", "heavy", {})

    again = JobStore(tmp_path)  # a new server on the same data dir
    assert again.open() == 2
    assert again.get("ann", done.id).status == "done"
    assert again.file("ann", done.id, "result.png").read_bytes() == b"png"
    for owner, job in (("ann", running), ("bob", queued)):
        j = again.get(owner, job.id)
        assert j.status == "interrupted" and j.error and "server stopped" in j.error


def test_only_the_owner_sees_cancels_and_deletes_a_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.open()
    job = store.create("ann", "paint", "heavy", {"size": 64})
    for action in (
        lambda: store.get("bob", job.id),
        lambda: store.cancel("bob", job.id),
        lambda: store.delete("bob", job.id),
        lambda: store.file("bob", job.id, "content.png"),
    ):
        with pytest.raises(api.ArtforgeError, match="no such job"):
            action()
    assert store.list("bob") == [] and [j.id for j in store.list("ann")] == [job.id]
    assert store.get("ann", job.id).status == "queued"  # bob's cancel did nothing
    with pytest.raises(api.ArtforgeError, match="cancel it before deleting"):
        store.delete("ann", job.id)
    assert store.cancel("ann", job.id).status == "cancelled"
    store.delete("ann", job.id)
    assert not store.job_dir(job.id).exists() and store.list("ann") == []


def test_requeue_puts_only_an_ended_job_of_its_owner_back_last_in_its_lane(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.open()
    job = store.create("ann", "train", "heavy", {"kimg": 1})
    later = store.create("ann", "train", "heavy", {"kimg": 1})
    with pytest.raises(api.ArtforgeError, match="it can be resumed once it has stopped"):
        store.requeue("ann", job.id, {"kimg": 2})  # still queued
    store.claim(job.id)
    store.finish(job.id, "cancelled", error="stopped at kimg 0.5")
    with pytest.raises(api.ArtforgeError, match="no such job"):
        store.requeue("bob", job.id, {"kimg": 2})
    again = store.requeue("ann", job.id, {"kimg": 2})
    assert (again.status, again.params, again.error, again.finished) == ("queued", {"kimg": 2}, None, None)
    assert store.position(again) == 2 and store.position(store.get("ann", later.id)) == 1  # behind the later job
    assert [j.id for j in store.list("ann", kind="train")] == [job.id, later.id]
    assert store.list("ann", kind="paint") == [] and store.list("bob", kind="train") == []


@pytest.mark.parametrize(
    "name", ["../jobs.sqlite3", "..", "/etc/passwd", "sub/result.png", "..%2fjobs.sqlite3", "", ".hidden", "a\\b"]
)
def test_file_names_outside_the_job_folder_are_refused(tmp_path: Path, name: str) -> None:
    store = JobStore(tmp_path)
    store.open()
    job = store.create("ann", "paint", "heavy", {})
    (store.job_dir(job.id) / "sub").mkdir()
    (store.job_dir(job.id) / "sub" / "result.png").write_bytes(b"x")
    with pytest.raises(api.ArtforgeError):
        store.file("ann", job.id, name)


@pytest.mark.parametrize("job_id", ["../../etc", "/tmp", "0123456789ab/../x", "ABCDEF012345", ""])
def test_job_ids_that_are_not_ids_are_refused(tmp_path: Path, job_id: str) -> None:
    store = JobStore(tmp_path)
    store.open()
    with pytest.raises(api.ArtforgeError, match="no such job"):
        store.get("ann", job_id)


def _runner(store: JobStore, tasks: dict[str, object]) -> Runner:
    runner = Runner(store, tasks, heavy=1, light=1)  # type: ignore[arg-type]
    runner.start()
    return runner


def test_a_result_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """A task that fails while writing leaves no result file and no temp file; one that succeeds leaves a whole PNG
    with its parameters (artforge's own save: temp file, then rename)."""
    store = JobStore(tmp_path)
    store.open()
    seen: list[list[str]] = []

    class Exploding:
        def save(self, fp: object, *args: object, **kwargs: object) -> None:
            Path(str(fp)).write_bytes(b"\x89PNG half")  # half a file, then the crash
            raise OSError(28, "No space left on device")

    def paint(ctx: JobContext) -> str:
        if ctx.job.params["crash"]:
            api.save_image(Exploding(), ctx.folder / "result.png")  # type: ignore[arg-type]
        api.save_image(Image.new("RGB", (32, 32), "red"), ctx.folder / "result.png", {"seed": 1})
        seen.append(sorted(p.name for p in ctx.folder.iterdir()))
        return "result.png"

    runner = _runner(store, {"paint": paint})
    try:
        bad = runner.submit("ann", "paint", {"crash": True}, lambda d: None)
        good = runner.submit("ann", "paint", {"crash": False}, lambda d: None)
        runner.wait(bad.id, 30)
        runner.wait(good.id, 30)
    finally:
        runner.stop()
    failed = store.get("ann", bad.id)
    assert failed.status == "failed" and "could not write" in str(failed.error) and failed.result is None
    assert list(store.job_dir(bad.id).iterdir()) == []  # neither the half file nor a temp file
    assert store.get("ann", good.id).status == "done" and seen == [["result.png"]]
    assert api.read_params(store.file("ann", good.id, "result.png")) == {"seed": 1}


def test_instant_lane_runs_while_a_paint_job_holds_the_heavy_lane(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.open()
    release = threading.Event()

    def paint(ctx: JobContext) -> str:
        while not release.wait(0.05):
            ctx.check()  # raises Cancelled once its owner cancels
        return "none"

    def instant(ctx: JobContext) -> str:
        (ctx.folder / "result.png").write_bytes(b"ok")
        return "result.png"

    runner = _runner(store, {"paint": paint, "instant": instant})
    try:
        long = runner.submit("ann", "paint", {}, lambda d: None)
        waiting = runner.submit("bob", "paint", {}, lambda d: None)
        deadline = time.monotonic() + 10
        while store.get("ann", long.id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.position(store.get("bob", waiting.id)) == 1
        quick = runner.submit("bob", "instant", {}, lambda d: None)
        runner.wait(quick.id, 10)
        assert store.get("bob", quick.id).status == "done"  # while the painting still runs
        assert store.get("ann", long.id).status == "running"
        with pytest.raises(api.ArtforgeError):
            runner.cancel("bob", long.id)  # not bob's
        assert runner.cancel("bob", waiting.id).status == "cancelled"  # queued: at once
        runner.cancel("ann", long.id)
        runner.wait(long.id, 10)
        assert store.get("ann", long.id).status == "cancelled"
    finally:
        release.set()
        runner.stop()


def test_stopping_the_server_interrupts_the_running_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.open()
    started = threading.Event()

    def paint(ctx: JobContext) -> str:
        started.set()
        while True:
            ctx.check()
            time.sleep(0.02)

    runner = _runner(store, {"paint": paint})
    job = runner.submit("ann", "paint", {}, lambda d: None)
    assert started.wait(10)
    runner.stop()
    j = store.get("ann", job.id)
    assert j.status == "interrupted" and j.error == "the server stopped before this job finished"


def test_the_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "studio")
    store.open()
    store.create("ann", "instant", "light", {"model": "adain-wesnoth-fast"})
    with sqlite3.connect(tmp_path / "studio" / "jobs.sqlite3") as c:
        assert c.execute("SELECT owner, kind, status FROM jobs").fetchall() == [("ann", "instant", "queued")]
