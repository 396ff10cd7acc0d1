"""Two lanes of worker threads over the job store: heavy (Paint, Train, Video, projection) and light (Instant,
Generate and its walk and style mixing), so that a quick job never waits behind a long painting or a training run;
each job can be cancelled by its owner, and an ended training job put back in the queue (resumed).

Light jobs come first: heavy workers run at a lower CPU priority (nice, on Linux) and pause at their next
``check()`` while the light lane is busy; light jobs that wait together with one batch key (Instant jobs of one
model, size and alpha) are taken together and run as one batch."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artforge import api
from artforge.studio.jobs import Job, JobStore

LANES = {
    "paint": "heavy", "train": "heavy", "video": "heavy", "project": "heavy",
    "instant": "light", "generate": "light", "walk": "light", "mix": "light",
}  # fmt: skip
HEAVY_NICE = 10  # CPU priority of the heavy workers (and the processes they start) below the light lane's
MAX_PAUSE_S = 10.0  # a heavy job waits at most this long at one check() for the light lane, then takes a step
BATCH_WINDOW_S = 0.5  # after a batch of n, the next waits this long at most for n - 1 more jobs of its key


class Cancelled(Exception):  # noqa: N818 (an outcome, not an error)
    """A task stops because its owner cancelled it; its message, if any, says what was kept."""


class Gate:
    """Counts the light jobs running; heavy jobs wait for it to be idle (see :meth:`JobContext.check`)."""

    def __init__(self) -> None:
        self._busy = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, cancel: threading.Event, limit: float = MAX_PAUSE_S) -> None:
        """Until no light job runs, ``cancel`` is set or ``limit`` seconds have passed."""
        deadline = time.monotonic() + limit
        with self._idle:
            while self._busy and not cancel.is_set() and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(min(left, 0.1))


class LaneQueue:
    """A lane's waiting job ids in order; a worker takes the first, and with it later ones that match."""

    def __init__(self) -> None:
        self._items: deque[str | None] = deque()
        self._ready = threading.Condition()

    def put(self, item: str | None) -> None:
        with self._ready:
            self._items.append(item)
            self._ready.notify_all()

    def get(self) -> str | None:
        with self._ready:
            while not self._items:
                self._ready.wait()
            return self._items.popleft()

    def take(self, match: Callable[[str], bool], limit: int, want: int = 0, wait: float = 0.0) -> list[str]:
        """Up to ``limit`` waiting ids that ``match``, in order, out of the queue; when fewer than ``want`` wait,
        first up to ``wait`` seconds for more to arrive."""

        def matching() -> list[str]:
            return [i for i in self._items if i is not None and match(i)][: max(0, limit)]

        with self._ready:
            if wait > 0 and want > 0:
                self._ready.wait_for(lambda: len(matching()) >= min(want, limit) or None in self._items, wait)
            picked = matching()
            for i in picked:
                self._items.remove(i)
            return picked


@dataclass
class JobContext:
    """What a running task may do: read its folder, report progress, and notice a cancel request."""

    store: JobStore
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    light: Gate | None = None  # heavy jobs: the light lane, which check() gives way to

    @property
    def folder(self) -> Path:
        return self.store.job_dir(self.job.id)

    def report(self, progress: float, message: str) -> None:
        self.store.report(self.job.id, progress, message)

    def give_way(self) -> None:
        """A heavy job: wait while light jobs run (at most MAX_PAUSE_S); a light job: return at once."""
        if self.light is not None:
            self.light.wait_idle(self.cancel)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the owner cancelled; a heavy job first gives way to running light jobs."""
        self.give_way()
        if self.cancel.is_set():
            raise Cancelled


Task = Callable[[JobContext], str]  # runs a job; returns its result file name in the job's folder
# jobs that arrived together -> per job, its result file name or what it raised
BatchTask = Callable[[list[JobContext]], list[str | BaseException]]


@dataclass(frozen=True)
class Batching:
    """How a kind of job is batched: ``key(params)`` (None: never batched), the batch task, the largest batch."""

    key: Callable[[Mapping[str, Any]], Hashable | None]
    run: BatchTask
    largest: int = 16


def _lower_priority() -> None:
    """This thread (and the threads and processes it starts) at nice HEAVY_NICE and, on Linux, in the SCHED_IDLE
    class: a light job's thread that wakes up takes the core at once instead of after the heavy thread's time slice,
    which matters to the many short OpenMP barriers of a batch (both per thread on Linux; no privilege needed)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICE)
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


class Runner:
    """Worker threads per lane (``heavy`` and ``light``, see LANES) taking job ids in order."""

    def __init__(
        self, store: JobStore, tasks: Mapping[str, Task], heavy: int = 1, light: int = 1,
        batching: Mapping[str, Batching] | None = None,
    ) -> None:  # fmt: skip
        self.store, self.tasks, self.batching = store, dict(tasks), dict(batching or {})
        self.workers = {"heavy": max(1, heavy), "light": max(1, light)}
        self.queues: dict[str, LaneQueue] = {lane: LaneQueue() for lane in self.workers}
        self.running: dict[str, JobContext] = {}
        self.done: dict[str, threading.Event] = {}
        self.keys: dict[str, tuple[str, Hashable]] = {}  # waiting job id -> (kind, batch key)
        self.last_batch: dict[tuple[str, Hashable], int] = {}  # batch key -> size of its last batch
        self.light = Gate()
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
        batching = self.batching.get(job.kind)
        key = batching.key(job.params) if batching else None
        with self._lock:
            self.done[job.id] = threading.Event()
            if key is not None:
                self.keys[job.id] = (job.kind, key)
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
        if lane == "heavy":
            _lower_priority()
        while (job_id := self.queues[lane].get()) is not None:
            ctxs = [ctx for i in self._take(lane, job_id) if (ctx := self._claim(i, lane)) is not None]
            if not ctxs:
                continue
            with self.light.busy() if lane == "light" else contextlib.nullcontext():
                outcomes = self._run(ctxs)
            for ctx, outcome in zip(ctxs, outcomes, strict=True):
                self._finish(ctx, outcome)

    def _take(self, lane: str, job_id: str) -> list[str]:
        """``job_id`` and the waiting jobs of its batch key (none when its kind is not batched); after a batch of
        n, up to BATCH_WINDOW_S for n - 1 others to arrive."""
        with self._lock:
            key = self.keys.pop(job_id, None)
        if key is None:
            return [job_id]
        # the users of the last batch send their next jobs one by one, just after it: a short wait gathers them
        # into one batch, where taking the first few at once would run them as a small batch ahead of the rest
        last = self.last_batch.get(key, 1)
        more = self.queues[lane].take(
            lambda i: self.keys.get(i) == key, self.batching[key[0]].largest - 1, last - 1,
            BATCH_WINDOW_S if last > 1 else 0.0,
        )  # fmt: skip
        self.last_batch[key] = 1 + len(more)
        with self._lock:
            for i in more:
                self.keys.pop(i, None)
        return [job_id, *more]

    def _claim(self, job_id: str, lane: str) -> JobContext | None:
        job = self.store.claim(job_id)
        with self._lock:
            if job is None:  # cancelled while it waited
                self.done.pop(job_id, None)
                return None
            ctx = JobContext(self.store, job, light=self.light if lane == "heavy" else None)
            self.running[job.id] = ctx
            return ctx

    def _run(self, ctxs: list[JobContext]) -> list[str | BaseException]:
        """Each job's result name or exception; a batch that fails as a whole runs again job by job, so that one
        job's bad input fails only that job."""
        kind = ctxs[0].job.kind
        if len(ctxs) > 1:
            try:
                return self.batching[kind].run(ctxs)
            except Exception:  # noqa: BLE001 - retried one by one below, where each job gets its own outcome
                pass
        return [_outcome(self.tasks[kind], ctx) for ctx in ctxs]

    def _finish(self, ctx: JobContext, outcome: str | BaseException) -> None:
        job = ctx.job
        try:
            if isinstance(outcome, str):
                try:
                    self.store.finish(job.id, "done", result=outcome)
                except api.ArtforgeError as e:  # the task named a file that is not there
                    self.store.finish(job.id, "failed", error=str(e))
            elif isinstance(outcome, (Cancelled, api.Interrupted)):
                kept = f"; {outcome}" if isinstance(outcome, Cancelled) and str(outcome) else ""
                if self.stopping:
                    self.store.finish(job.id, "interrupted", error=f"the server stopped before this job finished{kept}")
                else:
                    self.store.finish(job.id, "cancelled", error=f"cancelled by its owner{kept}")
            elif isinstance(outcome, api.ArtforgeError):
                self.store.finish(job.id, "failed", error=str(outcome))
            else:  # a job's crash must not end its worker; the log keeps the trace
                traceback.print_exception(outcome, file=sys.stderr)
                self.store.finish(job.id, "failed", error=f"{type(outcome).__name__}: {outcome}".splitlines()[0])
        finally:
            with self._lock:
                self.running.pop(job.id, None)
                event = self.done.pop(job.id, None)
            if event is not None:
                event.set()


def _outcome(task: Task, ctx: JobContext) -> str | BaseException:
    try:
        return task(ctx)
    except Exception as e:  # noqa: BLE001 - the outcome of the job, reported by Runner._finish
        return e
