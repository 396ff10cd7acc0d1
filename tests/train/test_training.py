"""The training engine: exact resume after SIGKILL, DDP equivalence, accumulation, TensorBoard,
NaN guard, Ctrl-C, sampling and VAE evaluation. Real Fashion-MNIST, tiny models."""

from __future__ import annotations

import json
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

TINY = dict(data="fashion-mnist", max_images=256, batch=32, width=8, tick_kimg=0.064)


def cli(*args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "artforge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )  # type: ignore[call-overload, no-any-return]  # noqa: E501


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return ckpt.load(path)[0]


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path: Path) -> None:
    args = ["--model", "dcgan", "--data", "fashion-mnist", "--max-images", "512", "--batch", "64", "--width", "16",
            "--kimg", "1.28", "--snap", "0.128", "-q"]  # fmt: skip
    # Bit-identical needs the same thread count too, so the reference also runs as a 1-thread CLI.
    ref_proc = cli("train", *args, "--out", str(tmp_path / "ref"))
    assert ref_proc.wait(timeout=300) == 0
    ref = ckpt.latest(next((tmp_path / "ref").glob("0*")))
    proc = cli("train", *args, "--out", str(tmp_path / "killed"))
    run = None
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = list((tmp_path / "killed").glob("0*"))
        if runs and ckpt.checkpoints(runs[0]):
            run = runs[0]
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run is not None, "no checkpoint appeared"
    killed_at = int(ckpt.load(ckpt.latest(run))[1]["step"])
    assert killed_at < 20, "the run finished before it was killed; the test proves nothing"
    resumed = cli("train", "--resume", str(run), "-q")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    a, b = tensors(ref), tensors(ckpt.latest(run))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    proc = cli("train", "--model", "gan", "--data", "fashion-mnist", "--max-images", "512", "--batch", "32",
               "--kimg", "50", "--snap", "25", "-q", "--out", str(tmp_path))  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path.exists() and list(tmp_path.glob("0*/config.json"))):
        time.sleep(0.05)
    time.sleep(1.5)  # let it take some steps
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted; saved" in out and "--resume" in out
    run = next(tmp_path.glob("0*"))
    meta = ckpt.load(ckpt.latest(run))[1]
    assert 0 < meta["step"] < 50_000 // 32


@pytest.mark.parametrize("model", ["gan", "vae"])
def test_two_process_ddp_takes_the_single_process_step(tmp_path: Path, model: str) -> None:
    common = ["--model", model, "--data", "fashion-mnist", "--max-images", "256", "--batch", "32", "--width", "16",
              "--kimg", "0.128", "--snap", "0.128", "-q"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "artforge",
         "train", *common, "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    one = cli("train", *common, "--out", str(tmp_path / "one"))
    assert one.wait(timeout=300) == 0
    runs = list((tmp_path / "ddp").glob("0*"))
    assert len(runs) == 1  # both processes wrote into one run dir
    a = tensors(ckpt.latest(next((tmp_path / "one").glob("0*"))))
    b = tensors(ckpt.latest(runs[0]))
    weights = [k for k in a if k.endswith("weight") and not k.startswith("opt")]
    assert weights
    for k in weights:  # the same 4 Adam steps, up to float summation order
        assert torch.allclose(a[k], b[k], atol=2e-5, rtol=1e-4), k
    assert ckpt.load(ckpt.latest(runs[0]))[1]["step"] == 4


def test_gradient_accumulation_matches_one_big_batch(tmp_path: Path) -> None:
    kw = dict(TINY, model="gan", kimg=0.096, snap_kimg=0.096, progress=False)
    one = tensors(api.train(out=tmp_path / "a", **kw))
    acc = tensors(api.train(out=tmp_path / "b", accumulate=4, **kw))
    for k in one:
        if k.startswith(("G.", "D.")):
            assert torch.allclose(one[k], acc[k], atol=1e-5), k


def test_run_dir_contents_and_tensorboard_events(tmp_path: Path) -> None:
    last = api.train(out=tmp_path, progress=False, model="dcgan", kimg=0.128, snap_kimg=0.064, **TINY)
    run = last.parent
    assert run.name == "00000-dcgan-fashion-mnist"
    assert json.loads((run / "config.json").read_text())["model"] == "dcgan"
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["kimg"] == pytest.approx(0.128)
    assert {"loss/D", "loss/G", "D/real", "D/fake", "grad_norm/G", "grad_norm/D"} <= rows[-1].keys()
    assert (run / "samples-00000004.png").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/D", "loss/G", "D/real", "D/fake", "img_per_s"} <= set(tags["scalars"])
    steps = [e.step for e in acc.Scalars("loss/D")]
    assert steps == sorted(steps) and steps[-1] == 4
    assert [row["loss/D"] for row in rows if "loss/D" in row][-1] == pytest.approx(
        acc.Scalars("loss/D")[-1].value, rel=1e-5
    )
    images = acc.Images("samples")
    assert [i.step for i in images] == [2, 4] and images[-1].width > 28
    # Checkpoints are atomic: no temp files left, and a second run gets the next number.
    assert not list(run.glob(".*tmp"))
    nxt = api.train(out=tmp_path, progress=False, model="dcgan", kimg=0.032, snap_kimg=0.032, **TINY)
    assert nxt.parent.name == "00001-dcgan-fashion-mnist"


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import artforge.train.gan as gan_engine

    real_d_loss = gan_engine.d_loss
    calls = {"n": 0}

    def poisoned(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = real_d_loss(kind, a, b)
        return loss * float("nan") if calls["n"] > 5 else loss

    monkeypatch.setattr(gan_engine, "d_loss", poisoned)
    with pytest.raises(ArtforgeError, match="NaN") as e:
        api.train(out=tmp_path, progress=False, model="gan", kimg=0.32, snap_kimg=0.064, **TINY)
    run = next(tmp_path.glob("0*"))
    good = ckpt.checkpoints(run)
    assert [int(ckpt.load(p)[1]["step"]) for p in good] == [2, 4]
    assert str(good[-1]) in str(e.value)
    assert all(torch.isfinite(v).all() for k, v in tensors(good[-1]).items() if v.is_floating_point())


def test_sampling_is_deterministic_and_interpolates(tmp_path: Path) -> None:
    last = api.train(out=tmp_path / "r", progress=False, model="dcgan", kimg=0.064, snap_kimg=0.064, **TINY)
    a = api.sample(last.parent, n=4, outdir=str(tmp_path / "a"), seed=3, device="cpu")
    b = api.sample(last.parent, n=4, outdir=str(tmp_path / "b"), seed=3, device="cpu")
    c = api.sample(last.parent, n=4, outdir=str(tmp_path / "c"), seed=4, device="cpu")
    px = lambda p: np.asarray(Image.open(p))  # noqa: E731
    assert len(a) == 4 and all(np.array_equal(px(x), px(y)) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(px(a[0]), px(c[0]))
    assert Image.open(a[0]).size == (28, 28) and Image.open(a[0]).mode == "L"
    g = api.sample(
        last.parent, n=2, interpolate=True, frames=5, gif=str(tmp_path / "i.gif"), grid=str(tmp_path / "i.png")
    )
    gif = Image.open(tmp_path / "i.gif")
    assert gif.n_frames == 6 and g[0] == tmp_path / "i.gif"
    frames = [np.asarray(gif.seek(i) or gif.convert("L"), dtype=float) for i in range(6)]
    assert np.abs(frames[0] - frames[5]).mean() > 2.5 * np.abs(frames[0] - frames[1]).mean() > 0  # a gradual walk
    with pytest.raises(ArtforgeError, match="--interpolate"):
        api.sample(last.parent, n=2, gif=str(tmp_path / "j.gif"))
    with pytest.raises(ArtforgeError, match="conditional"):
        api.sample(last.parent, n=2, grid=str(tmp_path / "x.png"), class_index=1)


def test_interpolation_video_holds_the_gif_frames(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from artforge.data.video import probe, read_frames

    last = api.train(out=tmp_path / "r", progress=False, model="dcgan", kimg=0.064, snap_kimg=0.064, **TINY)
    opts = {"n": 2, "interpolate": True, "frames": 4, "seed": 5, "fps": 10}
    api.sample(last.parent, gif=str(tmp_path / "i.gif"), video=str(tmp_path / "i.mp4"), **opts)
    info = probe(tmp_path / "i.mp4")
    assert (info.width, info.height, info.fps) == (28 * 10, 28 * 10, 10)  # enlarged x10 to >= 256 px
    video = read_frames(tmp_path / "i.mp4")
    gif = Image.open(tmp_path / "i.gif")
    assert len(video) == gif.n_frames == 5
    for i, frame in enumerate(video):
        gif.seek(i)
        small = np.asarray(Image.fromarray(frame).convert("L").resize((28, 28), Image.Resampling.BOX), dtype=float)
        assert np.abs(small - np.asarray(gif.convert("L"), dtype=float)).mean() < 8  # H.264 at crf 18
    with pytest.raises(ArtforgeError, match="mp4"):
        api.sample(last.parent, video=str(tmp_path / "i.avi"), **opts)


def test_slerp_endpoints_and_norm() -> None:
    from artforge.train.sampling import slerp

    torch.manual_seed(0)
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True), 0.5)
    assert torch.allclose(mid.norm(dim=1), torch.ones(3), atol=1e-5)  # stays on the sphere


def test_conditional_dcgan_samples_a_class(tmp_path: Path) -> None:
    last = api.train(out=tmp_path, progress=False, model="dcgan", conditional=True, kimg=0.064, snap_kimg=0.064, **TINY)
    meta = ckpt.load(last)[1]
    assert meta["shapes"]["num_classes"] == 10
    files = api.sample(last.parent, n=3, grid=str(tmp_path / "g.png"), class_index=7)
    assert files == [tmp_path / "g.png"]


def test_vae_eval_reports_likelihoods(tmp_path: Path) -> None:
    last = api.train(out=tmp_path, progress=False, model="vae", kimg=0.128, snap_kimg=0.128, **TINY)
    r = api.evaluate(last.parent, k=20, max_images=64, device="cpu", progress=False)
    assert r["split"] == "test" and r["images"] == 64
    assert r["iwae_nll_nats"] <= -r["test_elbo_nats"] + 1.0  # IWAE is the tighter bound (up to MC noise)
    assert r["bits_per_dim"] == pytest.approx(r["iwae_nll_nats"] / (784 * np.log(2)))
    assert r["likelihood"] == "bernoulli"
    api.sample(last.parent, n=4, grid=str(tmp_path / "t.png"), traverse=True)
    api.sample(last.parent, n=4, grid=str(tmp_path / "r.png"), reconstruct="fashion-mnist")
    assert Image.open(tmp_path / "t.png").size[0] > 28


def test_checkpoints_of_other_models_are_refused(tmp_path: Path) -> None:
    vae = api.train(out=tmp_path / "v", progress=False, model="vae", kimg=0.032, snap_kimg=0.032, **TINY)
    gan = api.train(out=tmp_path / "g", progress=False, model="gan", kimg=0.032, snap_kimg=0.032, **TINY)
    imposter = vae.parent / "checkpoint-99999999.safetensors"
    imposter.write_bytes(gan.read_bytes())
    with pytest.raises(ArtforgeError, match="a gan checkpoint, but the run is vae"):
        api.train(resume=vae.parent, progress=False)
    with pytest.raises(ArtforgeError, match="only .* may change"):
        api.train(resume=gan.parent, lr=0.1, progress=False)
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(ArtforgeError, match="not a readable artforge checkpoint"):
        api.sample(bogus, n=1, grid=str(tmp_path / "x.png"))


def test_sample_cli_writes_files(tmp_path: Path) -> None:
    last = api.train(out=tmp_path / "r", progress=False, model="gan", kimg=0.032, snap_kimg=0.032, **TINY)
    proc = cli(
        "sample", str(last.parent), "--n", "3", "--outdir", str(tmp_path / "s"), "--grid", str(tmp_path / "g.png")
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["seed0-0000.png", "seed0-0001.png", "seed0-0002.png"]
    assert "wrote" in out and Image.open(tmp_path / "g.png").size[0] > 28
