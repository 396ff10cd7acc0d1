"""The studio's job store: one SQLite row per job in the data dir, each job's files beside it under ``jobs/<id>/``."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artforge.api import ArtforgeError

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
_ID = re.compile(r"^[0-9a-f]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  owner TEXT NOT NULL,
  kind TEXT NOT NULL,
  lane TEXT NOT NULL,
  status TEXT NOT NULL,
  params TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  result TEXT,
  error TEXT,
  created REAL NOT NULL,
  started REAL,
  finished REAL
)
"""


@dataclass(frozen=True)
class Job:
    """One row of the store: ``params`` as given at submission, ``result`` a file name in the job's folder."""

    seq: int
    id: str
    owner: str
    kind: str  # paint | instant | generate | train | video | walk | mix | project
    lane: str  # heavy | light
    status: str  # one of STATUSES
    params: dict[str, Any]
    progress: float  # 0..1
    message: str  # level, step, ETA while running
    result: str | None
    error: str | None
    created: float
    started: float | None
    finished: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["params"] = json.loads(d["params"])
    return Job(**d)


class JobStore:
    """Jobs in ``<root>/jobs.sqlite3`` and files in ``<root>/jobs/<id>/``. Nothing touches the disk until
    :meth:`open`; every method is safe to call from several threads."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.db = self.root / "jobs.sqlite3"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> int:
        """Create the store if new; jobs left queued or running by a previous server become ``interrupted``.
        Returns how many were."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "jobs").mkdir(exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute(_SCHEMA)
            cur = c.execute(
                "UPDATE jobs SET status='interrupted', finished=?, "
                "error='the server stopped before this job finished' WHERE status IN ('queued', 'running')",
                (time.time(),),
            )
            return cur.rowcount

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """The store's one connection (opened on first use, shared by the threads under a lock), in a transaction:
        committed, or rolled back on an exception."""
        with self._lock:
            if self._db is None:
                self._db = sqlite3.connect(self.db, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: commits survive kill -9 (not a power cut)
                self._db.row_factory = sqlite3.Row
            with self._db:
                yield self._db

    def create(self, owner: str, kind: str, lane: str, params: dict[str, Any]) -> Job:
        """A new queued job (its folder made); the caller puts its files there and queues it."""
        job_id = secrets.token_hex(6)
        self.job_dir(job_id).mkdir(parents=True)
        with self._conn() as c:
            c.execute(
                "INSERT INTO jobs (id, owner, kind, lane, status, params, created) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                (job_id, owner, kind, lane, json.dumps(params, sort_keys=True), time.time()),
            )
        return self._get(job_id)

    def _get(self, job_id: str) -> Job:
        with self._conn() as c:
            row = c.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise ArtforgeError(f"job {job_id}: no such job")
        return _job(row)

    def get(self, owner: str, job_id: str) -> Job:
        """The job, if ``owner`` owns it; another user's job reads as missing (no hint that it exists)."""
        job_id = str(job_id).strip()
        if not _ID.match(job_id):
            raise ArtforgeError(f"job {job_id[:40]!r}: no such job")
        job = self._get(job_id)
        if job.owner != owner:
            raise ArtforgeError(f"job {job_id}: no such job")
        return job

    def list(self, owner: str, statuses: tuple[str, ...] = STATUSES, kind: str | None = None) -> list[Job]:
        """``owner``'s jobs with one of ``statuses`` (and of ``kind`` if given), newest first."""
        marks = ",".join("?" * len(statuses))
        of_kind = "" if kind is None else " AND kind=?"
        with self._conn() as c:
            rows = c.execute(
                f"SELECT * FROM jobs WHERE owner=? AND status IN ({marks}){of_kind} ORDER BY seq DESC",
                (owner, *statuses, *([] if kind is None else [kind])),
            ).fetchall()
        return [_job(r) for r in rows]

    def position(self, job: Job) -> int:
        """1 for the next queued job of its lane, 2 for the one after ...; 0 when not queued."""
        if job.status != "queued":
            return 0
        with self._conn() as c:
            (n,) = c.execute(
                "SELECT COUNT(*) FROM jobs WHERE lane=? AND status='queued' AND seq<?", (job.lane, job.seq)
            ).fetchone()
        return int(n) + 1

    def claim(self, job_id: str) -> Job | None:
        """queued -> running; None if the job was cancelled (or deleted) while it waited."""
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET status='running', started=? WHERE id=? AND status='queued'", (time.time(), job_id)
            )
        return self._get(job_id) if cur.rowcount else None

    def report(self, job_id: str, progress: float, message: str) -> None:
        with self._conn() as c:
            c.execute("UPDATE jobs SET progress=?, message=? WHERE id=?", (progress, message, job_id))

    def finish(self, job_id: str, status: str, result: str | None = None, error: str | None = None) -> None:
        """End a job: ``done`` with its ``result`` file, or ``failed`` / ``cancelled`` with a one-line ``error``."""
        if status not in STATUSES or status in ACTIVE:
            raise ValueError(f"not a final status: {status}")
        if result is not None:
            self.file(self._get(job_id).owner, job_id, result)  # a plain name that exists in the job's folder
        with self._conn() as c:
            c.execute(
                "UPDATE jobs SET status=?, result=?, error=?, finished=?, progress=CASE WHEN ?='done' THEN 1 "
                "ELSE progress END WHERE id=?",
                (status, result, error, time.time(), status, job_id),
            )

    def cancel(self, owner: str, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one stays ``running`` until its worker stops it."""
        job = self.get(owner, job_id)
        if job.status == "queued":
            with self._conn() as c:
                c.execute(
                    "UPDATE jobs SET status='cancelled', finished=?, error='cancelled before it started' "
                    "WHERE id=? AND status='queued'",
                    (time.time(), job.id),
                )
        return self._get(job.id)

    def requeue(self, owner: str, job_id: str, params: dict[str, Any]) -> Job:
        """A job that has ended goes back to the end of its lane's queue with ``params`` (a resumed training job)."""
        job = self.get(owner, job_id)
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET status='queued', params=?, error=NULL, result=NULL, started=NULL, finished=NULL, "
                "seq=(SELECT MAX(seq) + 1 FROM jobs) WHERE id=? AND status NOT IN ('queued', 'running')",
                (json.dumps(params, sort_keys=True), job.id),
            )
        if not cur.rowcount:
            raise ArtforgeError(f"job {job.id} is {job.status}; it can be resumed once it has stopped")
        return self._get(job.id)

    def delete(self, owner: str, job_id: str) -> None:
        """Remove a finished job and its files; a queued or running one must be cancelled first."""
        job = self.get(owner, job_id)
        if job.active:
            raise ArtforgeError(f"job {job.id} is {job.status}; cancel it before deleting it")
        with self._conn() as c:
            c.execute("DELETE FROM jobs WHERE id=?", (job.id,))
        shutil.rmtree(self.job_dir(job.id), ignore_errors=True)

    def job_dir(self, job_id: str) -> Path:
        if not _ID.match(job_id):
            raise ArtforgeError(f"job {job_id[:40]!r}: no such job")
        return self.root / "jobs" / job_id

    def file(self, owner: str, job_id: str, name: str) -> Path:
        """A file of ``owner``'s job: only a plain name inside the job's folder (no ``..``, no absolute path)."""
        job = self.get(owner, job_id)
        if not _NAME.match(name) or ".." in name:
            raise ArtforgeError(f"job {job.id}: {name[:60]!r} is not a file name of this job")
        folder = self.job_dir(job.id).resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            raise ArtforgeError(f"job {job.id}: has no file {name!r}")
        return path
