"""A real studio (``artforge serve`` in a subprocess, on a free port, with a temp data dir) and a real browser
(Debian's Chromium through Playwright) for the browser tests; a missing Chromium fails, it is never skipped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
START_SECONDS = 180  # torch + gradio imports on 2 busy cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StudioServer:
    """``artforge serve`` as a child process; :meth:`restart` starts a new one on the same data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.data_dir, self.env, self.args = data_dir, env, args
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""

    def start(self) -> None:
        port = free_port()
        cmd = [sys.executable, "-m", "artforge", "serve", "--port", str(port), "--data-dir", str(self.data_dir)]
        self.lines = []
        self.proc = subprocess.Popen(
            [*cmd, *self.args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if any("artforge studio: http" in ln for ln in self.lines):
                self.url = f"http://127.0.0.1:{port}/"
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        out = "".join(self.lines[-30:])
        self.stop()
        pytest.fail(f"artforge serve did not start:\n{out}", pytrace=False)

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.proc = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()


@pytest.fixture(autouse=True)
def _no_leftover_jobs(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the shared studio: cancel the local user's queued and running jobs, so that a failed test
    leaves no painting behind to hold up the next one."""
    yield
    if "studio" not in request.fixturenames:
        return
    server = request.getfixturevalue("studio")
    if server.proc is None:
        return
    from gradio_client import Client

    from artforge.studio.jobs import JobStore

    active = JobStore(server.data_dir).list("local", ("queued", "running"))
    if active:
        client = Client(server.url, verbose=False)
        for job in active:
            client.predict(job.id, api_name="/cancel")


WaitJob = Callable[..., dict[str, Any]]


@pytest.fixture
def client(studio: Any) -> Any:
    """A gradio_client for the shared studio."""
    from gradio_client import Client

    return Client(studio.url, verbose=False)


def _wait_job(client: Any, job: str, seconds: float = 120) -> dict[str, Any]:
    """Poll ``/job`` until the job leaves the queue and ends (or ``seconds`` pass); its last state."""
    deadline = time.monotonic() + seconds
    while True:
        state: dict[str, Any] = client.predict(job, api_name="/job")
        if state["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return state
        time.sleep(0.3)


@pytest.fixture
def wait_job() -> WaitJob:
    return _wait_job


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (make browser), or: sudo apt-get install chromium",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def server_env(weights_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    gradio_tmp = tmp_path_factory.mktemp("gradio")
    env = {**os.environ, "ARTFORGE_CACHE": str(weights_cache), "GRADIO_TEMP_DIR": str(gradio_tmp)}
    return {**env, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def tiny_run(runs_dir: Path, weights_cache: Path) -> str:
    """A tiny DCGAN trained on 256 Fashion-MNIST images for 32 images (a few seconds): a run to sample."""
    from artforge import api

    last = api.train(
        out=runs_dir, progress=False, model="dcgan", kimg=0.032, snap_kimg=0.032, data="fashion-mnist",
        max_images=256, batch=32, width=8, tick_kimg=0.064,
    )  # fmt: skip
    return last.parent.name


@pytest.fixture(scope="session")
def studio(
    server_env: dict[str, str], runs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StudioServer]:
    server = StudioServer(
        tmp_path_factory.mktemp("studio"), server_env, "--max-upload-mb", "1", "--runs", str(runs_dir)
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # auto-waiting assertions: generous on 2 busy cores (5 s by default)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(60_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's cat, small, as the user's upload."""
    import skimage.data

    path = tmp_path_factory.mktemp("uploads") / "cat.png"
    Image.fromarray(skimage.data.chelsea()).resize((96, 64)).save(path)
    return path


@pytest.fixture(scope="session")
def auth_studio(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioServer]:
    """A studio with two users, ann (pw-ann) and bob (pw-bob)."""
    users = tmp_path_factory.mktemp("auth") / "users"
    users.write_text("bob:pw-bob\n")
    server = StudioServer(
        tmp_path_factory.mktemp("studio-auth"), server_env, "--auth", "ann:pw-ann", "--auth-file", str(users)
    )
    server.start()
    yield server
    server.stop()
