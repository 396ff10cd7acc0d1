"""Helpers shared by the benchmark scripts: machine header, sample images, tables, one level's loss.

Import cost matters for ``memory.py`` (its parent process must stay small), so this module imports
only the standard library at the top; torch, PIL and artforge are imported inside the functions.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from artforge.gatys.config import StylizeConfig
    from artforge.nn.encoders import VGGEncoder
    from artforge.objectives.perceptual import GatysLoss

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "src" / "artforge" / "samples"
CONTENT_PHOTOS = ("astronaut", "chelsea", "coffee")  # skimage.data
STYLE_PAINTINGS = ("mountains", "swamp", "altar")  # bundled with artforge


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo (or platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """``<short sha>[-dirty]`` of the checkout, or a note why there is none."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "n/a (no commit yet)"


def command_line() -> str:
    """The exact command that started this process, shell-quoted."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv)


def torch_info(threads: int | None = None) -> list[tuple[str, str]]:
    """torch version and intra-op threads (after ``torch.set_num_threads(threads)`` if given)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return [("torch", torch.__version__), ("torch.get_num_threads()", str(torch.get_num_threads()))]


def machine_info(
    threads: int | None = None, torch_part: Sequence[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """CPU model, cores, torch version and threads, python, git revision and the command line.

    ``torch_part`` (from :func:`torch_info` run elsewhere) keeps torch out of this process.
    """
    return [
        ("cpu", cpu_model()),
        ("os.cpu_count()", str(os.cpu_count())),
        *(torch_info(threads) if torch_part is None else torch_part),
        ("python", platform.python_version()),
        ("git", git_revision()),
        ("command", command_line()),
    ]


def print_header(title: str, info: Sequence[tuple[str, str]]) -> None:
    print(f"# {title}")
    width = max(len(k) for k, _ in info)
    for k, v in info:
        print(f"{k:<{width}} : {v}")
    print(flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: left-aligned first column, right-aligned others, dashed rule."""
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths), *(fmt(r) for r in cells[1:])]
    return "\n".join(lines)


def content_image(name: str) -> Image.Image:
    """A content photo: a ``skimage.data`` name (astronaut, chelsea, coffee) or an image path."""
    from PIL import Image

    from artforge.data import images

    if name in CONTENT_PHOTOS:
        import skimage.data

        return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    return images.load(name, "content image")


def style_image(name: str) -> Image.Image:
    """A style painting: a bundled sample name (mountains, swamp, altar) or an image path."""
    from artforge.data import images

    path = SAMPLES / f"{name}.jpg" if name in STYLE_PAINTINGS else Path(name)
    return images.load(path, "style image")


def level_loss(
    encoder: VGGEncoder, content: Image.Image, style: Image.Image, long_side: int, cfg: StylizeConfig
) -> tuple[GatysLoss, torch.Tensor]:
    """The GatysLoss of one untiled pyramid level and the content tensor it optimises from,
    built by artforge's own ``build_level`` (the same code path as ``stylize_tensor``), for scoring
    images and for the bare timings; the runs themselves go through ``stylize_tensor`` and its callback."""
    from artforge.gatys.pyramid import build_level

    problem = build_level(encoder, content, [style], cfg, long_side)
    return problem.loss(), problem.content
