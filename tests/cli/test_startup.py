"""``artforge --help`` and every command's ``--help`` start without torch; the parsers' names match the API's.

Properties, not timings: a fresh interpreter builds the parser and prints every help, then reports which heavy
modules it imported (none may be). The timings are in ``benchmarks/cli_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from artforge import api
from artforge.cli import choices

HEAVY = ("torch", "numpy", "PIL", "onnxruntime", "artforge.api")
COMMANDS = [
    [], ["stylize"], ["weights"], ["weights", "list"], ["weights", "fetch"], ["weights", "path"], ["data"],
    ["data", "list"], ["data", "fetch"], ["demo"], ["train"], ["sample"], ["project"], ["eval"], ["export"],
    ["models"], ["video"],
]  # fmt: skip

CHILD = """
import contextlib, io, json, sys
from artforge.cli.main import build_parser, main
build_parser()
helps = {}
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main([*argv, "--help"])
        except SystemExit as e:
            code = e.code
    helps[" ".join(argv)] = [code, out.getvalue()]
print(json.dumps({"helps": helps, "heavy": [m for m in json.loads(sys.argv[2]) if m in sys.modules]}))
"""


def _python(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARTFORGE_CACHE": str(cache)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def test_help_of_every_command_imports_no_torch(tmp_path: Path) -> None:
    r = _python("-c", CHILD, json.dumps(COMMANDS), json.dumps(HEAVY), cache=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["heavy"] == [], f"building the parser / --help imported {report['heavy']}"
    assert len(report["helps"]) == len(COMMANDS)
    for name, (code, text) in report["helps"].items():
        assert code == 0, (name, code)
        assert text.startswith("usage: artforge"), (name, text[:80])


def test_the_entry_point_help_imports_no_torch(tmp_path: Path) -> None:
    """``python -m artforge --help`` the way the console script runs it: the whole process, nothing heavy."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['artforge', '--help']\n"
        "try:\n"
        "    runpy.run_module('artforge', run_name='__main__')\n"
        "except SystemExit:\n"
        f"    print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    r = _python("-c", code, cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "usage: artforge" in r.stdout and "COMMAND" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout


def test_help_shows_the_api_names() -> None:
    """The parsers print names from :mod:`artforge.cli.choices`; those are the API's (update choices.py if not)."""
    assert list(choices.FAMILIES) == api.model_names()
    assert list(choices.BACKBONES) == list(api.BACKBONES)
    assert list(choices.METRICS) == list(api.METRICS)
    assert choices.DEFAULT_SAMPLES == api.DEFAULT_SAMPLES
    assert choices.DEFAULT_TEMPORAL_WEIGHT == api.DEFAULT_TEMPORAL_WEIGHT


def test_missing_photo_is_still_one_line(tmp_path: Path) -> None:
    """The lazy imports change nothing on the error path: a missing input ends in one ``artforge: error:`` line."""
    for argv in (
        ["stylize", "--model", "johnson-mountains", str(tmp_path / "nope.png"), "-o", str(tmp_path / "out.png")],
        ["stylize", "--method", "adain", str(tmp_path / "nope.png"), "--style", "sample:swamp", "-o",
         str(tmp_path / "out.png")],
    ):  # fmt: skip
        r = _python("-m", "artforge", *argv, "-q", cache=tmp_path)
        lines = r.stderr.splitlines()
        assert r.returncode == 1 and len(lines) == 1, r.stderr
        assert lines[0].startswith("artforge: error: ") and "nope.png" in lines[0], lines[0]
        assert not (tmp_path / "out.png").exists()
