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
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

from _common import machine_info, print_header, table

MODEL = "adain-wesnoth-fast"
PAINTINGS = ("mountains", "swamp")
SIZE = 512


def _serve(data: Path, auth_file: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "artforge", "serve", "--port", str(port), "--data-dir", str(data),
           "--auth-file", str(auth_file)]  # fmt: skip
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


def _references(photos: list[Path], folder: Path) -> list[np.ndarray]:
    """What the model gives for each client's photo and painting, run here, one at a time."""
    from artforge import api

    model = api.load_stylizer(MODEL, "cpu")
    refs = []
    for i, photo in enumerate(photos):
        out = folder / f"ref-{i:02d}.png"
        api.stylize_with_model(str(photo), out, model, styles=[f"sample:{PAINTINGS[i % 2]}"], size=SIZE, device="cpu")
        refs.append(np.asarray(Image.open(out).convert("RGB"), dtype=np.int16))
    return refs


def _paint(client: Client, photo: Path, iterations: int) -> str:
    job, msg = client.predict(content=handle_file(str(photo)), style="mountains", style_upload=None, size=SIZE,
                              iterations=iterations, api_name="/paint")  # fmt: skip
    if not job:
        raise SystemExit(f"the Paint job was refused: {msg}")
    return str(job)


def _wait_painting(client: Client, job: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while "step" not in str(client.predict(job, api_name="/job").get("message")):
        if time.monotonic() > deadline:
            raise SystemExit("the Paint job did not start painting")
        time.sleep(0.3)


def _wait_done(client: Client, job: str, timeout: float = 3600) -> str:
    deadline = time.monotonic() + timeout
    while (status := str(client.predict(job, api_name="/job").get("status"))) in ("queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job} did not end in {timeout:.0f} s")
        time.sleep(0.5)
    return status


def _took(data: Path, job: str) -> float:
    with sqlite3.connect(data / "jobs.sqlite3") as c:
        started, finished = c.execute("SELECT started, finished FROM jobs WHERE id=?", (job,)).fetchone()
    return float(finished) - float(started)


def _client_run(url: str, user: int, photo: Path, ref: np.ndarray, jobs: int, go: threading.Barrier,
                out: dict[str, Any]) -> None:  # fmt: skip
    client = Client(url, auth=(f"user{user}", f"pw{user}"), verbose=False)
    go.wait()
    for _ in range(jobs):
        t = time.perf_counter()
        job, msg, _, served = client.predict(
            content=handle_file(str(photo)), model=MODEL, style=PAINTINGS[user % 2], style_upload=None, alpha=1.0,
            size=SIZE, api_name="/instant",
        )  # fmt: skip
        latency = time.perf_counter() - t
        result = "lost"
        if served and Path(served).is_file():
            got = np.asarray(Image.open(served).convert("RGB"), dtype=np.int16)
            same = (
                got.shape == ref.shape and float(np.abs(got - ref).mean()) < 0.5 and int(np.abs(got - ref).max()) <= 3
            )
            result = "correct" if same else "wrong"
        out.setdefault("rows", []).append((user, job, latency, result, msg))
    gallery = client.predict(api_name="/gallery")
    out.setdefault("galleries", {})[user] = sorted(str(r["id"]) for r in gallery if r["kind"] == "instant")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=5, help="Instant jobs per client, one after another (5)")
    parser.add_argument("--paint-iterations", type=int, default=100, help="the Paint job's iterations (100)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 4 clients x 2 jobs, Paint 20 iterations")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.jobs, args.paint_iterations = 4, 2, 20
    print_header("studio: Instant jobs of many users while a Paint job runs", machine_info())
    tmp = Path(tempfile.mkdtemp(prefix="studio-load-"))
    photos = _photos(tmp, args.clients)
    refs = _references(photos, tmp)
    auth = tmp / "users.txt"
    auth.write_text("painter:pw\n" + "".join(f"user{i}:pw{i}\n" for i in range(args.clients)))
    data = tmp / "data"
    proc, url = _serve(data, auth)
    rss = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            rss[0] = max(rss[0], _rss(proc.pid))

    threading.Thread(target=sample, daemon=True).start()
    try:
        painter = Client(url, auth=("painter", "pw"), verbose=False)
        alone = _paint(painter, photos[0], args.paint_iterations)
        print(f"Paint alone ({SIZE} px, {args.paint_iterations} iterations): job {alone}", flush=True)
        if _wait_done(painter, alone) != "done":
            raise SystemExit("the Paint job alone did not finish")
        loaded = _paint(painter, photos[0], args.paint_iterations)
        _wait_painting(painter, loaded)
        print(f"Paint under load: job {loaded} is painting; {args.clients} clients start", flush=True)
        out: dict[str, Any] = {}
        go = threading.Barrier(args.clients)
        threads = [threading.Thread(target=_client_run, args=(url, u, photos[u], refs[u], args.jobs, go, out))
                   for u in range(args.clients)]  # fmt: skip
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        painted_during = _wait_done(painter, loaded) == "done"
    finally:
        sampling.set()
        proc.terminate()
        proc.wait(30)

    rows = out.get("rows", [])
    latencies = sorted(r[2] for r in rows)
    counts = {k: sum(r[3] == k for r in rows) for k in ("correct", "wrong", "lost")}
    want = args.clients * args.jobs
    jobs_of = {u: sorted(str(r[1]) for r in rows if r[0] == u) for u in range(args.clients)}
    isolated = all(out.get("galleries", {}).get(u) == jobs_of[u] for u in range(args.clients))
    with sqlite3.connect(data / "jobs.sqlite3") as c:
        msgs = [m for (m,) in c.execute("SELECT message FROM jobs WHERE kind='instant'")]
    batches = [int(m.rsplit(" ", 1)[1].rstrip(")")) for m in msgs if m and "a batch of" in m]
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[min(len(latencies) - 1, int(np.ceil(0.95 * len(latencies))) - 1)] if latencies else float("nan")
    t_alone, t_loaded = _took(data, alone), _took(data, loaded)
    print(table(["measure", "value"], [
        ("Instant jobs (correct / wrong / lost)", f"{counts['correct']} / {counts['wrong']} / {counts['lost']}"),
        ("each user's gallery = that user's jobs", "yes" if isolated else "NO"),
        ("Instant latency p50 / p95 / max, s", f"{p50:.2f} / {p95:.2f} / {latencies[-1]:.2f}"),
        ("all Instant jobs, wall s", f"{wall:.1f} ({len(rows) / wall:.2f} jobs/s)"),
        ("jobs run in a batch / batch sizes (mean, max)",
         f"{len(batches)} / {statistics.mean(batches) if batches else 0:.1f}, {max(batches, default=0)}"),
        ("server RSS max (with children), GB", f"{rss[0] / 2**30:.2f}"),
        ("Paint alone / under load, s", f"{t_alone:.1f} / {t_loaded:.1f} (x{t_loaded / t_alone:.2f})"),
    ]))  # fmt: skip
    ok = counts["correct"] == want and isolated and p95 <= 3.0 and rss[0] < 4 * 2**30 and painted_during
    verdict = "met" if ok else "NOT met"
    print(f"RESULT: {counts['correct']}/{want} correct, p50 {p50:.2f} s, p95 {p95:.2f} s (<= 3), "
          f"RSS {rss[0] / 2**30:.2f} GB (< 4), Paint x{t_loaded / t_alone:.2f} slower ({verdict})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
