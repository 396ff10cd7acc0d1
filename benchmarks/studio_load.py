"""The studio under load: 16 users' Instant jobs while a Paint job runs.

Starts ``artforge serve`` (fresh data dir, one user per client through ``--auth-file``), runs one Paint job alone
(512 px) for its reference time, then runs it again and, while it paints, 16 concurrent ``gradio_client`` clients
each submit 5 Instant jobs (512 px, ``adain-wesnoth-fast``, each client its own photo; even clients one bundled
painting, odd ones another), one after another. Each latency is a client's wait from submit to the result file
downloaded. Every result is compared with the picture the model gives for that photo and style in this process
(a mixed-up or missing result fails), and each user's gallery must hold exactly that user's 5 jobs. The server's
RSS (with its children) is sampled every 0.2 s.

Targets (issue 20, load): all 80 correct, none lost or mixed up; Instant p95 <= 3 s on 2 cores with Paint running;
RSS < 4 GB; report p50, p95 and the Paint job's slowdown against running alone.

    .venv/bin/python benchmarks/studio_load.py [--clients 16] [--jobs 5] [--paint-iterations 100] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

from _common import machine_info, print_header, table

MODEL = "adain-wesnoth-fast"
PAINTINGS = ("mountains", "swamp")
SIZE = 512


def _serve(data: Path, auth_file: Path, precision: str = "auto") -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "artforge", "serve", "--port", str(port), "--data-dir", str(data),
           "--auth-file", str(auth_file), "--instant-precision", precision]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "artforge studio: http" in line:
            threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()  # drain
            return proc, f"http://127.0.0.1:{port}/"
    raise SystemExit("artforge serve did not start")


def _rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return total


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (its threads; not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _photos(folder: Path, n: int) -> list[Path]:
    """``n`` distinct 4:3 photos, 640 x 480 PNGs: crops of scikit-image's photos, of several sizes and places,
    some mirrored."""
    import skimage.data

    sources = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    out = []
    for i in range(n):
        img, variant = Image.fromarray(sources[i % len(sources)]).convert("RGB"), i // len(sources)
        w, h = img.size
        cw = min(w, h * 4 / 3) * (1.0 - 0.1 * (variant % 4))  # a 4:3 box, smaller with each variant
        x0, y0 = (w - cw) * (variant % 3) / 2, (h - cw * 3 / 4) / 2
        crop = img.crop((int(x0), int(y0), int(x0 + cw), int(y0 + cw * 3 / 4))).resize((640, 480), Image.LANCZOS)
        out.append(folder / f"photo-{i:02d}.png")
        (ImageOps.mirror(crop) if variant % 2 else crop).save(out[-1])
    return out


def _references(photos: list[Path], precision: str) -> list[np.ndarray]:
    """What the model gives for each client's photo and painting at ``precision``, run here, one at a time."""
    from artforge import api

    model = api.load_stylizer(MODEL, "cpu")
    refs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, photo in enumerate(photos):
            out = Path(tmp) / f"ref-{i:02d}.png"
            api.stylize_with_model(str(photo), out, model, styles=[f"sample:{PAINTINGS[i % 2]}"], size=SIZE,
                                   device="cpu", precision=precision)  # fmt: skip
            refs.append(np.asarray(Image.open(out).convert("RGB"), dtype=np.int16))
    return refs


def _precision(png: bytes) -> str:
    text = getattr(Image.open(io.BytesIO(png)), "text", {}).get("artforge", "{}")
    return str(json.loads(text).get("precision", "fp32"))


def _paint(client: Client, photo: Path, iterations: int) -> str:
    job, msg = client.predict(content=handle_file(str(photo)), style="mountains", style_upload=None, size=SIZE,
                              iterations=iterations, api_name="/paint")  # fmt: skip
    if not job:
        raise SystemExit(f"the Paint job was refused: {msg}")
    return str(job)


def _status(watcher: HttpClient, job: str) -> dict[str, Any]:
    return dict(watcher.call("job", [job])[0])


def _wait_painting(watcher: HttpClient, job: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while "step" not in str(_status(watcher, job).get("message")):
        if time.monotonic() > deadline:
            raise SystemExit("the Paint job did not start painting")
        time.sleep(0.3)


def _wait_done(
    watcher: HttpClient, job: str, timeout: float = 3600, steps: list[tuple[float, int]] | None = None
) -> str:  # fmt: skip
    """The job's final status; ``steps`` gets (time, Paint step) pairs as it goes. One watcher, polling twice a
    second over the HTTP API (a few ms of CPU a call), follows the Paint job alone and under load alike."""
    deadline = time.monotonic() + timeout
    while (state := _status(watcher, job))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job} did not end in {timeout:.0f} s")
        if steps is not None and (m := re.search(r"step (\d+)/", str(state.get("message")))):
            steps.append((time.perf_counter(), int(m.group(1))))
        time.sleep(0.5)
    return str(state["status"])


def _follow(watcher: HttpClient, job: str, steps: list[tuple[float, int]], out: dict[str, str]) -> None:
    """:func:`_wait_done` in a thread (its status in ``out``) that ends quietly when the server is stopped."""
    try:
        out["status"] = _wait_done(watcher, job, steps=steps)
    except Exception:  # noqa: BLE001 - the server went away at the end of the benchmark
        return


def _behind(steps: list[tuple[float, int]], alone: list[tuple[float, int]], t: float) -> float:
    """How many seconds later the loaded Paint job reached its step at time ``t`` than the one alone did (both
    from their first sample)."""
    if not steps or not alone:
        return float("nan")
    t_at, n = max(((ts, k) for ts, k in steps if ts <= t), default=steps[0])
    t_alone = next((ts for ts, k in alone if k >= n), alone[-1][0])
    return (t_at - steps[0][0]) - (t_alone - alone[0][0])


def _rate(steps: list[tuple[float, int]], t0: float, t1: float) -> float:
    """Paint steps a second between t0 and t1 (from the samples in that span)."""
    inside = [(t, n) for t, n in steps if t0 <= t <= t1]
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]) if len(inside) > 1 else float("nan")


def _parts(latency: float, times: tuple[float, float, float] | None) -> tuple[float, float, float]:
    """A latency split by the job store's times: queued, running, and the rest (the web requests around them)."""
    if times is None or None in times:
        return (float("nan"), float("nan"), latency)
    created, started, finished = times
    return (started - created, finished - started, latency - (finished - created))


def _took(data: Path, job: str) -> float:
    with sqlite3.connect(data / "jobs.sqlite3") as c:
        started, finished = c.execute("SELECT started, finished FROM jobs WHERE id=?", (job,)).fetchone()
    return float(finished) - float(started)


class HttpClient:
    """One user on Gradio's HTTP API, as ``curl`` would use it (login, upload, ``/gradio_api/call/instant``, its
    event stream, the result's URL): a few ms of CPU a call, where ``gradio_client`` takes ~0.14 s, which on a
    2-core machine with 16 clients would be ~40% of the CPU the server is measured on. Its calls carry one
    ``session_hash``, as a browser tab's and a ``gradio_client.Client``'s do: without one, Gradio builds a new
    session state (a copy of every component's config) for each call, ~30 ms of server CPU."""

    def __init__(self, url: str, user: str, password: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=600)
        self.http.post("login", data={"username": user, "password": password}).raise_for_status()
        self.session = uuid.uuid4().hex[:11]  # one Gradio session per client, as a browser tab or gradio_client has

    def call(self, name: str, data: list[Any]) -> list[Any]:
        r = self.http.post(f"gradio_api/call/{name}", json={"data": data, "session_hash": self.session})
        r.raise_for_status()
        event = ""
        with self.http.stream("GET", f"gradio_api/call/{name}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    if event == "error":
                        raise RuntimeError(f"/{name}: {line[5:].strip()}")
                    return list(json.loads(line[5:]))
        raise RuntimeError(f"/{name}: the event stream ended without a result")

    def instant(self, photo: Path, style: str) -> tuple[str, str, bytes | None]:
        with photo.open("rb") as f:
            up = self.http.post("gradio_api/upload", files=[("files", (photo.name, f, "image/png"))])
        up.raise_for_status()
        fd = {"path": up.json()[0], "orig_name": photo.name, "meta": {"_type": "gradio.FileData"}}
        job, msg, _, served = self.call("instant", [fd, MODEL, style, None, 1.0, SIZE])
        png = self.http.get(served["url"]).content if served else None
        return str(job), str(msg), png

    def gallery(self) -> list[dict[str, Any]]:
        return list(self.call("gallery", [])[0])


class GradioClient:
    """One user through ``gradio_client`` (``--gradio-client``)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.client = Client(url, auth=(user, password), verbose=False)

    def instant(self, photo: Path, style: str) -> tuple[str, str, bytes | None]:
        job, msg, _, served = self.client.predict(
            content=handle_file(str(photo)), model=MODEL, style=style, style_upload=None, alpha=1.0, size=SIZE,
            api_name="/instant",
        )  # fmt: skip
        return str(job), str(msg), Path(served).read_bytes() if served and Path(served).is_file() else None

    def gallery(self) -> list[dict[str, Any]]:
        return list(self.client.predict(api_name="/gallery"))


def _client_run(make: Any, url: str, user: int, photo: Path, jobs: int, go: threading.Barrier,
                out: dict[str, Any]) -> None:  # fmt: skip
    client = make(url, f"user{user}", f"pw{user}")
    go.wait()
    for _ in range(jobs):
        t = time.perf_counter()
        job, msg, png = client.instant(photo, PAINTINGS[user % 2])
        out.setdefault("rows", []).append((user, job, time.perf_counter() - t, png, msg))
    rows = client.gallery()
    out.setdefault("galleries", {})[user] = sorted(str(r["id"]) for r in rows if r["kind"] == "instant")


def _verdict(png: bytes | None, ref: np.ndarray) -> str:
    """``correct`` when the PNG is the reference picture (within PNG rounding), else ``wrong`` (``lost``: none)."""
    if not png:
        return "lost"
    got = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    diff = np.abs(got - ref) if got.shape == ref.shape else None  # PNG levels, 0..255
    return "correct" if diff is not None and diff.mean() < 0.5 and diff.max() <= 3 else "wrong"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=5, help="Instant jobs per client, one after another (5)")
    parser.add_argument("--paint-iterations", type=int, default=100, help="the Paint job's iterations (100; 0: none)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="--instant-precision")
    parser.add_argument("--gradio-client", action="store_true", help="the clients use gradio_client (heavier)")
    parser.add_argument("--skip-alone", action="store_true", help="no Paint run alone first (no slowdown figure)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 4 clients x 2 jobs, Paint 20 iterations")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.jobs, args.paint_iterations = 4, 2, 20
    print_header("studio: Instant jobs of many users while a Paint job runs", machine_info())
    tmp = Path(tempfile.mkdtemp(prefix="studio-load-"))
    photos = _photos(tmp, args.clients)
    auth = tmp / "users.txt"
    auth.write_text("painter:pw\n" + "".join(f"user{i}:pw{i}\n" for i in range(args.clients)))
    data = tmp / "data"
    proc, url = _serve(data, auth, args.precision)
    rss = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            rss[0] = max(rss[0], _rss(proc.pid))

    threading.Thread(target=sample, daemon=True).start()
    try:
        painter = Client(url, auth=("painter", "pw"), verbose=False)
        watcher = HttpClient(url, "painter", "pw")
        alone = loaded = ""
        alone_steps: list[tuple[float, int]] = []
        if args.paint_iterations and not args.skip_alone:
            alone = _paint(painter, photos[0], args.paint_iterations)
            print(f"Paint alone ({SIZE} px, {args.paint_iterations} iterations): job {alone}", flush=True)
            if _wait_done(watcher, alone, steps=alone_steps) != "done":
                raise SystemExit("the Paint job alone did not finish")
        if args.paint_iterations:
            loaded = _paint(painter, photos[0], args.paint_iterations)
            _wait_painting(watcher, loaded)
        print(f"Paint under load: job {loaded or '(none)'} is painting; {args.clients} clients start", flush=True)
        out: dict[str, Any] = {}
        steps: list[tuple[float, int]] = []
        followed: dict[str, str] = {}
        follower = threading.Thread(target=_follow, args=(watcher, loaded, steps, followed), daemon=True)
        if loaded:  # the Paint job's progress, before, during and after the Instant jobs
            follower.start()
            time.sleep(5)
        go = threading.Barrier(args.clients)
        make = GradioClient if args.gradio_client else HttpClient
        threads = [threading.Thread(target=_client_run, args=(make, url, u, photos[u], args.jobs, go, out))
                   for u in range(args.clients)]  # fmt: skip
        t0, cpu0, own0 = time.perf_counter(), _cpu_seconds(proc.pid), time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0, time.process_time() - own0)
        t1 = time.perf_counter()
        if args.skip_alone and loaded:  # the steps 10 s after the burst, then no need to paint on
            time.sleep(10)
            painter.predict(loaded, api_name="/cancel")
        if loaded:
            follower.join(3600)
        painted_during = not loaded or args.skip_alone or followed.get("status") == "done"
    finally:
        sampling.set()
        proc.terminate()
        proc.wait(30)

    rows = out.get("rows", [])
    precision = next((_precision(r[3]) for r in rows if r[3]), "fp32")
    refs = _references(photos, precision)
    verdicts = [_verdict(r[3], refs[r[0]]) for r in rows]
    latencies = sorted(r[2] for r in rows)
    counts = {k: verdicts.count(k) for k in ("correct", "wrong", "lost")}
    want = args.clients * args.jobs
    jobs_of = {u: sorted(str(r[1]) for r in rows if r[0] == u) for u in range(args.clients)}
    isolated = all(out.get("galleries", {}).get(u) == jobs_of[u] for u in range(args.clients))
    with sqlite3.connect(data / "jobs.sqlite3") as c:
        msgs = [m for (m,) in c.execute("SELECT message FROM jobs WHERE kind='instant'")]
        times = {i: (a, b, c) for i, a, b, c in c.execute("SELECT id, created, started, finished FROM jobs")}
    batches = [int(m.rsplit(" ", 1)[1].rstrip(")")) for m in msgs if m and "a batch of" in m]
    parts = [_parts(r[2], times.get(str(r[1]))) for r in rows]  # (queued, running, the rest: web) per job
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[min(len(latencies) - 1, int(np.ceil(0.95 * len(latencies))) - 1)] if latencies else float("nan")
    t_alone = _took(data, alone) if alone else float("nan")
    t_loaded = _took(data, loaded) if alone and painted_during else float("nan")
    print(table(["measure", "value"], [
        ("Instant precision (the server's --instant-precision)", f"{precision} ({args.precision})"),
        ("Instant jobs (correct / wrong / lost)", f"{counts['correct']} / {counts['wrong']} / {counts['lost']}"),
        ("each user's gallery = that user's jobs", "yes" if isolated else "NO"),
        ("Instant latency p50 / p95 / max, s", f"{p50:.2f} / {p95:.2f} / {latencies[-1]:.2f}"),
        ("all Instant jobs, wall s", f"{wall:.1f} ({len(rows) / wall:.2f} jobs/s)"),
        (f"CPU s meanwhile: server / the {args.clients} clients ({make.__name__})", f"{cpu[0]:.1f} / {cpu[1]:.1f}"),
        ("jobs run in a batch / batch sizes (mean, max)",
         f"{len(batches)} / {statistics.mean(batches) if batches else 0:.1f}, {max(batches, default=0)}"),
        ("a job's latency, mean s: queued / running (its batch) / web (upload, request, result download)",
         " / ".join(f"{statistics.mean(p[k] for p in parts):.2f}" for k in range(3)) if parts else "-"),
        ("server RSS max (with children), GB", f"{rss[0] / 2**30:.2f}"),
        ("Paint alone / under load, s", f"{t_alone:.1f} / {t_loaded:.1f} (x{t_loaded / t_alone:.2f})"),
        ("Paint steps/s: 5 s before / during / 10 s after the Instant jobs",
         f"{_rate(steps, t0 - 5, t0):.2f} / {_rate(steps, t0, t1):.2f} / {_rate(steps, t1, t1 + 10):.2f}"),
        ("Paint under load, s behind the run alone: at the start / end of the Instant jobs / at the end",
         " / ".join(f"{_behind(steps, alone_steps, t):.1f}" for t in (t0, t1, float("inf")))),
    ]))  # fmt: skip
    ok = counts["correct"] == want and isolated and p95 <= 3.0 and rss[0] < 4 * 2**30 and painted_during
    verdict = "met" if ok else "NOT met"
    print(f"RESULT: {counts['correct']}/{want} correct, p50 {p50:.2f} s, p95 {p95:.2f} s (<= 3), "
          f"RSS {rss[0] / 2**30:.2f} GB (< 4), Paint x{t_loaded / t_alone:.2f} slower ({verdict})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
