"""StyleGAN2-ADA on the shared engine: exact resume with ADA on, DDP equivalence, NaN guard, bad input, sampling
(truncation, style mixing, W walks, --w). Real Fashion-MNIST, tiny networks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge import api
from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.train import stylegan2_sampling as sg
from artforge.train.build import model_from_checkpoint

TINY = dict(model="stylegan2", data="fashion-mnist", max_images=256, resolution=16, width=16, z_dim=32,
            mapping_layers=2, batch=16, tick_kimg=0.032)  # fmt: skip
ARGS = ["--model", "stylegan2", "--data", "fashion-mnist", "--max-images", "256", "--resolution", "16",
        "--width", "16", "--z-dim", "32", "--mapping-layers", "2", "--batch", "16"]  # fmt: skip


def cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "artforge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return ckpt.load(path)[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sg2")
    return api.train(out=out, progress=False, kimg=0.064, snap_kimg=0.064, **TINY).parent  # type: ignore[arg-type]


def test_resume_after_sigkill_matches_uninterrupted_run_with_ada(tmp_path: Path) -> None:
    # ADA fast enough that p moves within the run; 24 steps cover R1 (steps 0, 16), path length (every 4th) and
    # six updates of p. Killed after its first snapshot, the resumed run must end bit-identical.
    args = [*ARGS, "--augment", "ada", "--ada-kimg", "0.2", "--kimg", "0.384", "--snap", "0.08", "-q"]
    ref = cli("train", *args, "--out", str(tmp_path / "ref"))
    assert ref.wait(timeout=600) == 0, ref.stderr.read() if ref.stderr else ""
    ref_last = ckpt.latest(next((tmp_path / "ref").glob("0*")))
    proc = cli("train", *args, "--out", str(tmp_path / "killed"))
    killed = None
    deadline = time.time() + 300
    while time.time() < deadline:
        runs = list((tmp_path / "killed").glob("0*"))
        if runs and ckpt.checkpoints(runs[0]):
            killed = runs[0]
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed is not None, "no checkpoint appeared"
    at = int(ckpt.load(ckpt.latest(killed))[1]["step"])
    assert at < 24, "the run finished before it was killed; the test proves nothing"
    resumed = cli("train", "--resume", str(killed), "-q")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    a, meta_a = ckpt.load(ref_last)
    b, meta_b = ckpt.load(ckpt.latest(killed))
    assert a.keys() == b.keys() and {"augment.p", "pl_mean", "ada_stats"} <= a.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert 0 < meta_a["augment_p"] == meta_b["augment_p"]  # p moved, and was restored
    assert float(a["pl_mean"]) > 0


def test_two_process_ddp_takes_the_single_process_step(tmp_path: Path) -> None:
    common = [*ARGS, "--kimg", "0.064", "--snap", "0.064", "--augment", "fixed:0.5", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "artforge",
         "train", *common, "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    one = cli("train", *common, "--out", str(tmp_path / "one"))
    assert one.wait(timeout=600) == 0
    a = tensors(ckpt.latest(next((tmp_path / "one").glob("0*"))))
    b = tensors(ckpt.latest(next((tmp_path / "ddp").glob("0*"))))
    weights = [k for k in a if k.startswith(("G.", "D.")) and k.endswith("weight")]
    assert len(weights) > 10
    for k in weights:  # the same 4 steps (G, G_pl, D, D_r1 phases), up to float summation order
        torch.testing.assert_close(a[k], b[k], atol=5e-5, rtol=1e-4, msg=k)


def test_nan_stops_the_run_and_names_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import artforge.train.stylegan2 as engine

    real = engine.F.softplus
    calls = {"n": 0}

    def poisoned(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return real(x) * float("nan") if calls["n"] > 3 * 6 else real(x)  # 3 softplus per step: NaN from step 6

    monkeypatch.setattr(engine.F, "softplus", poisoned)
    with pytest.raises(ArtforgeError, match="NaN") as e:
        api.train(out=tmp_path, progress=False, kimg=0.32, snap_kimg=0.064, **TINY)  # type: ignore[arg-type]
    good = ckpt.checkpoints(next(tmp_path.glob("0*")))
    assert [int(ckpt.load(p)[1]["step"]) for p in good] == [4]
    assert str(good[-1]) in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setattr(engine.F, "softplus", real)
    last = api.train(resume=good[-1].parent, progress=False, kimg=0.128)
    assert int(ckpt.load(last)[1]["step"]) == 8


@pytest.mark.parametrize("resolution", [24, 4, 48])
def test_resolutions_that_are_not_powers_of_two_from_8_are_refused(tmp_path: Path, resolution: int) -> None:
    with pytest.raises(ArtforgeError, match="power of two from 8"):
        api.train(out=tmp_path, progress=False, **{**TINY, "resolution": resolution})  # type: ignore[arg-type]
    assert not tmp_path.exists() or not list(tmp_path.iterdir())  # nothing written


def test_resume_across_models_is_refused(tmp_path: Path, run: Path) -> None:
    dcgan = api.train(out=tmp_path, progress=False, model="dcgan", data="fashion-mnist", max_images=256, batch=32,
                      width=8, kimg=0.032, snap_kimg=0.032).parent  # fmt: skip
    for r, other in ((dcgan, "stylegan2"), (run, "dcgan")):
        p = cli("train", "--resume", str(r), "--model", other, "-q")
        _, err = p.communicate(timeout=120)
        assert p.returncode == 1 and err.count("\n") == 1 and "not model" in err, err
    with pytest.raises(ArtforgeError, match="--trunc"):
        api.sample(dcgan, n=2, grid=str(tmp_path / "g.png"), trunc=0.5)


def test_defaults_follow_the_paper(run: Path) -> None:
    net, cfg, meta, fam = model_from_checkpoint(ckpt.latest(run))
    assert fam.adam(cfg) == (0.0025, (0.0, 0.99))
    assert fam.ema_kimg(cfg) == pytest.approx(16 * 10 / 32)
    assert net.num_ws == 2 * 4 - 2 and net.resolution == 16
    step = 16 * 4 / 500_000  # ADA: p starts at 0 and moves by batch x interval / (ada_kimg x 1000) once in 4 steps
    assert meta["augment_p"] in (0.0, pytest.approx(step))
    t = tensors(ckpt.latest(run))
    assert float(t["pl_mean"]) > 0  # the path-length regulariser ran


def test_truncation_psi_zero_collapses_to_one_image_and_one_is_identity(run: Path, tmp_path: Path) -> None:
    api.sample(run, n=4, outdir=str(tmp_path / "t0"), trunc=0.0)
    imgs = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "t0").iterdir())]
    assert all(np.array_equal(imgs[0], im) for im in imgs[1:])
    api.sample(run, n=4, outdir=str(tmp_path / "t1"), trunc=1.0)
    api.sample(run, n=4, outdir=str(tmp_path / "plain"))
    ones = sorted((tmp_path / "t1").iterdir())
    assert all(np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
               for a, b in zip(ones, sorted((tmp_path / "plain").iterdir()), strict=True))  # fmt: skip
    assert not np.array_equal(np.asarray(Image.open(ones[0])), np.asarray(Image.open(ones[1])))
    strip = tmp_path / "strip.png"
    api.sample(run, n=2, grid=str(strip), trunc=[1.0, 0.5, 0.0])
    w, h = Image.open(strip).size
    assert w > h  # 3 columns of psi, 2 rows of seeds


def test_style_mixing_crossover_feeds_w1_before_k_and_w2_from_k(run: Path) -> None:
    net, *_ = model_from_checkpoint(ckpt.latest(run))
    w1, w2 = torch.randn(2, net.num_ws, net.w_dim), torch.randn(2, net.num_ws, net.w_dim)
    for band in sg.BANDS:
        layers = sg.crossover_layers(net.num_ws, net.resolution, band)
        mixed = sg.mix(w1, w2, layers)
        for i in range(net.num_ws):
            assert torch.equal(mixed[:, i], w2[:, i] if i in layers else w1[:, i])
    assert [len(sg.crossover_layers(14, 256, b)) for b in sg.BANDS] == [4, 4, 6]  # 4-8, 16-32, 64-256 px
    grid, nrow = sg.style_mix_grid(
        net, torch.randn(2, net.z_dim), torch.randn(3, net.z_dim), None, "coarse", 1, "const"
    )
    assert nrow == 4 and grid.shape[0] == 3 * 4
    cols = sg.render(net, net.mapping(torch.randn(1, net.z_dim)), "const")
    assert cols.shape[1:] == grid.shape[1:]


def test_w_npz_renders_and_wrong_shapes_are_refused(run: Path, tmp_path: Path) -> None:
    net, *_ = model_from_checkpoint(ckpt.latest(run))
    ws = net.mapping(torch.randn(1, net.z_dim)).detach().numpy()
    np.savez(tmp_path / "w.npz", ws=ws)
    api.sample(run, n=1, outdir=str(tmp_path / "a"), w=str(tmp_path / "w.npz"))
    expected = sg.render(net, torch.from_numpy(ws), "const")[0]
    got = torch.from_numpy(np.array(Image.open(next((tmp_path / "a").iterdir())))).float() / 255
    assert (got - expected[0]).abs().max() <= 1 / 255 + 1e-6
    np.savez(tmp_path / "bad.npz", ws=ws[:, :3])
    with pytest.raises(ArtforgeError, match="this run needs"):
        api.sample(run, n=1, outdir=str(tmp_path / "b"), w=str(tmp_path / "bad.npz"))


def test_w_walk_and_style_mix_cli(run: Path, tmp_path: Path) -> None:
    gif = tmp_path / "walk.gif"
    api.sample(run, n=3, interpolate=True, frames=4, gif=str(gif))
    frames = Image.open(gif).n_frames
    assert frames == 2 * 4 + 1
    p = cli("sample", str(run), "--n", "2", "--style-mix", "middle", "--grid", str(tmp_path / "mix.png"))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert Image.open(tmp_path / "mix.png").size[0] > 16 * 3


def test_ppl_against_a_hand_computation_and_through_eval(run: Path) -> None:
    from artforge.nn.weights import encoder_for
    from artforge.objectives.feature_distance import LPIPS_LAYERS, feature_distance
    from artforge.train import ppl
    from artforge.train.projection import vgg_input

    middle = np.linspace(1, 2, 982)
    values = np.concatenate([np.full(9, 100.0), middle, np.full(9, -50.0)])
    assert ppl.trimmed_mean(values) == pytest.approx(middle.mean())  # the 1% tails dropped, as in the paper
    net, *_ = model_from_checkpoint(ckpt.latest(run))
    enc = encoder_for("vgg16-hed", "max", "cpu")
    got = ppl.path_length_samples(net, enc, n=3, seed=5, batch=2)
    gen = torch.Generator().manual_seed(5)  # the first batch of two pairs, by hand
    z = torch.randn(4, net.z_dim, generator=gen)
    t = torch.rand(2, 1, 1, generator=gen)
    with torch.no_grad():
        ws = net.mapping(z)
        a, b = ws[:2].lerp(ws[2:], t), ws[:2].lerp(ws[2:], t + 1e-4)
        img = [sg.render(net, w, "const") for w in (a, b)]
        fa, fb = (enc(vgg_input(i), LPIPS_LAYERS) for i in img)
    expected = feature_distance(fa, fb) / 1e-8
    np.testing.assert_allclose(got[:2], expected.double().numpy(), rtol=1e-3)
    assert got.shape == (3,) and (got > 0).all()
    r = api.evaluate(run, metrics="ppl", n=4, progress=False)
    assert r["ppl_pairs"] == 4 and r["ppl"] > 0


def test_conditional_run_samples_the_asked_class(tmp_path: Path) -> None:
    last = api.train(out=tmp_path, progress=False, conditional=True, kimg=0.032, snap_kimg=0.032, **TINY)  # type: ignore[arg-type]
    net, _, meta, _ = model_from_checkpoint(last)
    assert meta["shapes"]["num_classes"] == 10 and net.num_classes == 10
    a = api.sample(last.parent, n=2, outdir=str(tmp_path / "a"), class_index=3, seed=1)
    b = api.sample(last.parent, n=2, outdir=str(tmp_path / "b"), class_index=7, seed=1)
    assert not np.array_equal(np.asarray(Image.open(a[0])), np.asarray(Image.open(b[0])))  # the class steers G
    with pytest.raises(ArtforgeError, match="--class must be in 0..9"):
        api.sample(last.parent, n=1, outdir=str(tmp_path / "c"), class_index=10)
