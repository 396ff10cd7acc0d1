"""``stylize --model`` for one photo in onnxruntime without torch (:mod:`artforge.feedforward.quick`): the first use
exports the shipped model into the cache, later ones never import torch, and the pixels and PNG parameters are the
PyTorch path's (within one 8-bit step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artforge import api
from artforge.data import images
from artforge.feedforward import quick
from artforge.feedforward.options import ModelOptions

CHILD = """
import json, sys
from artforge.cli.main import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules}))
"""
CASES = {
    "johnson-mountains": (["--strength", "0.6", "--size", "80"], {"strength": 0.6, "size": 80}, []),
    "adain-wesnoth": (
        ["--style", "{style}", "--alpha", "0.7", "--style-size", "64", "--size", "80"],
        {"alpha": 0.7, "style_size": 64, "size": 80},
        ["{style}"],
    ),
}


@pytest.fixture(scope="module")
def cache(weights_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache with the offline VGG16 (AdaIN's encoder) and no ONNX exports yet."""
    d = tmp_path_factory.mktemp("quick_cache")
    for f in weights_cache.glob("vgg16-hed.safetensors*"):
        (d / f.name).symlink_to(f)
    return d


def _cli(argv: list[str], cache: Path) -> dict[str, object]:
    env = {**os.environ, "ARTFORGE_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    report: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("model", list(CASES))
def test_first_use_exports_then_runs_without_torch_and_matches_pytorch(
    model: str, cache: Path, photo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTFORGE_CACHE", str(cache))  # for cached_onnx() and api here, as for the CLI below
    flags, options, styles = CASES[model]
    style = str(photo_dir / "style.jpg")
    flags = [f.format(style=style) for f in flags]
    styles = [s.format(style=style) for s in styles]
    content = str(photo_dir / "content.png")
    source = quick.models_dir() / f"{model}.safetensors"
    assert not quick.cached_onnx(source).exists()
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    r1 = _cli(["stylize", "--model", model, content, *flags, "-o", str(first), "-q"], cache)
    assert r1["rc"] == 0 and quick.cached_onnx(source).is_file()
    r2 = _cli(["stylize", "--model", model, content, *flags, "-o", str(again), "-q"], cache)
    assert r2 == {"rc": 0, "torch": False}
    ref = tmp_path / "torch.png"
    api.stylize_with_model(content, ref, model, styles=styles, **options)
    a, b, c = (np.asarray(Image.open(p), dtype=np.int16) for p in (again, first, ref))
    assert a.shape == c.shape and max(a.shape[:2]) == 80
    assert np.abs(a - c).max() <= 1 and np.mean(a != c) < 0.01  # the export's tolerance, 1e-3, before rounding
    assert np.array_equal(a, b)
    assert images.read_params(again) == images.read_params(ref)


def test_plan_takes_only_what_it_runs_as_pytorch_does(
    tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, out = str(photo_dir / "content.png"), str(tmp_path / "out.png")

    def plan(model: str = "johnson-mountains", inputs: tuple[str, ...] = (content,), output: str = out,
             styles: tuple[str, ...] = (), masks: tuple[str, ...] = (), device: str = "auto",
             **options: object) -> Path | None:  # fmt: skip
        return quick.plan(model, inputs, output, styles, masks, ModelOptions(**options), device)  # type: ignore[arg-type]

    assert plan() == quick.models_dir() / "johnson-mountains.safetensors"
    assert plan(device="cpu") is not None
    assert plan("adain-wesnoth", styles=(content,)) is not None
    assert plan("adain-wesnoth") is None  # no style: PyTorch's error
    assert plan(styles=(content,)) is None  # a style for a per-style model: PyTorch's error
    assert plan("adain-wesnoth", styles=(content, content)) is None  # style blends
    assert plan("runs/nothing") is None and plan(str(quick.models_dir() / "johnson-mountains.safetensors")) is None
    assert plan(inputs=(content, content)) is None and plan(inputs=(str(photo_dir),)) is None
    assert plan(inputs=(str(photo_dir / "*.png"),)) is None
    assert plan(output=str(tmp_path)) is None and plan(output=str(tmp_path / "folder")) is None
    assert plan(masks=(content,)) is None and plan(device="cuda") is None
    assert plan(preserve_color="luminance") is None and plan(precision="bf16") is None
    assert plan(strength=2.0) is None  # invalid: PyTorch's one-line error

    monkeypatch.setattr(quick, "nvidia_gpu", lambda: True)  # a GPU, and an onnxruntime without CUDA: PyTorch's
    monkeypatch.setattr(quick, "providers", lambda: ["CPUExecutionProvider"])
    assert plan() is None and plan(device="cpu") is not None
    monkeypatch.setattr(quick, "providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert plan() is not None


def test_an_image_larger_than_a_tile_goes_to_pytorch(cache: Path, photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    r = _cli(["stylize", "--model", "johnson-mountains", str(photo_dir / "content.png"), "--tile-size", "64",
              "--tile-overlap", "8", "-o", str(out), "-q"], cache)  # fmt: skip
    assert r == {"rc": 0, "torch": True}
    with Image.open(out) as im:
        assert im.size == Image.open(photo_dir / "content.png").size


def test_a_broken_cached_export_is_one_line(
    tmp_path: Path, photo_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from artforge.cli.main import main

    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    onnx = quick.cached_onnx(quick.models_dir() / "johnson-mountains.safetensors")
    onnx.parent.mkdir(parents=True)
    onnx.write_bytes(b"not an onnx model")
    out = tmp_path / "out.png"
    rc = main(["stylize", "--model", "johnson-mountains", str(photo_dir / "content.png"), "-o", str(out), "-q"])
    lines = capsys.readouterr().err.splitlines()
    assert rc == 1 and len(lines) == 1 and "delete it" in lines[0] and str(onnx) in lines[0], lines
    assert not out.exists()
