"""What every ONNX export shares (stylisers and generators): the optional [export] extra, and quiet exporters."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from artforge.core.errors import ArtforgeError

INSTALL = "pip install 'artforge[export]'"


def require(*modules: str) -> None:
    """Raise one line naming the missing modules of the [export] extra and how to install them."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ArtforgeError(f"ONNX export needs {', '.join(missing)}: {INSTALL}")


@contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporters' warnings and log lines (tracer and deprecation notes, "torchvision is not
    installed"): the exported graph is checked against PyTorch instead."""
    logs = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)
