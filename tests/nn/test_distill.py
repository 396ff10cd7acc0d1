"""Distilled AdaIN encoders (collaborative distillation, Wang et al. 2020): the thin VGG student,
its pruned start, the embedding loss, and a distilled AdaIN model through training, resume, model
files and ONNX, with real photos and the real VGG16 teacher."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.core import checkpoint as ckpt
from artforge.families.config import TrainConfig
from artforge.feedforward import stylizer as stylizers
from artforge.nn.adain import LAYER, STYLE_LAYERS
from artforge.nn.distill import Embeddings, student_of
from artforge.nn.encoders import VGGEncoder
from artforge.objectives.distill import embedding_loss


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real photographs (scikit-image), 80 px."""
    import skimage.data

    d = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        img = Image.fromarray(getattr(skimage.data, name)()[..., :3])
        img.thumbnail((80, 80))
        img.save(d / f"{name}.png")
    return d


def test_encoder_built_up_to_a_layer_has_no_deeper_weights(tiny_vgg: VGGEncoder) -> None:
    short = VGGEncoder("vgg16", width=16, last=LAYER)
    assert list(short.convs) == [n for n in tiny_vgg.convs if n <= "conv4_1"]
    short.convs.load_state_dict({k: v for k, v in tiny_vgg.convs.state_dict().items() if k[:7] <= "conv4_1"})
    x = torch.rand(2, 3, 33, 40)
    a, b = short(x, STYLE_LAYERS), tiny_vgg(x, STYLE_LAYERS)
    assert all(torch.allclose(a[k], b[k]) for k in STYLE_LAYERS)
    with pytest.raises(ValueError, match="relu4_2"):
        short(x, ["relu4_2"])


def test_a_student_as_wide_as_its_teacher_is_the_teacher(tiny_vgg: VGGEncoder) -> None:
    """Pruning nothing keeps every filter in order and the embeddings start as the identity: loss 0."""
    student, kept = student_of(tiny_vgg, 16, LAYER)
    assert all(torch.equal(k, torch.arange(len(k))) for k in kept.values())
    x = torch.rand(2, 3, 32, 48)
    fs, ft = student(x, STYLE_LAYERS), tiny_vgg(x, STYLE_LAYERS)
    embed = Embeddings(student, tiny_vgg, STYLE_LAYERS, kept)
    assert float(embedding_loss(fs, ft, embed).detach()) < 1e-10
    assert student.training and all(p.requires_grad for p in student.parameters())


def test_a_pruned_student_keeps_the_strongest_filters_and_its_loss_is_the_dropped_energy(tiny_vgg: VGGEncoder) -> None:
    """Half width: conv1_1 keeps the 2 of 4 filters of largest L1 norm, so relu1_1 is exactly those
    teacher channels, and E_relu1_1 puts them back: the loss is ||dropped||^2 / ||all||^2."""
    student, kept = student_of(tiny_vgg, 32, LAYER)
    w = tiny_vgg.convs["conv1_1"].weight
    norms = w.abs().sum((1, 2, 3))
    assert sorted(kept["conv1_1"].tolist()) == sorted(norms.topk(2).indices.tolist())
    x = torch.rand(2, 3, 24, 24)
    fs, ft = student(x, ["relu1_1"]), tiny_vgg(x, ["relu1_1"])
    assert torch.allclose(fs["relu1_1"], ft["relu1_1"][:, kept["conv1_1"]])
    embed = Embeddings(student, tiny_vgg, ["relu1_1"], kept)
    dropped = [c for c in range(4) if c not in kept["conv1_1"].tolist()]
    expected = ft["relu1_1"][:, dropped].square().sum() / ft["relu1_1"].square().sum()
    assert torch.allclose(embedding_loss(fs, ft, embed), expected, rtol=1e-4)


def distilled_cfg(photos: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "model": "adain", "data": str(photos), "style": [str(photos)], "resolution": 32, "batch": 2,
        "encoder_width": 4, "distill_kimg": 0.012, "kimg": 0.016, "snap_kimg": 0.008,
        "tick_kimg": 0.002, "lr": 1e-3, "style_weight": 1.0, "seed": 5,
    }  # fmt: skip
    return TrainConfig.from_dict({**base, **kw})


def test_distilled_adain_trains_resumes_exactly_and_ships_in_one_file(
    photos: Path, tmp_path: Path, weights_cache: Path, vgg: VGGEncoder
) -> None:
    """6 distillation steps then 2 decoder steps; a run stopped inside the distillation resumes to
    the same tensors; the student learned the teacher; the exported file carries the encoder."""
    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    cfg = distilled_cfg(photos)
    full = api.train(cfg, out=tmp_path / "a", progress=False)
    half = api.train(cfg, out=tmp_path / "b", progress=False, kimg=0.008)  # step 4 of 6 distillation steps
    resumed = api.train(resume=half.parent, progress=False, kimg=0.016)
    ta, tb = ckpt.load(full)[0], ckpt.load(resumed)[0]
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    rows = [json.loads(line) for line in (full.parent / "stats.jsonl").read_text().splitlines()]
    assert any("loss/distill" in r for r in rows) and "loss/style" in rows[-1]

    # the student moved toward the teacher on photos it trained on
    start, kept = student_of(vgg, 4, LAYER)
    embed = Embeddings(start, vgg, STYLE_LAYERS, kept)
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((32, 32))) for p in sorted(photos.iterdir())]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        ft = vgg(x, STYLE_LAYERS)
        before = embedding_loss(start(x, STYLE_LAYERS), ft, embed)
        ckpt.load_module("E", start, ta, full)
        ckpt.load_module("P", embed, ta, full)
        after = embedding_loss(start(x, STYLE_LAYERS), ft, embed)
    assert after < before

    sty = stylizers.load(full)
    assert sty.spec.encoder_width == 4 and sty.encoder.convs["conv1_1"].out_channels == 16
    assert sty.spec.width == 4  # the decoder follows the encoder's width unless --width says otherwise
    assert "conv4_2" not in sty.encoder.convs  # the student stops at relu4_1
    c, s = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 48, 48)
    y = sty(c, [s])
    assert y.shape == c.shape
    file = stylizers.save_model(tmp_path / "q.safetensors", sty, fp16=False)
    again = stylizers.load(file)
    assert torch.equal(again(c, [s]), y)
    assert {k.split(".")[0] for k in ckpt.load(file)[0]} == {"G", "E"}  # no optimiser, no embeddings
    with pytest.raises(stylizers.ArtforgeError, match="needs its own encoder"):
        stylizers.Stylizer(sty.spec, sty.net, "x")  # not the VGG teacher in its place
    (row,) = [r for r in stylizers.list_models(tmp_path / "a") if r["source"] == "trained"]
    assert row["kind"] == "adain" and "distilled 1/4-width encoder" in row["description"]


def test_distillation_options_are_checked(photos: Path) -> None:
    from artforge.core.errors import ArtforgeError
    from artforge.families.registry import check

    check(distilled_cfg(photos))  # the valid settings pass
    with pytest.raises(ArtforgeError, match="encoder-width is for --model adain"):
        check(distilled_cfg(photos, model="johnson"))
    with pytest.raises(ArtforgeError, match="encoder-width must be >= 1"):
        check(distilled_cfg(photos, encoder_width=0))
