"""StyleGAN2 projection (Karras et al. 2020, sec. 5): the schedules and the noise regulariser against hand
computations, projection of an image G made (real VGG16 distance), the w.npz round trip, Ctrl-C, and bad input."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from artforge import api
from artforge.cli.main import main
from artforge.core import checkpoint as ckpt
from artforge.nn.stylegan2 import Generator
from artforge.objectives.feature_distance import LPIPS_LAYERS, feature_distance
from artforge.train import projection as P
from artforge.train.build import model_from_checkpoint


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny networks: per-op threading costs more than it gains, and on a loaded 2-core machine OpenMP's barriers make
    a 16 px synthesis pass 100x slower with 2 threads (0.3 s) than with 1 (3 ms)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def hand_regularization(maps: list[torch.Tensor]) -> float:
    """sum over maps and pyramid levels of (1/r^2 sum n(x,y) n(x-1,y))^2 + (1/r^2 sum n(x,y) n(x,y-1))^2, wrapping,
    written out with loops; levels by 2 x 2 averaging times 2, down to 8 x 8."""
    total = 0.0
    for n in maps:
        x = n.double().numpy()
        while True:
            h, w = x.shape
            sx = sum(x[i, j] * x[i, (j - 1) % w] for i in range(h) for j in range(w)) / (h * w)
            sy = sum(x[i, j] * x[(i - 1) % h, j] for i in range(h) for j in range(w)) / (h * w)
            total += sx**2 + sy**2
            if min(h, w) <= 8:
                break
            x = 2 * np.array(
                [[x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean() for j in range(w // 2)] for i in range(h // 2)]
            )
    return total


def tiny_generator(seed: int = 0, channels: int = 3) -> Generator:
    torch.manual_seed(seed)
    g = Generator(z_dim=16, w_dim=16, resolution=16, channels=channels, channel_base=64, channel_max=16,
                  mapping_layers=2).eval()  # fmt: skip
    with torch.no_grad():  # an untrained G ignores its noise (strength 0); give the noise maps something to do
        for _, layer in P.noise_buffers(g):
            layer.strength.fill_(0.1)
    return g


# ---------------------------------------------------------------- the maths


def test_noise_regularization_matches_hand_computation() -> None:
    gen = torch.Generator().manual_seed(0)
    maps = [torch.randn(4, 4, generator=gen), torch.randn(16, 16, generator=gen), torch.randn(32, 32, generator=gen)]
    got = float(P.noise_regularization(maps))
    assert got == pytest.approx(hand_regularization(maps), rel=1e-5)
    # a checkerboard is perfectly anti-correlated at one-pixel shifts: (-1)^2 + (-1)^2 = 2 at its one 8 x 8 level
    board = torch.tensor([[(-1.0) ** (i + j) for j in range(8)] for i in range(8)])
    assert float(P.noise_regularization([board])) == pytest.approx(2.0)
    # a 16 x 16 board averages to zero at 8 x 8: only the full-size level counts
    board16 = torch.tensor([[(-1.0) ** (i + j) for j in range(16)] for i in range(16)])
    assert float(P.noise_regularization([board16])) == pytest.approx(2.0)


def test_noise_normalisation_and_schedules() -> None:
    n = [torch.randn(8, 8) * 3 + 2, torch.rand(16, 16)]
    P.normalize_noise_(n)
    for m in n:
        assert float(m.mean()) == pytest.approx(0, abs=1e-6)
        assert float(m.std(correction=0)) == pytest.approx(1, abs=1e-5)
    # lr: linear ramp-up over the first 5%, flat at 0.1, half-cosine ramp-down over the last 25%
    assert P.learning_rate(0.0) == 0.0
    assert P.learning_rate(0.025) == pytest.approx(0.05)
    assert P.learning_rate(0.5) == pytest.approx(0.1)
    assert P.learning_rate(0.875) == pytest.approx(0.05)
    assert P.learning_rate(1.0) == pytest.approx(0.0)
    # w noise: 0.05 sigma_w, falling quadratically to 0 at 75% of the steps
    assert P.w_noise_scale(0.0, 2.0) == pytest.approx(0.1)
    assert P.w_noise_scale(0.375, 2.0) == pytest.approx(0.1 * 0.25)
    assert P.w_noise_scale(0.75, 2.0) == 0.0 and P.w_noise_scale(0.9, 2.0) == 0.0


def test_feature_distance_is_lpips_without_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    a = {"x": torch.randn(2, 5, 3, 4, generator=gen), "y": torch.randn(2, 7, 2, 2, generator=gen)}
    b = {"x": torch.randn(1, 5, 3, 4, generator=gen), "y": torch.randn(1, 7, 2, 2, generator=gen)}
    d = feature_distance(a, b)
    ref = torch.zeros(2)
    for k in a:
        ua = a[k] / a[k].norm(dim=1, keepdim=True)
        ub = b[k] / b[k].norm(dim=1, keepdim=True)
        ref += ((ua - ub) ** 2).sum(dim=1).mean(dim=(1, 2))
    assert torch.allclose(d, ref, atol=1e-5)
    assert torch.allclose(feature_distance(a, {k: v * 3 for k, v in a.items()}), torch.zeros(2), atol=1e-5)


def test_noise_maps_drive_the_image_and_g_is_left_alone(vgg: nn.Module) -> None:
    g = tiny_generator()
    ws = g.mapping(torch.randn(1, 16), None).detach()
    maps = [torch.randn(r, r, requires_grad=True) for r in g.synthesis.noise_resolutions]
    P.synthesize(g, ws, maps).sum().backward()
    assert all(m.grad is not None and m.grad.abs().sum() > 0 for m in maps)  # every map reaches the image
    # G's own constant maps, given explicitly, are G's const noise mode; the order is the buffers' order
    own = [m.noise_const for _, m in P.noise_buffers(g)]
    assert torch.equal(P.render_ws(g, ws, own), P.render_ws(g, ws))
    g.zero_grad(set_to_none=True)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    P.project(g, torch.rand(1, 3, 16, 16), vgg, steps=3, w_samples=200)  # type: ignore[arg-type]
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None and p.requires_grad for p in g.parameters())


# ---------------------------------------------------------------- projection


def test_projection_of_a_generated_image_beats_the_start_and_random_samples(vgg: nn.Module) -> None:
    g = tiny_generator()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        target = g.synthesis(g.mapping(torch.randn(1, 16, generator=gen)), noise_mode="const").add(1).div(2).clamp(0, 1)
        samples = g(torch.randn(32, 16, generator=gen), noise_mode="const").add(1).div(2).clamp(0, 1)
        goal = vgg(P.vgg_input(target), LPIPS_LAYERS)
        random_d = feature_distance(vgg(P.vgg_input(samples), LPIPS_LAYERS), goal)
    res = P.project(g, target, vgg, steps=30, seed=0, w_samples=2000)  # type: ignore[arg-type]
    print(f"distance: start (mean w) {res.start_distance:.4f} -> {res.distance:.4f}; "
          f"32 random samples: min {float(random_d.min()):.4f}")  # fmt: skip
    assert res.steps_done == 30 and not res.interrupted
    assert res.distance < 0.5 * res.start_distance
    assert res.distance < 0.6 * float(random_d.min())
    assert res.ws.shape == (1, g.num_ws, g.w_dim)
    assert torch.equal(res.ws, res.ws[:, :1].expand_as(res.ws))  # W: one w for every layer
    assert torch.equal(P.render_ws(g, res.ws, res.noise), res.image)
    assert len(res.frames) >= 30 and res.frames[0].shape == (16, 32, 3)


def test_w_plus_optimises_one_w_per_layer(vgg: nn.Module) -> None:
    g = tiny_generator()
    target = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    res = P.project(g, target, vgg, steps=6, w_plus=True, w_samples=500)  # type: ignore[arg-type]
    assert res.ws.shape == (1, g.num_ws, g.w_dim)
    assert not torch.equal(res.ws[:, 0], res.ws[:, -1])
    assert res.distance <= res.start_distance


# ---------------------------------------------------------------- the run-level API and files


def _photo_folder(root: Path) -> Path:
    import skimage.data

    folder = root / "photos"
    folder.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        img = Image.fromarray(getattr(skimage.data, name)())
        img.thumbnail((48, 48))
        img.save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("proj")
    data = _photo_folder(root)
    common = dict(data=str(data), batch=4, kimg=0.008, snap_kimg=0.008, progress=False)
    sg2 = api.train(model="stylegan2", resolution=16, width=8, z_dim=16, mapping_layers=2, out=root / "sg2", **common)  # type: ignore[arg-type]
    dcgan = api.train(model="dcgan", resolution=32, width=8, z_dim=8, out=root / "dcgan", **common)  # type: ignore[arg-type]
    return {"stylegan2": sg2.parent, "dcgan": dcgan.parent, "data": data}


def test_project_writes_files_and_w_npz_renders_projected_png(
    runs: dict[str, Path], cache_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = api.project(runs["stylegan2"], runs["data"] / "chelsea.png", out, steps=8, progress=False)
    assert not r["interrupted"] and r["steps_done"] == 8
    assert {p.name for p in out.iterdir()} == {"projected.png", "target.png", "w.npz", "progress.mp4"}
    target = Image.open(out / "target.png")
    assert target.size == (16, 16) and target.mode == "RGB"
    with np.load(out / "w.npz", allow_pickle=False) as f:
        g, _, _, _ = model_from_checkpoint(Path(r["checkpoint"]))
        assert isinstance(g, Generator)
        assert f["ws"].dtype == np.float32 and f["ws"].shape == (1, g.num_ws, g.w_dim)
        names = [name for name, _ in P.noise_buffers(g)]
        assert list(f["noise_layers"]) == names
        for i, (_, layer) in enumerate(P.noise_buffers(g)):
            assert f[f"noise_{i}"].dtype == np.float32 and f[f"noise_{i}"].shape == tuple(layer.noise_const.shape)
    ws, maps = P.load_w_npz(out / "w.npz", g)
    rendered = P.render_ws(g, ws, maps)
    pixels = (rendered[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(pixels, np.asarray(Image.open(out / "projected.png")))
    again = api.sample(runs["stylegan2"], n=1, outdir=str(tmp_path / "again"), w=str(out / "w.npz"))
    assert np.array_equal(np.asarray(Image.open(again[0])), np.asarray(Image.open(out / "projected.png")))
    from artforge.data.video import read_frames

    frames = read_frames(out / "progress.mp4")
    assert len(frames) >= 8 and frames[0].shape[1] == 2 * frames[0].shape[0]  # target | current
    assert math.isfinite(r["psnr"]) and r["distance"] <= r["start_distance"]


class InterruptAfter(nn.Module):
    """The real encoder, with Ctrl-C arriving during its ``calls``-th forward pass."""

    def __init__(self, encoder: nn.Module, calls: int) -> None:
        super().__init__()
        self.encoder, self.calls = encoder, calls

    def forward(self, x: torch.Tensor, layers: object) -> dict[str, torch.Tensor]:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return self.encoder(x, layers)  # type: ignore[no-any-return]


def test_ctrl_c_keeps_the_best_so_far(runs: dict[str, Path], vgg: nn.Module, tmp_path: Path) -> None:
    # forward passes: the target, the start, steps 0..2; Ctrl-C arrives in step 3
    enc = InterruptAfter(vgg, calls=6)
    r = P.run_projection(runs["stylegan2"], runs["data"] / "coffee.png", tmp_path, steps=50, progress=False,
                         encoder=enc)  # type: ignore[arg-type]  # fmt: skip
    assert r["interrupted"] and r["steps_done"] == 3
    assert {p.name for p in tmp_path.iterdir()} == {"projected.png", "target.png", "w.npz", "progress.mp4"}
    assert r["distance"] <= r["start_distance"]


def test_a_callback_sees_each_step_and_can_stop_it(runs: dict[str, Path], vgg: nn.Module, tmp_path: Path) -> None:
    """The studio's progress and Cancel: callback(done, steps, best) after every step; True stops there, and the
    best so far is written as after Ctrl-C."""
    seen: list[tuple[int, int, float]] = []

    def callback(done: int, steps: int, best: float) -> bool:
        seen.append((done, steps, best))
        return done == 4

    r = P.run_projection(runs["stylegan2"], runs["data"] / "coffee.png", tmp_path, steps=50, progress=False,
                         encoder=vgg, callback=callback)  # type: ignore[arg-type]  # fmt: skip
    assert [s[:2] for s in seen] == [(n, 50) for n in range(1, 5)]
    assert all(b2 <= b1 for (_, _, b1), (_, _, b2) in zip(seen, seen[1:], strict=False))  # the best never worsens
    assert r["interrupted"] and r["steps_done"] == 4 and r["distance"] <= r["start_distance"]
    assert {p.name for p in tmp_path.iterdir()} == {"projected.png", "target.png", "w.npz", "progress.mp4"}


# ---------------------------------------------------------------- bad input: one line, exit 1, nothing written


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("artforge: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_input_is_one_line(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = runs["data"] / "rocket.png"
    data = good.read_bytes()
    broken = tmp_path / "broken.png"
    broken.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    run = str(runs["stylegan2"])
    assert "corrupt or truncated" in _one_line_error(capsys, ["project", run, str(broken), "-o", str(out)])
    assert "no such file" in _one_line_error(capsys, ["project", run, str(tmp_path / "nope.png"), "-o", str(out)])
    err = _one_line_error(capsys, ["project", str(tmp_path / "no-run"), str(good), "-o", str(out)])
    assert "no such run directory" in err
    err = _one_line_error(capsys, ["project", str(runs["dcgan"]), str(good), "-o", str(out)])
    assert "a dcgan run; project is for stylegan2 runs" in err
    assert "--steps must be >= 1" in _one_line_error(
        capsys, ["project", run, str(good), "-o", str(out), "--steps", "0"]
    )
    assert not out.exists()
    (tmp_path / "file").write_text("x")
    assert "not a directory" in _one_line_error(capsys, ["project", run, str(good), "-o", str(tmp_path / "file")])
    # a w.npz that does not fit the run
    np.savez(tmp_path / "bad.npz", ws=np.zeros((1, 3, 5), np.float32))
    g, _, _, _ = model_from_checkpoint(ckpt.latest(runs["stylegan2"]))
    assert isinstance(g, Generator)
    with pytest.raises(api.ArtforgeError, match="this run needs"):
        P.load_w_npz(tmp_path / "bad.npz", g)
