"""Light jobs first: Instant jobs that wait together run as one batch (each result the same as alone, in its own
job's folder), a batch that fails runs again job by job, and heavy jobs give way while the light lane works."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from artforge import api
from artforge.studio import tasks
from artforge.studio.jobs import JobStore
from artforge.studio.runner import HEAVY_NICE, Batching, JobContext, Runner


def _store(tmp_path: Path) -> JobStore:
    store = JobStore(tmp_path / "data")
    store.open()
    return store


def _hold_light_lane(runner: Runner) -> threading.Event:
    """A 'generate' job that keeps the one light worker busy until the returned event is set."""
    release = threading.Event()
    runner.tasks["generate"] = lambda ctx: "held.txt" if release.wait(30) else "timeout"
    runner.submit("ann", "generate", {}, lambda d: (d / "held.txt").write_text("held"))
    return release


def _results(folder: Path) -> None:
    for name in ("result.png", *(f"r{n}.png" for n in range(8))):
        (folder / name).write_bytes(b"x")


def _by_key(p: Mapping[str, Any]) -> Hashable | None:
    return p.get("key")


def test_jobs_that_wait_together_share_one_batch_and_keep_their_own_outcomes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    batches: list[list[int]] = []

    def batch(ctxs: list[JobContext]) -> list[str | BaseException]:
        batches.append([int(c.job.params["n"]) for c in ctxs])
        return [api.ArtforgeError("bad photo") if c.job.params["n"] == 3 else f"r{c.job.params['n']}.png" for c in ctxs]

    def single(ctx: JobContext) -> str:
        batches.append([int(ctx.job.params["n"])])
        return f"r{ctx.job.params['n']}.png"

    runner = Runner(store, {"instant": single}, batching={"instant": Batching(_by_key, batch, largest=3)})
    runner.start()
    try:
        release = _hold_light_lane(runner)
        keys = ["a", "a", "b", "a", "a", None, "a"]
        jobs = [runner.submit("ann", "instant", {"n": n, "key": k}, _results) for n, k in enumerate(keys)]
        release.set()
        for job in jobs:
            runner.wait(job.id, 30)
    finally:
        runner.stop()
    # in order of arrival: job 0 takes the next two of its key (largest=3); 2 ("b") runs alone, as does 5 (no key)
    assert batches == [[0, 1, 3], [2], [4, 6], [5]]
    ended = {int(store.get("ann", j.id).params["n"]): store.get("ann", j.id) for j in jobs}
    assert ended[3].status == "failed" and ended[3].error == "bad photo"
    assert all(ended[n].status == "done" and ended[n].result == f"r{n}.png" for n in (0, 1, 2, 4, 5, 6))


def test_a_batch_that_fails_as_a_whole_runs_again_job_by_job(tmp_path: Path) -> None:
    store = _store(tmp_path)
    singles: list[int] = []

    def batch(ctxs: list[JobContext]) -> list[str | BaseException]:
        raise api.ArtforgeError("one photo in the batch is bad")

    def single(ctx: JobContext) -> str:
        singles.append(int(ctx.job.params["n"]))
        if ctx.job.params["n"] == 1:
            raise api.ArtforgeError("photo 1 is bad")
        return "result.png"

    runner = Runner(store, {"instant": single}, batching={"instant": Batching(_by_key, batch)})
    runner.start()
    try:
        release = _hold_light_lane(runner)
        jobs = [runner.submit("ann", "instant", {"n": n, "key": "k"}, _results) for n in range(3)]
        release.set()
        for job in jobs:
            runner.wait(job.id, 30)
    finally:
        runner.stop()
    assert singles == [0, 1, 2]
    assert [store.get("ann", j.id).status for j in jobs] == ["done", "failed", "done"]
    assert store.get("ann", jobs[1].id).error == "photo 1 is bad"


def test_a_cancelled_job_leaves_its_batch(tmp_path: Path) -> None:
    store = _store(tmp_path)
    seen: list[list[int]] = []

    def batch(ctxs: list[JobContext]) -> list[str | BaseException]:
        seen.append([int(c.job.params["n"]) for c in ctxs])
        return ["result.png"] * len(ctxs)

    runner = Runner(store, {"instant": lambda ctx: "result.png"}, batching={"instant": Batching(_by_key, batch)})
    runner.start()
    try:
        release = _hold_light_lane(runner)
        jobs = [runner.submit("ann", "instant", {"n": n, "key": "k"}, _results) for n in range(3)]
        runner.cancel("ann", jobs[1].id)
        release.set()
        for job in jobs:
            runner.wait(job.id, 30)
    finally:
        runner.stop()
    assert seen == [[0, 2]]
    assert [store.get("ann", j.id).status for j in jobs] == ["done", "cancelled", "done"]


def test_a_heavy_job_gives_way_while_the_light_lane_works(tmp_path: Path) -> None:
    """The painting's steps stop while an Instant job runs and go on after it; the heavy worker runs at a lower
    CPU priority (Linux: per-thread nice, and the SCHED_IDLE class), and the light worker does not."""
    store = _store(tmp_path)
    steps: list[float] = []
    nice: list[int] = []
    policy: dict[str, int] = {}
    light_running, light_release = threading.Event(), threading.Event()
    window: list[float] = []

    def paint(ctx: JobContext) -> str:
        if sys.platform.startswith("linux"):
            nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            policy["heavy"] = os.sched_getscheduler(0)
        while len(steps) < 400:
            ctx.check()
            steps.append(time.monotonic())
            time.sleep(0.005)
        return "result.png"

    def instant(ctx: JobContext) -> str:
        if sys.platform.startswith("linux"):
            policy["light"] = os.sched_getscheduler(0)
        light_running.set()
        window.append(time.monotonic())
        light_release.wait(30)
        window.append(time.monotonic())
        return "result.png"

    runner = Runner(store, {"paint": paint, "instant": instant})
    runner.start()
    try:
        long = runner.submit("ann", "paint", {}, _results)
        while len(steps) < 5:
            time.sleep(0.01)
        quick = runner.submit("bob", "instant", {}, _results)
        assert light_running.wait(10)
        time.sleep(0.5)
        light_release.set()
        runner.wait(quick.id, 10)
        runner.wait(long.id, 30)
    finally:
        light_release.set()
        runner.stop()
    assert store.get("ann", long.id).status == "done"
    start, end = window
    during = [t for t in steps if start + 0.05 < t < end]  # a step already past its check() may finish just after
    assert during == [] and steps[-1] > end
    if sys.platform.startswith("linux"):
        assert nice == [min(os.getpriority(os.PRIO_PROCESS, 0) + HEAVY_NICE, 19)]
        assert policy == {"heavy": os.SCHED_IDLE, "light": os.sched_getscheduler(0)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three real photos (scikit-image): two crops of one size, and another size."""
    import skimage.data

    folder = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(skimage.data.astronaut())
    imgs = [
        astronaut.crop((0, 0, 400, 300)),
        astronaut.crop((100, 150, 500, 450)),
        Image.fromarray(skimage.data.coffee()),
    ]
    for i, img in enumerate(imgs):
        img.save(folder / f"photo-{i}.png")
    return [folder / f"photo-{i}.png" for i in range(len(imgs))]


def test_instant_jobs_batched_give_the_same_pictures_as_alone_each_in_its_own_folder(
    tmp_path: Path, photos: list[Path]
) -> None:
    """Three real Instant jobs (adain-wesnoth-fast; two owners, two paintings) wait together and run as a batch:
    each result is its own photo in its own style, as the model gives it alone."""
    store = _store(tmp_path)
    runner = Runner(store, dict(tasks.TASKS), batching=tasks.BATCHING)
    paintings = list(api.sample_paintings())
    styles = [f"sample:{paintings[0]}", f"sample:{paintings[0]}", f"sample:{paintings[1]}"]
    runner.start()
    try:
        release = _hold_light_lane(runner)
        jobs = []
        for i, (photo, style) in enumerate(zip(photos, styles, strict=True)):
            params = {"content_name": photo.name, "model": "adain-wesnoth-fast", "style": style, "size": 96}

            def prepare(d: Path, photo: Path = photo) -> None:
                Image.open(photo).save(d / "content.png")

            jobs.append(runner.submit(["ann", "bob"][i % 2], "instant", params, prepare))
        release.set()
        for job in jobs:
            runner.wait(job.id, 120)
    finally:
        runner.stop()
    for i, (job, photo, style) in enumerate(zip(jobs, photos, styles, strict=True)):
        j = store.get(["ann", "bob"][i % 2], job.id)
        assert api.read_params(store.job_dir(j.id) / "result.png")["precision"] == "fp32"
        assert j.status == "done", j.error
        got = np.asarray(api.load_image(store.job_dir(j.id) / "result.png"), dtype=np.int16)
        alone = api.stylize_with_model(str(photo), tmp_path / f"alone-{i}.png", "adain-wesnoth-fast", styles=[style],
                                       size=96)[0]  # fmt: skip
        want = np.asarray(api.load_image(alone), dtype=np.int16)
        assert got.shape == want.shape and np.abs(got - want).max() <= 2
        assert "running adain-wesnoth-fast (a batch of 3)" == j.message


def test_instant_in_bf16_stays_within_a_level_of_fp32(tmp_path: Path, photos: list[Path]) -> None:
    """``--instant-precision bf16``: the job's params carry it into the engine and the PNG; the picture is the
    fp32 one within about a level on average (bf16 autocast of the convolutions)."""
    store = _store(tmp_path)
    runner = Runner(store, dict(tasks.TASKS), batching=tasks.BATCHING)
    runner.start()
    style = f"sample:{next(iter(api.sample_paintings()))}"
    params = {"content_name": "p.png", "model": "adain-wesnoth-fast", "style": style, "size": 96, "precision": "bf16"}
    try:
        job = runner.submit("ann", "instant", params, lambda d: Image.open(photos[2]).save(d / "content.png"))
        runner.wait(job.id, 120)
    finally:
        runner.stop()
    result = store.job_dir(job.id) / "result.png"
    assert store.get("ann", job.id).status == "done" and api.read_params(result)["precision"] == "bf16"
    fp32 = api.stylize_with_model(str(photos[2]), tmp_path / "fp32.png", "adain-wesnoth-fast", styles=[style], size=96)
    diff = np.abs(np.asarray(api.load_image(result), np.int16) - np.asarray(api.load_image(fp32[0]), np.int16))
    assert 0 < diff.mean() <= 1.5 and diff.max() <= 40  # not fp32 itself, and close to it
