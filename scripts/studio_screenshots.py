"""Screenshots of artforge studio's pages for docs/studio.md: starts ``artforge serve`` on a free port with a
temporary data dir, runs an Instant job, a small Paint job and a short DCGAN training job on Fashion-MNIST (`artforge
data fetch fashion-mnist` first) in Debian's Chromium (Playwright), and writes docs/studio/{instant,paint,gallery,
train}.jpg.

    .venv/bin/python scripts/studio_screenshots.py [--out docs/studio]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import skimage.data
from PIL import Image
from playwright.sync_api import expect, sync_playwright

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/studio")
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    photo = tmp / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(photo)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "artforge", "serve", "--port", str(port), "--data-dir", str(tmp / "data")]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "artforge studio: http" in line:
                break
        url = f"http://127.0.0.1:{port}/"
        expect.set_options(timeout=300_000)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.locator("#instant-content input[type=file]").set_input_files(str(photo))
            page.locator("#instant-paintings").get_by_text("swamp", exact=True).click()
            page.locator("#instant-go").click()
            expect(page.locator("#instant-result img")).to_be_visible()
            page.screenshot(path=out / "instant.jpg", type="jpeg", quality=80, full_page=True)
            page.get_by_role("tab", name="Paint").click()
            page.locator("#paint-content input[type=file]").set_input_files(str(photo))
            page.locator("#paint-paintings").get_by_text("mountains", exact=True).click()
            page.locator("#paint-go").click()
            expect(page.locator("#paint-preview img")).to_be_visible()
            expect(page.locator("#paint-progress")).to_contain_text("level 2/2")
            page.screenshot(path=out / "paint.jpg", type="jpeg", quality=80, full_page=True)
            expect(page.locator("#paint-result img")).to_be_visible()
            time.sleep(1)
            page.get_by_role("tab", name="Gallery").click()
            expect(page.locator("#gallery-images img").nth(1)).to_be_visible()
            page.screenshot(path=out / "gallery.jpg", type="jpeg", quality=80, full_page=True)
            page.get_by_role("tab", name="Train").click()
            page.get_by_text("More settings").click()
            for elem_id, value in (("train-kimg", "3"), ("train-resolution", "32"), ("train-max-images", "4096")):
                box = page.locator(f"#{elem_id} input")
                box.fill(value)
                box.press("Enter")
            page.locator("#train-go").click()
            expect(page.locator("#train-grid img")).to_be_visible()
            expect(page.locator("#train-progress")).to_contain_text("ETA")
            time.sleep(4)  # a few more points on the loss curves
            page.screenshot(path=out / "train.jpg", type="jpeg", quality=80, full_page=True)
            page.locator("#train-stop").click()
            expect(page.locator("#train-progress")).to_contain_text("cancelled")
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    for name in ("instant", "paint", "gallery", "train"):
        print(f"wrote {out / name}.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
