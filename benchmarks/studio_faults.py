"""The studio after ``kill -9``: nothing is lost silently.

Starts ``artforge serve`` (a fresh data dir, one heavy worker), finishes ``--done`` Instant jobs, starts one long
Paint job and queues ``--queued`` more behind it, waits until the first is painting, kills the server with SIGKILL
and starts a new one on the same data dir. Then every job must be accounted for: finished with its result file
intact (its PNG decodes and holds its parameters), or marked interrupted.

Target (issue 20, faults): queued N of N and running 1 of 1 accounted for; finished jobs all there.

    .venv/bin/python benchmarks/studio_faults.py [--queued 10] [--done 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gradio_client import Client, handle_file
from PIL import Image

from _common import machine_info, print_header, table


def _serve(data: Path) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "artforge", "serve", "--port", str(port), "--data-dir", str(data)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  server: {line.rstrip()}", flush=True)
        if "artforge studio: http" in line:
            return proc, f"http://127.0.0.1:{port}/"
    raise SystemExit("artforge serve did not start")


def _intact(png: Path) -> bool:
    try:
        with Image.open(png) as im:
            im.load()
            return "artforge" in getattr(im, "text", {})
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=10, help="Paint jobs queued behind the running one (10)")
    parser.add_argument("--done", type=int, default=3, help="Instant jobs finished before the kill (3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: --queued 2 --done 1")
    args = parser.parse_args()
    if args.quick:
        args.queued, args.done = 2, 1
    print_header("studio: kill -9 with jobs queued and running, then restart", machine_info())
    tmp = Path(tempfile.mkdtemp(prefix="studio-faults-"))
    photo = tmp / "photo.png"
    Image.radial_gradient("L").convert("RGB").resize((96, 96)).save(photo)
    data = tmp / "data"

    proc, url = _serve(data)
    client = Client(url, verbose=False)
    done = []
    for _ in range(args.done):
        job, msg, _, _ = client.predict(content=handle_file(str(photo)), model="johnson-mountains", style_upload=None,
                                        size=96, api_name="/instant")  # fmt: skip
        assert msg.startswith(f"job {job}: done"), msg
        done.append(job)
    paint = {"content": handle_file(str(photo)), "style": "swamp", "style_upload": None, "api_name": "/paint"}
    running, _ = client.predict(size=256, iterations=500, **paint)
    queued = [client.predict(size=64, iterations=5, **paint)[0] for _ in range(args.queued)]
    deadline = time.monotonic() + 300
    while "step" not in str(client.predict(running, api_name="/job").get("message")):
        if time.monotonic() > deadline:
            raise SystemExit("the Paint job did not start painting in 300 s")
        time.sleep(0.5)
    states = {j: client.predict(j, api_name="/job")["status"] for j in [running, *queued]}
    print(f"before the kill: {states[running]} 1, queued {sum(s == 'queued' for s in states.values())}", flush=True)

    t = time.perf_counter()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc, url = _serve(data)
    restart = time.perf_counter() - t
    client = Client(url, verbose=False)
    rows, ok = [], {}
    for group, jobs, want in (("finished", done, "done"), ("running", [running], "interrupted"),
                              ("queued", queued, "interrupted")):  # fmt: skip
        good = 0
        for job in jobs:
            status = client.predict(job, api_name="/job")["status"]
            if status == "done":
                good += _intact(data / "jobs" / job / "result.png")
            else:
                good += status == want == "interrupted"
        ok[group] = good == len(jobs)
        rows.append((group, len(jobs), good, want))
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    print(table(["jobs at the kill", "n", "accounted for", "expected"], rows))
    print(f"restart (kill to serving again): {restart:.1f} s")
    verdict = "met" if all(ok.values()) else "NOT met"
    summary = ", ".join(f"{g} {good} of {n}" for g, n, good, _ in rows)
    print(f"RESULT: {summary} accounted for after kill -9 and restart ({verdict})")
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
