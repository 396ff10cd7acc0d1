"""``artforge stylize`` end to end on bad input: one ``artforge: error:`` line, exit 1, nothing written.

And on awkward but valid input (16-bit, CMYK, palette, alpha, EXIF-rotated): a real image comes out.
Every run is tiny: ``--size 32 --iterations 1 --scales 1``. The subprocess cases all run once, two at a
time, in the module fixture ``runs``; further error cases call ``main()`` in-process to save imports.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from artforge.data import images

TINY = ["--size", "32", "--iterations", "1", "--scales", "1", "-q"]
STALE = b"previous result, must survive a failed run"


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(d.rglob("*"))}


def _bomb_png(path: Path) -> None:
    """A PNG whose header claims 30000 x 30000 pixels (no real pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def inputs(photo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad input files, shared by every case of this module."""
    d = tmp_path_factory.mktemp("cli_inputs")
    shutil.copy(photo_dir / "content.png", d / "content.png")  # 96 x 64 photo
    shutil.copy(photo_dir / "style.jpg", d / "style.jpg")
    (d / "corrupt.png").write_bytes(np.random.default_rng(3).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    (d / "notes.txt").write_text("not an image\n")
    Image.new("RGB", (1, 1), (128, 128, 128)).save(d / "dot.png")
    Image.new("L", (64, 64), 255).save(d / "square_mask.png")  # content is 3:2
    Image.new("RGB", (48, 32), (10, 200, 30)).save(d / "no_params.png")
    info = PngImagePlugin.PngInfo()
    info.add_itxt(images.PARAMS_KEY, "{not json")
    Image.new("RGB", (32, 32)).save(d / "bad_params.png", pnginfo=info)
    _bomb_png(d / "bomb.png")
    (d / "garbage.safetensors").write_bytes(b"\x00\x01 definitely not safetensors" * 10)

    # valid but awkward inputs
    grad = np.linspace(0, 65535, 48, dtype=np.float64)[None, :].repeat(32, 0)
    grad[:, ::6] = 65535 - grad[:, ::6]
    Image.fromarray(grad.astype(np.uint16)).save(d / "deep16.png")  # 48 x 32, 16-bit grey
    cmyk = Image.new("CMYK", (64, 48), (255, 0, 0, 0))
    cmyk.paste((0, 255, 255, 0), (0, 24, 64, 48))
    cmyk_exif = cmyk.getexif()
    cmyk_exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    cmyk.save(d / "cmyk_rotated.jpg", exif=cmyk_exif, quality=95)  # stored 64 x 48, displayed 48 x 64
    pal = Image.new("P", (64, 64), 0)
    pal.putpalette([0, 0, 0, 200, 40, 40, 40, 40, 200] + [0] * (256 * 3 - 9))
    for i in range(0, 64, 8):
        pal.paste(1 + (i // 8) % 2, (i, 0, i + 4, 64))
    pal.save(d / "palette_t.png", transparency=0)
    rgba = np.zeros((64, 40, 4), np.uint8)
    rgba[..., 0] = np.arange(40, dtype=np.uint8)[None, :] * 6
    rgba[..., 2] = 180
    rgba[..., 3] = np.where(np.arange(64)[:, None] < 32, 255, 0)
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")  # 40 x 64, bottom half transparent
    return d


# (id, arguments, words the error line must contain); {i} = inputs folder, {o} = the case's own folder
ERROR_CASES: list[tuple[str, list[str], list[str]]] = [
    ("missing-content", ["{i}/nope.png", "{i}/style.jpg", "-o", "{o}/out.png"], ["content image", "no such file"]),
    ("missing-style", ["{i}/content.png", "{i}/nope.jpg", "-o", "{o}/out.png"], ["style image", "no such file"]),
    ("corrupt-content", ["{i}/corrupt.png", "{i}/style.jpg", "-o", "{o}/out.png"], ["content image", "corrupt.png"]),
    ("non-image-style", ["{i}/content.png", "{i}/notes.txt", "-o", "{o}/out.png"], ["style image", "not an image"]),
    ("tiny-content", ["{i}/dot.png", "{i}/style.jpg", "-o", "{o}/out.png"], ["1x1", "too small"]),
    (
        "mask-aspect",
        ["{i}/content.png", "{i}/style.jpg", "--mask", "{i}/square_mask.png", "-o", "{o}/out.png"],
        ["mask", "aspect ratio"],
    ),
    ("output-no-dir", ["{i}/content.png", "{i}/style.jpg", "-o", "{o}/nodir/out.png"], ["does not exist"]),
    ("output-gif", ["{i}/content.png", "{i}/style.jpg", "-o", "{o}/out.gif"], [".png, .jpg or .jpeg"]),
    (
        "weights-missing",
        ["{i}/content.png", "{i}/style.jpg", "--weights", "{i}/nowhere.safetensors", "-o", "{o}/out.png"],
        ["nowhere.safetensors", "no such file"],
    ),
    (
        "unknown-layer",
        ["{i}/content.png", "{i}/style.jpg", "--content-layers", "relu9_9", "-o", "{o}/out.png"],
        ["relu9_9"],
    ),
    (
        "style-blend-count",
        ["{i}/content.png", "{i}/style.jpg", "--style-blend", "0.5", "0.5", "-o", "{o}/out.png"],
        ["--style-blend needs 1 "],
    ),
    ("from-image-no-params", ["--from-image", "{i}/no_params.png", "-o", "{o}/out.png"], ["no artforge parameters"]),
]

# Further cases, run in-process through main() (cheap: no second torch import)
EXTRA_CASES: list[tuple[str, list[str], list[str]]] = [
    ("output-under-file", ["{i}/content.png", "{i}/style.jpg", "-o", "{o}/out.png/x.png"], ["output"]),
    (
        "weights-garbage",
        ["{i}/content.png", "{i}/style.jpg", "--weights", "{i}/garbage.safetensors", "-o", "{o}/out.png"],
        ["garbage.safetensors", "not a readable"],
    ),
    (
        "bad-layer-weight",
        ["{i}/content.png", "{i}/style.jpg", "--style-layers", "relu1_1:x", "-o", "{o}/out.png"],
        ["bad layer weight", "relu1_1:x"],
    ),
    ("from-image-bad-json", ["--from-image", "{i}/bad_params.png", "-o", "{o}/out.png"], ["malformed"]),
    ("from-image-bomb", ["--from-image", "{i}/bomb.png", "-o", "{o}/out.png"], ["too many pixels"]),
    ("no-content", ["-o", "{o}/out.png"], ["give a CONTENT image"]),
]

# (id, content, style, expected output size W x H): the long side is --size 32
GOOD_CASES: list[tuple[str, str, str, tuple[int, int]]] = [
    ("16bit-content+palette-transparent-style", "deep16.png", "palette_t.png", (32, 21)),
    ("cmyk-exif-rotated-content", "cmyk_rotated.jpg", "style.jpg", (24, 32)),
    ("rgba-content", "rgba.png", "style.jpg", (20, 32)),
]


@dataclass
class Run:
    folder: Path
    result: subprocess.CompletedProcess[str]
    before: dict[str, bytes]
    after: dict[str, bytes]


@pytest.fixture(scope="module")
def runs(weights_cache: Path, inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every CLI case of this module, two processes at a time (each one pays ~1.5 s of imports)."""
    env = {**os.environ, "ARTFORGE_CACHE": str(weights_cache)}  # what the cache_env fixture sets

    def one(case_id: str, args: list[str]) -> Run:
        folder = tmp_path_factory.mktemp(case_id)
        (folder / "out.png").write_bytes(STALE)
        (folder / "out.gif").write_bytes(STALE)
        before = _snapshot(folder)
        argv = [sys.executable, "-m", "artforge", "stylize", *(a.format(i=inputs, o=folder) for a in args), *TINY]
        r = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        return Run(folder, r, before, _snapshot(folder))

    jobs = [(c[0], c[1]) for c in ERROR_CASES]
    jobs += [(c[0], [f"{{i}}/{c[1]}", f"{{i}}/{c[2]}", "-o", "{o}/out.png"]) for c in GOOD_CASES]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case_id: pool.submit(one, case_id, args) for case_id, args in jobs}
        return {case_id: f.result() for case_id, f in futures.items()}


@pytest.mark.parametrize(("case_id", "words"), [(c[0], c[2]) for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_bad_input_one_line_error(runs: dict[str, Run], case_id: str, words: list[str]) -> None:
    run = runs[case_id]
    r = run.result
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), r.stderr
    assert lines[0].startswith("artforge: error: "), r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert "wrote" not in r.stdout
    assert run.after == run.before  # the old output keeps its bytes; no temp, partial or new files


@pytest.mark.parametrize(
    ("case_id", "content", "style", "size"), [(c[0], *c[1:]) for c in GOOD_CASES], ids=[c[0] for c in GOOD_CASES]
)
def test_awkward_valid_input(
    runs: dict[str, Run], inputs: Path, case_id: str, content: str, style: str, size: tuple[int, int]
) -> None:
    run = runs[case_id]
    r, out = run.result, run.folder / "out.png"
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "error" not in r.stderr, r.stderr
    assert r.stdout.strip() == f"wrote {out}"
    assert out.read_bytes() != STALE  # the stale file was replaced
    with Image.open(out) as img:
        img.load()
        assert img.format == "PNG" and img.mode == "RGB"
        assert img.size == size and max(img.size) == 32
        assert np.asarray(img).std() > 1  # an actual picture, not a blank
    params = images.read_params(out)
    assert params["content"] == str((inputs / content).resolve())
    assert params["styles"] == [str((inputs / style).resolve())]
    assert sorted(run.after) == ["out.gif", "out.png"]  # no temp files left behind


@pytest.mark.parametrize(("args", "words"), [c[1:] for c in EXTRA_CASES], ids=[c[0] for c in EXTRA_CASES])
def test_bad_input_in_process(
    cache_env: Path, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    from artforge.cli.main import main

    (tmp_path / "out.png").write_bytes(STALE)
    before = _snapshot(tmp_path)
    rc = main(["stylize", *(a.format(i=inputs, o=tmp_path) for a in args), *TINY])
    captured = capsys.readouterr()
    assert rc == 1
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("artforge: error: "), captured.err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert _snapshot(tmp_path) == before
