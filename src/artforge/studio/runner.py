"""Two lanes of worker threads over the job store: heavy (Paint, Train, Video, projection) and light (Instant,
Generate and its walk and style mixing), so that a quick job never waits behind a long painting or a training run;
each job can be cancelled by its owner, and an ended training job put back in the queue (resumed)."""

from __future__ import annotations

import queue
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artforge import api
from artforge.studio.jobs import Job, JobStore

LANES = {
    "paint": "heavy", "train": "heavy", "video": "heavy", "project": "heavy",
    "instant": "light", "generate": "light", "walk": "light", "mix": "light",
}  # fmt: skip


class Cancelled(Exception):  # noqa: N818 (an outcome, not an error)
    """A task stops because its owner cancelled it; its message, if any, says what was kept."""


@dataclass
class JobContext:
    """What a running task may do: read its folder, report progress, and notice a cancel request."""

    store: JobStore
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def folder(self) -> Path:
        return self.store.job_dir(self.job.id)

    def report(self, progress: float, message: str) -> None:
        self.store.report(self.job.id, progress, message)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled


Task = Callable[[JobContext], str]  # runs a job; returns its result file name in the job's folder


class Runner:
    """Worker threads per lane (``heavy`` and ``light``, see LANES) taking job ids in order."""

    def __init__(self, store: JobStore, tasks: Mapping[str, Task], heavy: int = 1, light: int = 1) -> None:
        self.store, self.tasks = store, dict(tasks)
        self.workers = {"heavy": max(1, heavy), "light": max(1, light)}
        self.queues: dict[str, queue.Queue[str | None]] = {lane: queue.Queue() for lane in self.workers}
        self.running: dict[str, JobContext] = {}
        self.done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.stopping = False

    def start(self) -> None:
        for lane, n in self.workers.items():
            for i in range(n):
                t = threading.Thread(target=self._work, args=(lane,), name=f"studio-{lane}-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the running jobs (marked interrupted, as after a crash) and end the workers."""
        with self._lock:
            self.stopping = True
            for ctx in self.running.values():
                ctx.cancel.set()
        for lane, n in self.workers.items():
            for _ in range(n):
                self.queues[lane].put(None)
        for t in self._threads:
            t.join(timeout)

    def submit(self, owner: str, kind: str, params: dict[str, Any], prepare: Callable[[Path], None]) -> Job:
        """A new job of ``kind``: ``prepare(folder)`` writes its inputs, then it joins its lane's queue."""
        if kind not in self.tasks:
            raise api.ArtforgeError(f"unknown job kind {kind!r}")
        job = self.store.create(owner, kind, LANES[kind], params)
        try:
            prepare(self.store.job_dir(job.id))
        except BaseException as e:
            self.store.finish(job.id, "failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__)
            raise
        return self._queue(job)

    def _queue(self, job: Job) -> Job:
        with self._lock:
            self.done[job.id] = threading.Event()
        self.queues[job.lane].put(job.id)
        return job

    def requeue(self, owner: str, job_id: str, params: dict[str, Any]) -> Job:
        """An ended job of ``owner`` back in its lane's queue with ``params`` (resuming a training job)."""
        return self._queue(self.store.requeue(owner, job_id, params))

    def cancel(self, owner: str, job_id: str) -> Job:
        job = self.store.cancel(owner, job_id)
        with self._lock:
            ctx = self.running.get(job.id)
            if ctx is not None:
                ctx.cancel.set()
            if job.status == "cancelled" and job.id in self.done:
                self.done[job.id].set()
        return job

    def wait(self, job_id: str, timeout: float) -> None:
        """Until the job has ended (or ``timeout`` seconds have passed)."""
        with self._lock:
            event = self.done.get(job_id)
        if event is not None:
            event.wait(timeout)

    def _work(self, lane: str) -> None:
        while (job_id := self.queues[lane].get()) is not None:
            job = self.store.claim(job_id)
            if job is None:  # cancelled while it waited
                with self._lock:
                    self.done.pop(job_id, None)
                continue
            ctx = JobContext(self.store, job)
            with self._lock:
                self.running[job.id] = ctx
            try:
                result = self.tasks[job.kind](ctx)
                self.store.finish(job.id, "done", result=result)
            except (Cancelled, api.Interrupted) as e:
                kept = f"; {e}" if isinstance(e, Cancelled) and str(e) else ""
                if self.stopping:
                    self.store.finish(job.id, "interrupted", error=f"the server stopped before this job finished{kept}")
                else:
                    self.store.finish(job.id, "cancelled", error=f"cancelled by its owner{kept}")
            except api.ArtforgeError as e:
                self.store.finish(job.id, "failed", error=str(e))
            except Exception as e:  # noqa: BLE001 - a job's crash must not end its worker; the log keeps the trace
                traceback.print_exc(file=sys.stderr)
                self.store.finish(job.id, "failed", error=f"{type(e).__name__}: {e}".splitlines()[0])
            finally:
                with self._lock:
                    self.running.pop(job.id, None)
                    event = self.done.pop(job.id, None)
                if event is not None:
                    event.set()
