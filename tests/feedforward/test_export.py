"""Export: ONNX round trips (onnxruntime vs PyTorch within 1e-3, dynamic batch/H/W, odd sizes), the
fp16 model file, ``artforge export`` end to end, and bad input (one line, nothing overwritten).

Each ONNX export through torch.export takes ~10 s on 2 cores, so each model is exported once per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from artforge.cli.main import main
from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.families.registry import build_stylizer_net
from artforge.families.stylizer import NetSpec
from artforge.feedforward import stylizer as stylizers
from artforge.feedforward.export import TOLERANCE, export_onnx
from artforge.feedforward.stylizer import Stylizer
from artforge.nn.adain import DEFAULT_SKIPS, LAYER, target_layers
from artforge.nn.distill import student_of
from artforge.nn.encoders import VGGEncoder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from artforge.feedforward.onnx import OnnxStylizer  # noqa: E402


def johnson(width: int = 8, blocks: int = 2, seed: int = 0) -> Stylizer:
    torch.manual_seed(seed)
    spec = NetSpec("johnson", width, blocks)
    return Stylizer(spec, build_stylizer_net(spec), "test-johnson")


def adain_stylizer(vgg: VGGEncoder, encoder_width: int = 1) -> Stylizer:
    """The real VGG16 encoder (or a student pruned from it, ``encoder_width`` > 1) and a random
    decoder that fits it, its last conv rescaled so that the output spreads over [0, 1] instead of
    saturating at the clamp."""
    torch.manual_seed(0)
    spec = NetSpec("adain", encoder_width, skips=DEFAULT_SKIPS, encoder_width=encoder_width)  # skips export too
    encoder = vgg if encoder_width == 1 else student_of(vgg, encoder_width, LAYER)[0].eval().requires_grad_(False)
    sty = Stylizer(spec, build_stylizer_net(spec), "test-adain", {}, encoder)
    last = sty.net.net[-1]
    with torch.no_grad():
        t = encoder(torch.rand(2, 3, 64, 64), target_layers(sty.net))
        last.bias.zero_()
        raw = sty.net(t["relu4_1"], t)
        last.weight.mul_(0.2 / raw.std())
        last.bias.fill_(0.5 - float(raw.mean()) * 0.2 / float(raw.std()))
    return sty


@pytest.fixture(scope="module")
def johnson_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stylizer, Path, float | None]:
    sty = johnson()
    path = tmp_path_factory.mktemp("onnx") / "johnson.onnx"
    return sty, path, export_onnx(sty, path)


@pytest.fixture(scope="module", params=[1, 4], ids=["vgg16", "distilled-quarter"])
def adain_onnx(
    vgg: VGGEncoder, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Stylizer, Path, float | None]:
    sty = adain_stylizer(vgg, request.param)
    path = tmp_path_factory.mktemp("onnx") / "adain.onnx"
    return sty, path, export_onnx(sty, path)


def one_line_error(excinfo: pytest.ExceptionInfo[ArtforgeError]) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


# ---------------------------------------------------------------- round trips


def test_johnson_onnx_matches_pytorch_at_dynamic_odd_sizes(johnson_onnx: tuple[Stylizer, Path, float | None]) -> None:
    sty, path, diff = johnson_onnx
    assert diff is not None and diff < TOLERANCE
    onnx_sty = stylizers.load(path)  # .onnx -> onnxruntime
    assert isinstance(onnx_sty, OnnxStylizer)
    assert (onnx_sty.kind, onnx_sty.name, onnx_sty.needs_style) == ("johnson", "test-johnson", False)
    assert onnx_sty.spec == sty.spec
    ins = onnx_sty.session.get_inputs()
    assert [i.name for i in ins] == ["content"] and ins[0].shape == ["N", 3, "H", "W"]
    for shape in [(1, 3, 37, 50), (2, 3, 64, 31), (1, 3, 5, 7), (3, 3, 40, 44)]:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape)))
        ref, got = sty(x), onnx_sty(x)
        assert got.shape == x.shape
        assert float((got - ref).abs().max()) < TOLERANCE, shape
        assert float(ref.std()) > 0.05  # not a saturated, trivially equal output


def test_legacy_torchscript_exporter_also_round_trips(tmp_path: Path) -> None:
    sty = johnson(width=4, blocks=1, seed=1)
    diff = export_onnx(sty, tmp_path / "j.onnx", opset=17, dynamo=False)
    assert diff is not None and diff < TOLERANCE
    onnx_sty = OnnxStylizer(tmp_path / "j.onnx")
    for shape in [(1, 3, 37, 50), (1, 3, 40, 44), (2, 3, 33, 29)]:
        x = torch.rand(shape)
        assert float((onnx_sty(x) - sty(x)).abs().max()) < TOLERANCE, shape


def test_onnx_models_refuse_bf16(johnson_onnx: tuple[Stylizer, Path, float | None], tmp_path: Path) -> None:
    from artforge import api
    from artforge.data.samples import load

    _, path, _ = johnson_onnx
    load("sample:astronaut").resize((48, 48)).save(tmp_path / "in.png")
    with pytest.raises(ArtforgeError, match="is for PyTorch models"):
        api.stylize_with_model(str(tmp_path / "in.png"), tmp_path / "out.png", path, precision="bf16")
    assert not (tmp_path / "out.png").exists()


def test_adain_onnx_runs_the_whole_pipeline(adain_onnx: tuple[Stylizer, Path, float | None]) -> None:
    sty, path, diff = adain_onnx
    assert diff is not None and diff < TOLERANCE
    onnx_sty = stylizers.load(path)
    assert (onnx_sty.kind, onnx_sty.needs_style) == ("adain", True)
    assert [i.name for i in onnx_sty.session.get_inputs()] == ["content", "style", "alpha"]
    gen = torch.Generator().manual_seed(5)
    cases = [
        ((1, 3, 64, 48), (1, 3, 56, 72), 1.0),
        ((2, 3, 37, 50), (1, 3, 64, 64), 0.5),
        ((1, 3, 61, 67), (1, 3, 40, 33), 0.0),
    ]
    for c_shape, s_shape, alpha in cases:
        c, s = torch.rand(c_shape, generator=gen), torch.rand(s_shape, generator=gen)
        ref, got = sty(c, [s], alpha=alpha), onnx_sty(c, [s], alpha=alpha)
        assert got.shape == c.shape
        assert float((got - ref).abs().max()) < TOLERANCE, (c_shape, s_shape, alpha)
        assert float(ref.std()) > 0.02
    c, s = torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48)
    assert not torch.allclose(onnx_sty(c, [s], alpha=0.0), onnx_sty(c, [s], alpha=1.0), atol=1e-3)  # alpha is live
    with pytest.raises(ArtforgeError) as e:
        onnx_sty(c, [s, s], style_weights=[1, 1])
    assert ".safetensors" in one_line_error(e)
    with pytest.raises(ArtforgeError) as e:
        onnx_sty(c)
    one_line_error(e)


# ---------------------------------------------------------------- fp16 model file


def test_fp16_model_file_is_small_and_close(tmp_path: Path) -> None:
    sty = johnson(width=16, blocks=5)
    small = stylizers.save_model(tmp_path / "small.safetensors", sty)
    full = stylizers.save_model(tmp_path / "full.safetensors", sty, fp16=False)
    assert small.stat().st_size < 0.55 * full.stat().st_size
    assert small.stat().st_size < 1_000_000
    back = stylizers.load(small)
    assert back.kind == "johnson" and back.spec == sty.spec
    x = torch.rand(1, 3, 45, 61, generator=torch.Generator().manual_seed(2))
    assert float((back(x) - sty(x)).abs().max()) < 2e-2
    assert torch.equal(stylizers.load(full)(x), sty(x))


# ---------------------------------------------------------------- CLI


def test_cli_export_onnx_and_safetensors(tmp_path: Path, weights_cache: Path) -> None:
    sty = johnson(width=4, blocks=1, seed=3)
    model = stylizers.save_model(tmp_path / "model.safetensors", sty, fp16=False)
    env = {**os.environ, "ARTFORGE_CACHE": str(weights_cache)}
    out = tmp_path / "model.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "artforge", "export", str(model), "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "max abs diff" in r.stdout and f"wrote {out}" in r.stdout
    diff = float(r.stdout.split("max abs diff ")[1].split()[0])
    assert diff < TOLERANCE
    x = torch.rand(2, 3, 35, 42)
    assert float((stylizers.load(out)(x) - sty(x)).abs().max()) < TOLERANCE
    assert main(["export", str(model), "-o", str(tmp_path / "half.safetensors")]) == 0
    assert main(["export", str(model), "-o", str(tmp_path / "full.safetensors"), "--fp32"]) == 0
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size


def test_cli_bad_sources_and_outputs_fail_in_one_line(
    johnson_onnx: tuple[Stylizer, Path, float | None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dcgan = tmp_path / "dcgan.safetensors"
    ckpt.save(dcgan, {"G.fc.weight": torch.zeros(4, 4)}, {"model": "dcgan", "step": 0})
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    good = stylizers.save_model(tmp_path / "good.safetensors", johnson(width=4, blocks=1))
    keep = tmp_path / "keep.onnx"
    keep.write_bytes(b"an export the user already had")
    keep_st = tmp_path / "keep.safetensors"
    keep_st.write_bytes(b"a model file the user already had")
    cases = [
        ([str(dcgan), "-o", str(keep)], "not a styliser"),
        ([str(noise), "-o", str(keep)], "not a readable artforge checkpoint"),
        ([str(dcgan), "-o", str(keep_st)], "not a styliser"),
        ([str(tmp_path / "missing"), "-o", str(keep)], "no such model"),
        ([str(good), "-o", str(tmp_path / "model.pt")], ".onnx"),
        ([str(good), "-o", str(tmp_path / "nowhere" / "m.onnx")], "does not exist"),
        ([str(johnson_onnx[1]), "-o", str(keep)], "already an ONNX model"),
        ([str(good), "-o", str(keep), "--opset", "8"], "opsets 18 to"),
    ]
    for argv, expect in cases:
        capsys.readouterr()
        assert main(["export", *argv]) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("artforge: error:") and "\n" not in err and expect in err, (argv, err)
    assert keep.read_bytes() == b"an export the user already had"
    assert keep_st.read_bytes() == b"a model file the user already had"
    assert not (tmp_path / "model.pt").exists()


def test_failed_check_keeps_the_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "m.onnx"
    dest.write_bytes(b"old")
    monkeypatch.setattr("artforge.feedforward.export.TOLERANCE", -1.0)  # every check fails
    with pytest.raises(ArtforgeError) as e:
        export_onnx(johnson(width=4, blocks=1), dest, dynamo=False)
    assert "not written" in one_line_error(e)
    assert dest.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# ---------------------------------------------------------------- foreign or broken ONNX files


def test_broken_or_foreign_onnx_files_fail_in_one_line(
    johnson_onnx: tuple[Stylizer, Path, float | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnx

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(np.random.default_rng(1).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    with pytest.raises(ArtforgeError) as e:
        stylizers.load(broken)
    assert "not a readable ONNX model" in one_line_error(e)

    foreign = onnx.load(str(johnson_onnx[1]))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))
    with pytest.raises(ArtforgeError) as e:
        stylizers.load(tmp_path / "foreign.onnx")
    assert "not an artforge ONNX model" in one_line_error(e)

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ArtforgeError) as e:
        stylizers.load(johnson_onnx[1])
    assert "pip install 'artforge[export]'" in one_line_error(e)
