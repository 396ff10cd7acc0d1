"""Distillation targets for per-style networks (``--targets``): photo/target pairs are cut alike, a missing
target is named, and L_target is the relative VGG-feature error of the paper-style perceptual loss, by hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.core.errors import ArtforgeError
from artforge.data.crops import crop_generator, load_pairs, random_crops
from artforge.families.config import TrainConfig
from artforge.objectives import functional as Fn
from artforge.train.feedforward import JOHNSON_STYLE
from artforge.train.processes import Processes

CPU = Processes(0, 1, torch.device("cpu"))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four real photos (scikit-image, not square) and, as their "targets", the negatives, saved as BMP."""
    import skimage.data

    root = tmp_path_factory.mktemp("pairs")
    (root / "photos").mkdir()
    (root / "targets").mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        img = Image.fromarray(getattr(skimage.data, name)()[..., :3])
        img.thumbnail((80, 80))
        img.save(root / "photos" / f"{name}.png")
        Image.fromarray(255 - np.asarray(img)).save(root / "targets" / f"{name}.bmp")
    return root / "photos", root / "targets"


def cfg(photos: Path, targets: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "model": "johnson", "data": str(photos), "targets": str(targets), "style": ["sample:mountains"],
        "resolution": 24, "batch": 2, "kimg": 0.016, "snap_kimg": 0.008, "tick_kimg": 0.002, "width": 4, "seed": 1,
    }  # fmt: skip
    return TrainConfig.from_dict({**base, **kw})


def test_photo_and_target_are_cut_and_flipped_at_the_same_place(pairs: tuple[Path, Path]) -> None:
    pool = load_pairs(str(pairs[0]), str(pairs[1]), 24)
    assert pool.shape == (4, 6, 48, 48) and pool.dtype == torch.uint8
    flips_seen = set()
    for step in range(8):
        gen = crop_generator(0, step)
        crops = random_crops(pool, torch.arange(4), 24, gen)
        torch.testing.assert_close(crops[:, 3:], 1 - crops[:, :3], atol=1e-6, rtol=0)
        flips_seen.add(bool(torch.rand(4, generator=crop_generator(0, step)).lt(2).all()))
    assert not torch.equal(pool[:, :3], pool[:, :3].flip(-1))  # real photos: a flip would show


def test_a_photo_without_a_target_is_named(pairs: tuple[Path, Path], tmp_path: Path) -> None:
    partial = tmp_path / "targets"
    partial.mkdir()
    for f in sorted(pairs[1].iterdir())[1:]:
        (partial / f.name).write_bytes(f.read_bytes())
    missing = sorted(pairs[0].iterdir())[0].name
    with pytest.raises(ArtforgeError, match=f"no stylised version of 1 photo.*{missing}"):
        load_pairs(str(pairs[0]), str(partial), 24)
    with pytest.raises(ArtforgeError, match="--targets .*must be folders"):
        load_pairs(str(pairs[0]), str(tmp_path / "nope"), 24)


def test_target_term_is_the_relative_feature_error(pairs: tuple[Path, Path], weights_cache: Path) -> None:
    """L(with t) - L(without) = d * mean_l ||F_l(y) - F_l(t)||^2 / ||F_l(t)||^2, with F the loss network."""
    from artforge.train.build import build_stylizer

    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    trainer, _, _ = build_stylizer(cfg(*pairs, target_weight=3.0, amp="none"), CPU)  # fp32, as the hand computation
    batch = trainer._content_batch()
    assert batch.shape[1] == 6
    x, t = batch[:, :3], batch[:, 3:]
    with torch.no_grad():
        y = trainer.net(x)
        diff = trainer._perceptual_loss(x, y, t) - trainer._perceptual_loss(x, y)
        fy, ft = trainer.encoder(y, JOHNSON_STYLE), trainer.encoder(t, JOHNSON_STYLE)
        by_hand = sum(float(((fy[k] - ft[k]) ** 2).sum() / (ft[k] ** 2).sum()) for k in JOHNSON_STYLE) / 4
    assert by_hand > 0.1  # the negative is far from the identity network's output
    assert float(diff) == pytest.approx(3.0 * by_hand, rel=1e-4)
    with torch.no_grad():  # the target equal to the output: no term
        same = trainer._perceptual_loss(x, y, y) - trainer._perceptual_loss(x, y)
    assert abs(float(same)) < 1e-6
    assert Fn.relative_mse(y, y) == 0


def test_training_on_targets_moves_toward_them(pairs: tuple[Path, Path], tmp_path: Path, weights_cache: Path) -> None:
    """Targets that are the photos in a warm tint: with only L_target on, the network learns the tint
    (L_target on a fixed batch falls), and the run's config records the folder."""
    from artforge.train.build import build_stylizer

    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    tinted = tmp_path / "tinted"
    tinted.mkdir()
    for f in sorted(pairs[0].iterdir()):
        rgb = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) * np.array([1.0, 0.75, 0.45])
        Image.fromarray(rgb.round().astype(np.uint8)).save(tinted / f.name)
    only_target = cfg(pairs[0], tinted, style_weight=0.0, content_weight=0.0, tv_weight=0.0, batch=4)
    trainer, _, _ = build_stylizer(only_target, CPU)
    batch = trainer._content_batch()
    x, t = batch[:, :3], batch[:, 3:]

    def target_loss() -> float:
        with torch.no_grad():
            return float(trainer._perceptual_loss(x, trainer.net(x), t) - trainer._perceptual_loss(x, trainer.net(x)))

    before = target_loss()
    for _ in range(60):
        trainer.step()
    assert target_loss() < 0.6 * before
    ckpt = api.train(cfg(pairs[0], tinted, kimg=0.004), out=tmp_path / "runs", progress=False)
    assert json.loads((ckpt.parent / "config.json").read_text())["targets"] == str(tinted)


def test_adain_refuses_targets(pairs: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ArtforgeError, match="--targets is for per-style networks"):
        api.train(cfg(*pairs, model="adain"), out=tmp_path, progress=False)
