"""Every benchmark script still imports against the package (they are run by hand, so drift would go unseen)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_every_benchmark_imports() -> None:
    names = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    assert "dcgan_quality" in names
    code = "import importlib, sys; [importlib.import_module(n) for n in sys.argv[1:]]"
    r = subprocess.run([sys.executable, "-c", code, *names], cwd=BENCHMARKS, capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-1500:]
