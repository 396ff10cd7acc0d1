"""The command line end to end, with the real offline VGG at small sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from artforge.data.images import read_params, to_tensor
from artforge.objectives import functional as L
from artforge.objectives.perceptual import gram_targets


def artforge(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ARTFORGE_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "artforge", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_stylize_writes_png_with_parameters_and_reproduces(cache_env: Path, photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    common = ["--size", "64", "--iterations", "3", "--seed", "7", "--style-weight", "2", "--precision", "bf16"]
    r = artforge(
        "stylize",
        str(photo_dir / "content.png"),
        str(photo_dir / "style.jpg"),
        "-o",
        str(out),
        *common,
        cache=cache_env,
    )
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stdout
    img = Image.open(out)
    assert max(img.size) == 64 and img.mode == "RGB"
    params = read_params(out)
    assert params["config"]["style_weight"] == 2.0 and params["config"]["precision"] == "bf16"  # type: ignore[index]
    assert params["styles"] == [str((photo_dir / "style.jpg").resolve())]
    # --from-image re-runs with the stored parameters: same pixels (deterministic on CPU).
    again = tmp_path / "again.png"
    r2 = artforge("stylize", "--from-image", str(out), "-o", str(again), cache=cache_env)
    assert r2.returncode == 0, r2.stderr
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))
    # An explicit flag overrides the stored value.
    third = tmp_path / "third.png"
    r3 = artforge("stylize", "--from-image", str(out), "-o", str(third), "--size", "48", cache=cache_env)
    assert r3.returncode == 0, r3.stderr
    assert max(Image.open(third).size) == 48
    assert read_params(third)["config"]["style_weight"] == 2.0  # type: ignore[index]


def test_stylize_moves_the_image_toward_the_style(
    cache_env: Path, photo_dir: Path, tmp_path: Path, vgg: torch.nn.Module
) -> None:
    out = tmp_path / "o.png"
    r = artforge(
        "stylize",
        str(photo_dir / "content.png"),
        str(photo_dir / "style2.jpg"),
        "-o",
        str(out),
        "--size",
        "64",
        "--iterations",
        "10",
        "-q",
        cache=cache_env,
    )
    assert r.returncode == 0, r.stderr
    got = Image.open(out)
    content = Image.open(photo_dir / "content.png").resize(got.size, Image.Resampling.LANCZOS)
    style = to_tensor(Image.open(photo_dir / "style2.jpg").resize((64, 48), Image.Resampling.LANCZOS))
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    targets = gram_targets(vgg, style, layers)  # type: ignore[arg-type]

    def style_loss(img: Image.Image) -> float:
        return float(L.style_loss(vgg(to_tensor(img), layers), targets, dict.fromkeys(layers, 1.0)))

    assert style_loss(got) < 0.7 * style_loss(content)


def test_save_every_writes_intermediate_images(cache_env: Path, photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    r = artforge(
        "stylize",
        str(photo_dir / "content.png"),
        str(photo_dir / "style.jpg"),
        "-o",
        str(out),
        "--size",
        "48",
        "--iterations",
        "2",
        "--scales",
        "1",
        "--save-every",
        "1",
        "-q",
        cache=cache_env,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.glob("s.0*.png")) == ["s.00001.png", "s.00002.png"]


def test_weights_list_and_path(cache_env: Path) -> None:
    r = artforge("weights", "list", cache=cache_env)
    assert r.returncode == 0
    assert "vgg16-hed" in r.stdout and "ready" in r.stdout and "vgg19" in r.stdout
    p = artforge("weights", "path", cache=cache_env)
    assert Path(p.stdout.strip()) == cache_env / "vgg16-hed.safetensors"


def test_sample_images_and_help(cache_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample.png"
    r = artforge(
        "stylize",
        "sample:coffee",
        "sample:altar",
        "-o",
        str(out),
        "--size",
        "40",
        "--iterations",
        "1",
        "-q",
        cache=cache_env,
    )
    assert r.returncode == 0, r.stderr
    assert read_params(out)["content"] == "sample:coffee"
    h = artforge("stylize", "--help", cache=cache_env)
    assert "--preserve-color" in h.stdout and "--style-blend" in h.stdout
    bad = artforge("stylize", "sample:nope", "sample:altar", "-o", str(out), cache=cache_env)
    assert bad.returncode == 1 and "unknown sample" in bad.stderr


def test_python_api_returns_pil_image(cache_env: Path, photo_dir: Path) -> None:
    import artforge as af

    cfg = af.StylizeConfig(size=40, iterations=2)
    img = af.stylize(str(photo_dir / "content.png"), [str(photo_dir / "style.jpg")], cfg)
    assert isinstance(img, Image.Image) and max(img.size) == 40
    assert json.loads(json.dumps(cfg.to_dict()))["size"] == 40
