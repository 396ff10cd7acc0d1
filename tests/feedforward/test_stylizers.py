"""Feed-forward stylisers: model specs, AdaIN's alpha, training (incl. the adversarial term and exact
resume), inference (batches, tiles, strength, colour) and the CLI, with real photos and VGG16. The
networks themselves are tested in tests/nn (test_transformer, test_adain, test_discriminators)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.core.errors import ArtforgeError
from artforge.families.config import TrainConfig
from artforge.families.registry import build_stylizer_net
from artforge.families.stylizer import NetSpec
from artforge.feedforward import stylizer as stylizers
from artforge.nn.adain import DEFAULT_SKIPS, AdaINDecoder, target_layers
from artforge.nn.transformer import (
    TransformerNet,
)
from artforge.train.processes import Processes

CPU = Processes(0, 1, torch.device("cpu"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six real photographs (scikit-image), 96 px."""
    import skimage.data

    d = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina"):
        img = Image.fromarray(getattr(skimage.data, name)()[..., :3])
        img.thumbnail((96, 96))
        img.save(d / f"{name}.png")
    return d


def tiny_cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "model": "johnson", "style": ["sample:mountains"], "resolution": 32, "batch": 2, "kimg": 0.008,
        "snap_kimg": 0.004, "tick_kimg": 0.002, "width": 4, "seed": 3,
    }  # fmt: skip
    return TrainConfig.from_dict({**base, **kw})


# ---------------------------------------------------------------- model specs


def test_skip_network_starts_as_the_identity_and_old_specs_build_the_papers_net() -> None:
    x = torch.rand(2, 3, 30, 41)
    torch.testing.assert_close(TransformerNet(width=4, skip=True)(x), x)
    assert not TransformerNet(width=4)(x).allclose(x, atol=1e-2)
    old = NetSpec(**{"kind": "johnson", "width": 4, "blocks": 5, "arch": "vgg16", "weights": "vgg16-hed"})
    assert build_stylizer_net(old).skip is False  # model files written before the option keep their architecture


def test_netspec_keeps_adain_skips_through_json_and_old_files_build_the_papers_decoder() -> None:
    spec = NetSpec("adain", 1, skips=("relu3_1",))
    back = NetSpec(**json.loads(json.dumps(spec.to_dict())))
    assert back == spec and build_stylizer_net(back).skips == ("relu3_1",)
    old = NetSpec(**{"kind": "adain", "width": 1, "blocks": 5, "arch": "vgg16", "weights": "vgg16-hed"})
    dec = build_stylizer_net(old)
    assert dec.skips == () and len(dec.proj) == 0 and target_layers(dec) == ["relu4_1"]


# ---------------------------------------------------------------- AdaIN


@pytest.mark.parametrize("skips", [(), ("relu3_1", "relu2_1")])
def test_alpha_zero_decodes_the_content_features(tiny_vgg: torch.nn.Module, skips: tuple[str, ...]) -> None:
    """--alpha 0: the decoder sees f(c) itself (at every skip too), so the output is g(f(c)), the
    content's reconstruction."""
    vgg = tiny_vgg
    dec = AdaINDecoder("vgg16", width=16, encoder_width=16, skips=skips)
    sty = stylizers.Stylizer(NetSpec("adain", 16, skips=skips), dec, "t", encoder=vgg)
    c, s = torch.rand(1, 3, 40, 48), torch.rand(1, 3, 64, 64)
    out = sty(c, [s], alpha=0.0)
    fc = vgg(c, ["relu4_1", *skips])
    expect = dec(fc["relu4_1"], fc).clamp(0, 1)
    assert torch.allclose(out, expect, atol=1e-6)
    assert not torch.allclose(sty(c, [s], alpha=1.0), expect, atol=1e-3)


# ---------------------------------------------------------------- training


def test_adversarial_term_adds_exactly_its_gradient(photos: Path, weights_cache: Path) -> None:
    """dL/dW with lambda3 = dL/dW without + lambda3 * dL_adv/dW, and L_adv's gradient is not zero."""
    from artforge.train.build import build_stylizer

    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    cfg = tiny_cfg(model="gan-style", data=str(photos), adv_weight=0.5)
    trainer, _, _ = build_stylizer(cfg, CPU)
    trainer.disc.eval()  # no spectral-norm power iteration between the three evaluations
    for m in (trainer.net, trainer.disc, trainer.encoder):
        m.double()  # float64: the comparison below subtracts two large gradients
    trainer.targets = {k: v.double() for k, v in trainer.targets.items()}
    x = trainer._content_batch().double()

    def grads(with_adv: bool) -> list[torch.Tensor]:
        trainer.net.zero_grad()
        y = trainer.net(x)
        loss = trainer._perceptual_loss(x, y)
        if with_adv:
            from artforge.objectives.adversarial import g_loss

            loss = loss + cfg.adv_weight * g_loss("hinge", trainer.disc(y).flatten())
        loss.backward()
        return [p.grad.clone() for p in trainer.net.parameters()]

    def adv_only() -> list[torch.Tensor]:
        from artforge.objectives.adversarial import g_loss

        trainer.net.zero_grad()
        g_loss("hinge", trainer.disc(trainer.net(x)).flatten()).backward()
        return [p.grad.clone() for p in trainer.net.parameters()]

    g0, g1, ga = grads(False), grads(True), adv_only()
    assert max(float(a.abs().max()) for a in ga) > 1e-2  # far above the tolerance below
    for a, b, c in zip(g0, g1, ga, strict=True):
        assert torch.allclose(b - a, 0.5 * c, atol=1e-5, rtol=1e-4)  # biases before instance norm: ~0 + noise


def test_training_lowers_the_loss_and_resume_is_exact(photos: Path, tmp_path: Path, weights_cache: Path) -> None:
    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    cfg = tiny_cfg(data=str(photos), kimg=0.016, snap_kimg=0.008)
    full = api.train(cfg, out=tmp_path / "a", progress=False)
    half = api.train(cfg, out=tmp_path / "b", progress=False, kimg=0.008)
    resumed = api.train(resume=half.parent, progress=False, kimg=0.016)
    ta, tb = (stylizers.ckpt.load(p)[0] for p in (full, resumed))
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    rows = [json.loads(line) for line in (full.parent / "stats.jsonl").read_text().splitlines()]
    style = [r["loss/style"] for r in rows if "loss/style" in r]
    assert style[-1] < style[0]


@pytest.mark.parametrize("model", ["johnson", "adain"])
def test_bf16_training_runs_the_loss_network_in_bf16_and_the_losses_in_fp32(
    model: str, photos: Path, weights_cache: Path
) -> None:
    """--amp bf16: the loss VGG's convolutions (and the AdaIN decoder's) compute in bf16, the Johnson network's in
    fp32 (instance norm); the loss is fp32 and within 3% of the fp32 loss of the same batch and weights; auto is
    bf16 exactly where bf16 is native; fp16 is refused."""
    from artforge.core.device import native_bf16
    from artforge.train.build import build_stylizer
    from artforge.train.feedforward import stylizer_amp

    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    style = ["sample:mountains", "sample:swamp"] if model == "adain" else ["sample:mountains"]
    losses, seen = {}, set()
    for amp in ("none", "bf16"):
        trainer, _, _ = build_stylizer(tiny_cfg(model=model, data=str(photos), style=style, amp=amp), CPU)
        hooks = [
            m.register_forward_hook(lambda _m, _a, out, key=(amp, part): seen.add((*key, out.dtype)))
            for part, net in (("net", trainer.net), ("vgg", trainer.encoder))
            for m in net.modules()
            if isinstance(m, torch.nn.Conv2d)
        ]
        x = trainer._content_batch()
        with torch.no_grad():
            losses[amp] = trainer._adain_loss(x) if model == "adain" else trainer._perceptual_loss(x, trainer.net(x))
        for h in hooks:
            h.remove()
    net_bf16 = torch.bfloat16 if model == "adain" else torch.float32
    assert seen == {
        ("none", "net", torch.float32), ("none", "vgg", torch.float32),
        ("bf16", "net", net_bf16), ("bf16", "vgg", torch.bfloat16),
    }  # fmt: skip
    assert losses["bf16"].dtype == torch.float32
    assert float(losses["bf16"]) == pytest.approx(float(losses["none"]), rel=0.03)
    assert float(losses["bf16"]) != float(losses["none"])
    cpu = torch.device("cpu")
    assert stylizer_amp("auto", cpu) == (torch.bfloat16 if native_bf16("cpu") else None)
    assert stylizer_amp("none", cpu) is None
    with pytest.raises(ArtforgeError, match="--amp fp16: stylisers train in bf16 or fp32"):
        stylizer_amp("fp16", cpu)


def test_a_run_whose_config_and_weights_disagree_on_the_skip_is_refused(
    photos: Path, tmp_path: Path, weights_cache: Path
) -> None:
    # Version 0.1 keeps no shim for runs written before the skip option: a config without "skip" means the
    # default (True), and weights without it are refused in one line rather than resumed as another net.
    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    half = api.train(tiny_cfg(data=str(photos), skip=False), out=tmp_path, progress=False, kimg=0.004)
    conf = half.parent / "config.json"
    resumed = api.train(resume=half.parent, progress=False, kimg=0.008)
    assert stylizers.load(resumed).net.skip is False
    conf.write_text(json.dumps({k: v for k, v in json.loads(conf.read_text()).items() if k != "skip"}))
    with pytest.raises(ArtforgeError, match="lacks the skip"):
        api.train(resume=half.parent, progress=False, kimg=0.012)


@pytest.mark.parametrize("model", ["adain", "gan-style"])
def test_adain_and_gan_style_train_and_load(model: str, photos: Path, tmp_path: Path, weights_cache: Path) -> None:
    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    style = [str(photos)] if model == "adain" else ["sample:mountains"]
    last = api.train(tiny_cfg(model=model, data=str(photos), style=style), out=tmp_path, progress=False)
    sty = stylizers.load(last.parent)
    assert sty.kind == model and sty.needs_style == (model == "adain")
    x = torch.rand(1, 3, 40, 56)
    y = sty(x, [torch.rand(1, 3, 64, 64)]) if model == "adain" else sty(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
    if model == "adain":  # the decoder trained with artforge's skips, and a resume must agree with them
        assert sty.net.skips == DEFAULT_SKIPS and sty.spec.skips == DEFAULT_SKIPS
        conf = last.parent / "config.json"
        conf.write_text(json.dumps({**json.loads(conf.read_text()), "skip": False}))
        with pytest.raises(ArtforgeError, match="decoder's skips are"):
            api.train(resume=last.parent, progress=False, kimg=0.02)


# ---------------------------------------------------------------- inference


def test_tiles_cross_fade_to_the_untiled_result() -> None:
    """For a pointwise function the paste weights must sum to one everywhere: tiled == untiled."""
    x = torch.rand(1, 3, 150, 210)
    f = lambda t: t.square() * 0.7 + 0.1  # noqa: E731
    assert torch.allclose(stylizers.run_tiled(f, x, 64, 16), f(x), atol=1e-6)


def test_tiled_network_has_no_seams() -> None:
    """Tiled and untiled outputs of a network differ little, and no more at tile borders than inside."""
    torch.manual_seed(0)
    net = TransformerNet(width=4).eval()
    x = torch.rand(1, 3, 160, 160)
    with torch.no_grad():
        tiled = stylizers.run_tiled(net, x, 96, 32)
    jump = (tiled[..., :, 1:] - tiled[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # per column
    assert float(jump[60:70].max()) < 2 * float(jump.median()) + 1e-3


@pytest.fixture(scope="module")
def johnson_run(photos: Path, tmp_path_factory: pytest.TempPathFactory, weights_cache: Path) -> Path:
    os.environ["ARTFORGE_CACHE"] = str(weights_cache)
    out = tmp_path_factory.mktemp("runs")
    return api.train(tiny_cfg(data=str(photos)), out=out, progress=False).parent


def test_strength_and_colour_preservation(johnson_run: Path, photos: Path, tmp_path: Path) -> None:
    from artforge.data import color, images

    src = photos / "coffee.png"
    full = api.stylize_with_model(str(src), tmp_path / "full.png", johnson_run)[0]
    none = api.stylize_with_model(str(src), tmp_path / "none.png", johnson_run, strength=0.0)[0]
    lum = api.stylize_with_model(str(src), tmp_path / "lum.png", johnson_run, preserve_color="luminance")[0]
    x = images.to_tensor(images.load(src))
    assert np.abs(np.asarray(Image.open(none), np.int16) - np.asarray(Image.open(src), np.int16)).max() <= 1
    y_full, y_lum = images.to_tensor(Image.open(full)), images.to_tensor(Image.open(lum))
    chroma = lambda t: color.rgb_to_yiq(t)[:, 1:]  # noqa: E731
    assert (chroma(y_lum) - chroma(x)).abs().mean() < 0.5 * (chroma(y_full) - chroma(x)).abs().mean()


def test_bf16_precision_stays_within_a_grey_level_of_fp32(photos: Path, tmp_path: Path) -> None:
    """The shipped distilled AdaIN model under bf16 autocast: a different computation, the same picture."""
    args = (str(photos / "coffee.png"),)
    kw = {"styles": [str(photos / "rocket.png")], "size": 96}
    a, b = (
        np.asarray(Image.open(api.stylize_with_model(*args, tmp_path / f"{p}.png", "adain-wesnoth-fast",
                                                     precision=p, **kw)[0]), np.float64)
        for p in ("fp32", "bf16")
    )  # fmt: skip
    diff = np.abs(a - b)
    assert 0 < diff.mean() < 1.0 and diff.max() <= 16
    with pytest.raises(ArtforgeError, match="--precision: fp32 or bf16"):
        api.stylize_with_model(*args, tmp_path / "x.png", "adain-wesnoth-fast", precision="fp16", **kw)


def test_a_folder_encodes_each_style_once(photos: Path, tmp_path: Path) -> None:
    """AdaIN over a folder, one image per batch: the style goes through the encoder once, the
    photos once each, and the result equals stylising each photo on its own."""
    from artforge.feedforward.files import ModelOptions, stylize_files

    sty = stylizers.load("adain-wesnoth-fast")
    seen: list[tuple[int, ...]] = []
    encoder = sty.encoder

    def counting(x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        seen.append(tuple(x.shape))
        return encoder(x, layers)  # type: ignore[no-any-return]

    sty.encoder = counting
    style = [str(photos / "rocket.png")]
    files = [str(photos / n) for n in ("coffee.png", "chelsea.png", "astronaut.png")]
    out = stylize_files(sty, files, str(tmp_path / "all") + os.sep, ModelOptions(batch=1), style, progress=False)
    assert len(seen) == 1 + len(files) and sty.encoder is counting  # 1 style + 3 photos; the memo is gone after
    single = stylize_files(sty, files[1:2], str(tmp_path / "one.png"), ModelOptions(), style, progress=False)[0]
    assert np.array_equal(np.asarray(Image.open(out[1])), np.asarray(Image.open(single)))


def test_batches_of_mixed_sizes_match_single_images(johnson_run: Path, photos: Path, tmp_path: Path) -> None:
    out = api.stylize_with_model(str(photos), tmp_path / "all", johnson_run, batch=4)
    assert sorted(p.name for p in out) == sorted(p.name for p in photos.glob("*.png"))
    one = api.stylize_with_model(str(photos / "rocket.png"), tmp_path / "one.png", johnson_run)[0]
    a = np.asarray(Image.open(tmp_path / "all" / "rocket.png"), np.int16)
    assert np.abs(a - np.asarray(Image.open(one), np.int16)).max() <= 1


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "artforge", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize("name", sorted(stylizers.shipped()))
def test_shipped_model_is_small_fp16_and_stylizes(name: str, tmp_path: Path, weights_cache: Path) -> None:
    """Each shipped file: fp16 safetensors under 10 MB with its training config, listed by kind, and it
    stylises: the Gram style loss to the style (VGG16, ``artforge eval --stylization``) falls well below the
    photo's own."""
    from safetensors import safe_open

    from artforge.data import images, samples
    from artforge.metrics.stylization import stylization_metrics

    path = stylizers.shipped()[name]
    assert path.stat().st_size < 10_000_000
    with safe_open(str(path), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        assert "config" in json.loads(f.metadata()["artforge"])
    row = next(r for r in stylizers.list_models() if r["name"] == name)
    sty = stylizers.load(name)
    assert row["kind"] == sty.kind and row["source"] == "shipped"
    photo_img = images.resize_long(samples.load("sample:astronaut"), 192)
    style_img = images.resize_long(samples.load("sample:mountains"), 256)
    photo, style = images.to_tensor(photo_img), images.to_tensor(style_img)
    out = sty(photo, [style]) if sty.needs_style else sty(photo)
    assert out.shape == photo.shape
    files = {"photo": photo_img, "style": style_img, "out": images.to_image(out)}
    for key, im in files.items():
        im.save(tmp_path / f"{key}.png")
    loss = {k: stylization_metrics(tmp_path / f"{k}.png", tmp_path / "photo.png", tmp_path / "style.png",
                                   device="cpu")["style_loss"] for k in ("photo", "out")}  # fmt: skip
    assert loss["out"] < 0.8 * loss["photo"], loss


def test_cli_models_and_stylize(johnson_run: Path, photos: Path, tmp_path: Path) -> None:
    r = run_cli("models", "--json", "--runs", str(johnson_run.parent))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    mine = [row for row in rows if row["name"] == johnson_run.name]
    assert mine and mine[0]["kind"] == "johnson"
    assert all({"name", "kind"} <= set(row) for row in rows)
    r = run_cli("stylize", "--model", str(johnson_run), str(photos / "*.png"), "-o", str(tmp_path / "o"), "-q")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "o").glob("*.png"))) == 6


def test_cli_style_size_reaches_the_adain_model(photos: Path, tmp_path: Path) -> None:
    from artforge.data import images

    outs = []
    for side in (64, 256):
        out = tmp_path / f"s{side}.png"
        r = run_cli("stylize", "--model", "adain-wesnoth-fast", "--style", str(photos / "rocket.png"),
                    "--style-size", str(side), str(photos / "coffee.png"), "-o", str(out), "-q")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert images.read_params(out)["style_size"] == side
        outs.append(np.asarray(Image.open(out), np.int16))
    assert np.abs(outs[0] - outs[1]).mean() > 2  # the style statistics change with its scale
    r = run_cli("stylize", "--model", "adain-wesnoth-fast", "--style", str(photos / "rocket.png"),
                "--style-size", "10", str(photos / "coffee.png"), "-o", str(tmp_path / "bad.png"))  # fmt: skip
    assert r.returncode != 0 and "--style-size must be >= 64" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "bad.png").exists()


def test_cli_bad_models_and_styles(johnson_run: Path, photos: Path, tmp_path: Path) -> None:
    dcgan = api.train(
        TrainConfig(model="dcgan", data="fashion-mnist", max_images=64, batch=32, kimg=0.032, snap_kimg=0.032),
        out=tmp_path / "g", progress=False,
    )  # fmt: skip
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    keep = tmp_path / "keep.png"
    keep.write_bytes(b"precious")
    for model in (str(dcgan), str(junk), str(tmp_path / "missing")):
        r = run_cli("stylize", "--model", model, str(photos / "rocket.png"), "-o", str(keep))
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert keep.read_bytes() == b"precious"
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (20, 20), (200, 10, 10)).save(tiny)
    adain_run = api.train(
        tiny_cfg(model="adain", data=str(photos), style=[str(photos)]), out=tmp_path / "a", progress=False
    ).parent
    r = run_cli("stylize", "--model", str(adain_run), str(photos / "rocket.png"), "--style", str(tiny), "-o", str(keep))
    assert r.returncode == 1 and "too small" in r.stderr and keep.read_bytes() == b"precious"
    r = run_cli("stylize", "--model", str(adain_run), str(photos / "rocket.png"), "-o", str(keep))
    assert r.returncode == 1 and "--style" in r.stderr
