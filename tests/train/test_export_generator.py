"""Generator export to ONNX: onnxruntime against PyTorch (family.generate) for an unconditional and a conditional
StyleGAN2 at batch sizes other than the traced one, truncation psi as an input, the batch-independent modulated conv
against the grouped one, ``artforge export RUN`` end to end on a trained run, dcgan, and bad output paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.cli.main import main
from artforge.families.registry import generator
from artforge.nn.dcgan import DCGANGenerator
from artforge.nn.stylegan2 import Generator, NoiseInjection
from artforge.train.export_generator import TOLERANCE, batch_dynamic, export_generator_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny networks: on a loaded 2-core machine OpenMP's barriers make them far slower with 2 threads than with 1."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_generator(num_classes: int, channels: int, seed: int) -> Generator:
    """A tiny G whose noise and w_avg matter: noise strengths and w_avg drawn at random (untrained: 0)."""
    torch.manual_seed(seed)
    g = Generator(z_dim=16, w_dim=16, resolution=16, channels=channels, num_classes=num_classes, channel_base=64,
                  channel_max=16, mapping_layers=2).eval()  # fmt: skip
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.strength.normal_(0, 0.3)
        g.mapping.w_avg.normal_()
    return g


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Generator, Path, dict[str, object]]]:
    root = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, k, ch in (("uncond", 0, 3), ("cond", 3, 1)):
        g = tiny_generator(k, ch, seed=k)
        r = export_generator_onnx(g, "stylegan2", k, root / f"{name}.onnx", z_dim=16)
        out[name] = (g, root / f"{name}.onnx", r)
    return out


def run_onnx(path: Path, z: torch.Tensor, c: torch.Tensor | None, psi: float) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"z": z.numpy(), "psi": np.array(psi, np.float32)}
    if c is not None:
        feeds["c"] = c.numpy()
    return session.run(None, feeds)[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["uncond", "cond"])
def test_onnxruntime_matches_pytorch(exported: dict[str, tuple[Generator, Path, dict[str, object]]], name: str) -> None:
    g, path, r = exported[name]
    print(f"{name}: export check max abs diff {r['max_abs_diff']:.2g} ({r['exporter']})")
    assert r["exporter"] == "dynamo" and float(r["max_abs_diff"]) <= TOLERANCE  # type: ignore[arg-type]
    fam = generator("stylegan2")
    gen = torch.Generator().manual_seed(7)
    worst = 0.0
    for batch, psi in ((1, 1.0), (5, 0.5), (4, 1.3)):
        z = torch.randn(batch, 16, generator=gen)
        c = torch.randint(g.num_classes, (batch,), generator=gen) if g.num_classes else None
        got = run_onnx(path, z, c, psi)
        ref = fam.generate(g, z, c, psi).numpy()
        assert got.shape == (batch, g.channels, 16, 16)
        worst = max(worst, float(np.abs(got - ref).max()))
    print(f"{name}: onnxruntime vs PyTorch, batches 1/5/4, psi 1/0.5/1.3: max abs diff {worst:.2g}")
    assert worst <= TOLERANCE
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == (["z", "c", "psi"] if g.num_classes else ["z", "psi"])
    assert session.get_inputs()[0].shape[0] == "N" and session.get_outputs()[0].shape[0] == "N"
    import onnx

    meta = json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}["artforge"])
    assert meta["model"] == "stylegan2" and meta["z_dim"] == 16 and meta["num_classes"] == g.num_classes


@pytest.mark.parametrize("name", ["uncond", "cond"])
def test_psi_is_honoured(exported: dict[str, tuple[Generator, Path, dict[str, object]]], name: str) -> None:
    g, path, _ = exported[name]
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(3))
    c = torch.full((4,), 2) if g.num_classes else None  # one class: psi = 0 maps every z to the same w_avg
    zero = run_onnx(path, z, c, 0.0)
    assert np.abs(zero - zero[:1]).max() < 1e-6  # one image for every z
    one = run_onnx(path, z, c, 1.0)
    assert np.abs(one - one[:1]).max() > 0.05  # and different images without truncation
    half = run_onnx(path, z, c, 0.5)
    assert np.abs(half - one).max() > 0.01 and np.abs(half - zero).max() > 0.01


def test_batch_dynamic_copy_equals_the_grouped_convolution() -> None:
    g = tiny_generator(3, 3, seed=1)
    z, c = torch.randn(3, 16), torch.tensor([0, 2, 1])
    with torch.no_grad():
        ref = g(z, c, noise_mode="const")
        got = batch_dynamic(g)(z, c, noise_mode="const")
    assert torch.allclose(got, ref, atol=1e-5)
    assert all(p.requires_grad for p in g.parameters())  # the original is untouched


def test_dcgan_exports_without_psi(tmp_path: Path) -> None:
    torch.manual_seed(0)
    d = DCGANGenerator(z_dim=8, resolution=32, channels=3, width=8, num_classes=0).eval()
    r = export_generator_onnx(d, "dcgan", 0, tmp_path / "d.onnx", z_dim=8)
    assert float(r["max_abs_diff"]) <= TOLERANCE
    session = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z"]


def test_artforge_export_on_a_trained_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(data / f"{i}.png")
    last = api.train(model="stylegan2", data=str(data), resolution=16, width=8, z_dim=16, mapping_layers=2, batch=4,
                     kimg=0.004, snap_kimg=0.004, out=tmp_path / "runs", progress=False)  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "g.onnx"
    assert main(["export", str(last.parent), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "stylegan2" in text and "max abs diff" in text
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["z", "psi"]
    # a generator exports to ONNX only; nothing is written
    bad = tmp_path / "g.safetensors"
    assert main(["export", str(last), "-o", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("artforge: error:") and "ONNX only" in err and "\n" not in err
    assert not bad.exists()
    # torchscript cannot trace stylegan2: a clear line, and the file already there stays as it was
    before = out.read_bytes()
    assert main(["export", str(last.parent), "-o", str(out), "--exporter", "torchscript"]) == 1
    assert "use dynamo" in capsys.readouterr().err
    assert out.read_bytes() == before
