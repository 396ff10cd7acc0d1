"""artforge.metrics: golden checks of FID/KID/IS/PR, the .npz layout, the feature cache, the Inception definition,
and `artforge eval` end to end with the offline VGG16 on real photos. Nothing downloads."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from artforge.cli.main import main
from artforge.core.errors import ArtforgeError
from artforge.metrics import backbones, stats
from artforge.metrics.features import folder_features

# ---------------------------------------------------------------- pure statistics


def _random_stats(rng: np.random.Generator, d: int, rank: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(d, rank or 2 * d))
    return rng.normal(size=d), a @ a.T / a.shape[1]


def test_frechet_distance_matches_direct_scipy_computation() -> None:
    from scipy import linalg

    rng = np.random.default_rng(0)
    for d in (1, 5, 32):
        mu1, s1 = _random_stats(rng, d)
        mu2, s2 = _random_stats(rng, d)
        covmean = linalg.sqrtm(s1 @ s2)
        ref = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)
        assert stats.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    # 1-D closed form: (m1 - m2)^2 + (sd1 - sd2)^2
    assert stats.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == (
        pytest.approx(4.0 + 1.0)
    )
    # singular covariances (rank 3 of 16): still real, finite, and equal to scipy with the usual eps offset
    mu1, s1 = _random_stats(rng, 16, rank=3)
    mu2, s2 = _random_stats(rng, 16, rank=3)
    off = 1e-6 * np.eye(16)
    covmean = linalg.sqrtm((s1 + off) @ (s2 + off)).real
    ref = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
    assert stats.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-4)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 20)), rng.normal(0.3, 1.2, size=(250, 20))
    sa, sb = stats.feature_statistics(a), stats.feature_statistics(b)
    assert stats.frechet_distance(*sa, *sa) == pytest.approx(0.0, abs=1e-9)
    ab, ba = stats.frechet_distance(*sa, *sb), stats.frechet_distance(*sb, *sa)
    assert ab > 1.0 and ab == pytest.approx(ba, rel=1e-10)
    with pytest.raises(ArtforgeError, match="different feature sizes"):
        stats.frechet_distance(sa[0], sa[1], sa[0][:5], sa[1][:5, :5])


def test_rank_deficient_covariance_is_an_error_unless_allowed() -> None:
    feats = np.random.default_rng(2).normal(size=(10, 32))
    with pytest.raises(ArtforgeError, match="10 images for 32-d features give a rank-deficient covariance"):
        stats.feature_statistics(feats)
    with pytest.warns(UserWarning, match="rank-deficient"):
        mu, sigma = stats.feature_statistics(feats, allow_rank_deficient=True)
    assert mu.shape == (32,) and sigma.shape == (32, 32)


def test_kid_is_unbiased_near_zero_and_can_be_negative() -> None:
    means = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        x, y = rng.normal(size=(100, 16)), rng.normal(size=(100, 16))
        means.append(stats.kid(x, y, subsets=5, subset_size=50, seed=seed)[0])
    shifted = stats.kid(x, y + 0.5, subsets=5, subset_size=50)[0]
    assert min(means) < 0 < max(means)  # an unbiased estimator of 0 scatters on both sides
    assert abs(float(np.mean(means))) < 0.1 * shifted
    mean, std = stats.kid(x, y, subsets=20, subset_size=1000)  # subset size clipped to min(n1, n2)
    assert std >= 0 and np.isfinite(mean)


def test_inception_score_known_answers() -> None:
    c = 10
    assert stats.inception_score(np.full((50, c), 1 / c), splits=5) == pytest.approx((1.0, 0.0))
    one_hot = np.tile(np.eye(c), (4, 1))  # 40 images, every class 4 times, each split holds all classes
    assert stats.inception_score(one_hot, splits=1)[0] == pytest.approx(c)
    assert stats.inception_score(one_hot, splits=4) == pytest.approx((c, 0.0))
    assert stats.inception_score(one_hot * 50.0, splits=1, probs=False)[0] == pytest.approx(c, rel=1e-6)  # logits
    assert stats.inception_score(np.zeros((20, c)), splits=2)[0] == pytest.approx(1.0)  # equal logits: uniform


def test_precision_recall_identical_and_disjoint_sets() -> None:
    rng = np.random.default_rng(3)
    real = rng.normal(size=(60, 8))
    assert stats.precision_recall(real, real.copy(), k=3, chunk=16) == (1.0, 1.0)
    assert stats.precision_recall(real, real + 1000.0, k=3, chunk=16) == (0.0, 0.0)
    half = np.concatenate([real[:30], real[:30] + 1000.0])  # half on the real manifold; covers half of it
    p, r = stats.precision_recall(real, half, k=3)
    assert p == pytest.approx(0.5) and 0.4 <= r <= 1.0


def test_npz_stats_round_trip_in_the_pytorch_fid_layout(tmp_path: Path) -> None:
    mu, sigma = _random_stats(np.random.default_rng(4), 6)
    path = stats.save_stats(tmp_path / "ref.npz", mu, sigma)
    with np.load(path) as f:
        assert sorted(f.files) == ["mu", "sigma"]
    mu2, sigma2 = stats.load_stats(path)
    assert np.array_equal(mu, mu2) and np.allclose(sigma, sigma2)
    np.savez(tmp_path / "bad.npz", mean=mu)
    with pytest.raises(ArtforgeError, match="needs arrays 'mu' and 'sigma'"):
        stats.load_stats(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtforgeError, match="not a readable .npz"):
        stats.load_stats(tmp_path / "junk.npz")


# ---------------------------------------------------------------- feature cache (a tiny counting backbone)


class CountingNet(nn.Module):
    """Per-channel mean and std as 6-d features, 3 logits; counts the images it sees."""

    seen = 0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        CountingNet.seen += len(x)
        f = torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1) / 255
        return f, f[:, :3] * 10


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    spec = backbones.BackboneSpec("counting", 16, 6, True, "test", lambda w, d, p: CountingNet(), lambda w: "count-1")
    monkeypatch.setitem(backbones.BACKBONES, "counting", spec)
    CountingNet.seen = 0
    return "counting"


def _noise_images(folder: Path, n: int, seed: int, size: int = 24) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size + 4, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def test_feature_cache_hit_and_invalidation(counting: str, tmp_path: Path) -> None:
    folder = _noise_images(tmp_path / "imgs", 5, seed=0)
    net = backbones.Backbone(counting, device="cpu", progress=False)
    first = folder_features(folder, net, batch=2, progress=False)
    assert first.features.shape == (5, 6) and first.logits is not None and not first.cached and CountingNet.seen == 5
    second = folder_features(folder, backbones.Backbone(counting, device="cpu"), progress=False)
    assert second.cached and CountingNet.seen == 5  # not recomputed
    assert np.array_equal(first.features, second.features) and np.array_equal(first.logits, second.logits)
    assert len(list((tmp_path / "cache" / "metrics").glob("*.npz"))) == 1
    Image.fromarray(np.zeros((24, 28, 3), np.uint8)).save(folder / "002.png")  # new bytes in one file
    third = folder_features(folder, net, progress=False)
    assert not third.cached and CountingNet.seen == 10
    assert not np.array_equal(third.features[2], first.features[2])
    assert np.array_equal(third.features[3], first.features[3])
    folder_features(folder, net, progress=False, cache=False)
    assert CountingNet.seen == 15


def test_corrupt_files_are_skipped_and_counted(counting: str, tmp_path: Path) -> None:
    folder = _noise_images(tmp_path / "imgs", 3, seed=1)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "notes.txt").write_text("not an image")
    net = backbones.Backbone(counting, device="cpu")
    with pytest.warns(UserWarning, match="skipped 2 unreadable file"):
        f = folder_features(folder, net, progress=False)
    assert len(f.features) == 3 and len(f.skipped) == 2 and f.skipped[0].startswith("broken.png (")
    with pytest.warns(UserWarning, match="skipped 2"):  # the cached entry remembers what it skipped
        assert folder_features(folder, net, progress=False).cached


def test_empty_and_unreadable_folders_are_errors(counting: str, tmp_path: Path) -> None:
    net = backbones.Backbone(counting, device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtforgeError, match="holds no files"):
        folder_features(tmp_path / "empty", net, progress=False)
    with pytest.raises(ArtforgeError, match="no such folder"):
        folder_features(tmp_path / "missing", net, progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ArtforgeError, match="no readable image among 1 file"):
        folder_features(tmp_path / "bad", net, progress=False)


def test_resize_is_pil_bicubic_in_float_not_tensor_interpolation() -> None:
    img = Image.fromarray(np.random.default_rng(5).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    out = backbones.resize_clean(img, 16)
    assert out.shape == (3, 16, 16) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 255
    green = Image.fromarray(np.asarray(img)[:, :, 1].astype(np.float32))
    ref = np.asarray(green.resize((16, 16), Image.Resampling.BICUBIC))
    assert np.array_equal(out[1], np.clip(ref, 0, 255))
    assert not np.allclose(out, np.round(out))  # not re-quantised to uint8


# ---------------------------------------------------------------- the FID Inception definition

# (key, shape) from the standard FID weights pt_inception-2015-12-05-6726825d.pth (pytorch-fid / torch-fidelity
# layout: torchvision's Inception3 names without AuxLogits, a 1008-way fc).
INCEPTION_KEYS = [
    ("Conv2d_1a_3x3.conv.weight", (32, 3, 3, 3)),
    ("Conv2d_1a_3x3.bn.running_var", (32,)),
    ("Conv2d_2a_3x3.conv.weight", (32, 32, 3, 3)),
    ("Conv2d_2b_3x3.conv.weight", (64, 32, 3, 3)),
    ("Conv2d_3b_1x1.conv.weight", (80, 64, 1, 1)),
    ("Conv2d_4a_3x3.conv.weight", (192, 80, 3, 3)),
    ("Conv2d_4a_3x3.bn.bias", (192,)),
    ("Mixed_5b.branch1x1.conv.weight", (64, 192, 1, 1)),
    ("Mixed_5b.branch5x5_1.conv.weight", (48, 192, 1, 1)),
    ("Mixed_5b.branch5x5_2.conv.weight", (64, 48, 5, 5)),
    ("Mixed_5b.branch3x3dbl_3.conv.weight", (96, 96, 3, 3)),
    ("Mixed_5b.branch_pool.conv.weight", (32, 192, 1, 1)),
    ("Mixed_5c.branch_pool.conv.weight", (64, 256, 1, 1)),
    ("Mixed_5d.branch1x1.conv.weight", (64, 288, 1, 1)),
    ("Mixed_6a.branch3x3.conv.weight", (384, 288, 3, 3)),
    ("Mixed_6a.branch3x3dbl_3.conv.weight", (96, 96, 3, 3)),
    ("Mixed_6b.branch7x7_1.conv.weight", (128, 768, 1, 1)),
    ("Mixed_6b.branch7x7_2.conv.weight", (128, 128, 1, 7)),
    ("Mixed_6b.branch7x7_3.conv.weight", (192, 128, 7, 1)),
    ("Mixed_6b.branch7x7dbl_2.conv.weight", (128, 128, 7, 1)),
    ("Mixed_6b.branch7x7dbl_5.conv.weight", (192, 128, 1, 7)),
    ("Mixed_6c.branch7x7_1.conv.weight", (160, 768, 1, 1)),
    ("Mixed_6d.branch7x7dbl_4.conv.weight", (160, 160, 7, 1)),
    ("Mixed_6e.branch7x7_2.conv.weight", (192, 192, 1, 7)),
    ("Mixed_6e.branch_pool.conv.weight", (192, 768, 1, 1)),
    ("Mixed_7a.branch3x3_2.conv.weight", (320, 192, 3, 3)),
    ("Mixed_7a.branch7x7x3_2.conv.weight", (192, 192, 1, 7)),
    ("Mixed_7a.branch7x7x3_4.conv.weight", (192, 192, 3, 3)),
    ("Mixed_7b.branch1x1.conv.weight", (320, 1280, 1, 1)),
    ("Mixed_7b.branch3x3_2a.conv.weight", (384, 384, 1, 3)),
    ("Mixed_7b.branch3x3_2b.conv.weight", (384, 384, 3, 1)),
    ("Mixed_7b.branch3x3dbl_1.conv.weight", (448, 1280, 1, 1)),
    ("Mixed_7b.branch3x3dbl_2.conv.weight", (384, 448, 3, 3)),
    ("Mixed_7b.branch_pool.conv.weight", (192, 1280, 1, 1)),
    ("Mixed_7c.branch1x1.conv.weight", (320, 2048, 1, 1)),
    ("Mixed_7c.branch3x3dbl_3b.conv.weight", (384, 384, 3, 1)),
    ("Mixed_7c.branch_pool.bn.running_mean", (192,)),
    ("fc.weight", (1008, 2048)),
    ("fc.bias", (1008,)),
]
# torchvision's Inception3 has 27,161,264 parameters; without its AuxLogits head (3,326,696) and with 1008 instead
# of 1000 classes (+16,392) that is 23,850,960. 94 conv+BN units x 6 entries + fc weight and bias = 566 entries.
INCEPTION_PARAMS = 23_850_960
INCEPTION_ENTRIES = 566


def test_inception_state_dict_matches_the_fid_weights_layout_and_runs() -> None:
    from artforge.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    sd = net.state_dict()
    for key, shape in INCEPTION_KEYS:
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert not [k for k in sd if k.startswith("AuxLogits")]
    assert len(sd) == INCEPTION_ENTRIES
    assert sum(p.numel() for p in net.parameters()) == INCEPTION_PARAMS
    assert {m.eps for m in net.modules() if isinstance(m, nn.BatchNorm2d)} == {0.001}
    assert all(m.bias is None for m in net.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        pool, logits = net(torch.rand(1, 3, 299, 299) * 255)
    assert pool.shape == (1, 2048) and logits.shape == (1, 1008) and (pool >= 0).all()
    assert torch.allclose(logits, pool @ net.fc.weight.T)  # bias-free logits, as the original IS code


def test_inception_weights_offline_error_and_local_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from artforge.metrics import inception

    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ArtforgeError, match=r"put pt_inception-2015-12-05-6726825d.pth .* --backbone vgg16 works") as e:
        inception.load_inception()
    assert "\n" not in str(e.value)
    bogus = tmp_path / "bogus.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bogus)
    with pytest.raises(ArtforgeError, match="does not fit the FID InceptionV3"):
        inception.load_inception(bogus)
    # A local file in the old (pre-1.6, non-zip) format without num_batches_tracked, like the 2018 original.
    state = {k: v for k, v in inception.FIDInceptionV3().state_dict().items() if "num_batches" not in k}
    local = tmp_path / "mine.pth"
    torch.save(state, local, _use_new_zipfile_serialization=False)
    net, tag = inception.load_inception(local)
    assert torch.equal(net.fc.weight, state["fc.weight"]) and tag.startswith("inception-") and "6726825d" not in tag
    assert backbones.Backbone("inception", weights=str(local)).tag == tag
    (tmp_path / "cache").mkdir(exist_ok=True)  # the failed download made it; it left no partial file in it
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []
    (tmp_path / "cache" / inception.INCEPTION_FILE).symlink_to(local)  # not the real file: its sha256 differs
    with pytest.raises(ArtforgeError, match="corrupt \\(sha256 mismatch\\)"):
        inception.load_inception()


# ---------------------------------------------------------------- end to end


def _photo_sets(tmp_path: Path) -> tuple[Path, Path]:
    """Two folders of small real photographs (scikit-image), four crops each."""
    import skimage.data

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for folder, names in ((a, ("astronaut", "chelsea")), (b, ("coffee", "rocket"))):
        for name in names:
            img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
            img.thumbnail((64, 64))
            w, h = img.size
            for i, box in enumerate(((0, 0, w // 2, h), (w // 2, 0, w, h))):
                img.crop(box).save(folder / f"{name}{i}.png")
    return a, b


def test_cli_fid_kid_with_offline_vgg16(cache_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _photo_sets(tmp_path)
    common = ["--backbone", "vgg16", "--json", "-q", "--allow-rank-deficient", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank-deficient: 4 images, 512-d features
        stats_file = str(tmp_path / "a.npz")
        assert main(["eval", "--metrics", "fid,kid,pr", str(a), str(b), *common, "--save-stats", stats_file]) == 0
        r = json.loads(capsys.readouterr().out)
        assert r["backbone"] == "vgg16" and r["a_images"] == 4 and r["b_images"] == 4
        assert r["fid"] > 0 and np.isfinite(r["kid"]) and 0 <= r["precision"] <= 1
        # A as .npz statistics gives the same FID; A against itself gives 0 (features now come from the cache)
        assert main(["eval", stats_file, str(b), *common]) == 0
        assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(r["fid"], rel=1e-6)
        assert main(["eval", "--metrics", "fid,kid", str(a), str(a), *common]) == 0
        same = json.loads(capsys.readouterr().out)
    assert same["fid"] == pytest.approx(0.0, abs=1e-3 * r["fid"])
    assert main(["eval", "--metrics", "is", str(a), str(b), *common]) == 1
    assert "IS needs a classifier" in capsys.readouterr().err
    assert main(["eval", "--metrics", "fid", str(a), str(b), "--backbone", "vgg16", "-q"]) == 1
    assert "rank-deficient" in capsys.readouterr().err


def test_cli_stylization_keys(cache_env: Path, photo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content, style = photo_dir / "content.png", photo_dir / "style.jpg"
    assert main(["eval", "--stylization", str(content), str(content), str(style), "--json", "--device", "cpu"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["content_loss"] == pytest.approx(0.0, abs=1e-6)  # the content image is its own perfect content match
    assert r["style_loss"] > 0.05 and 0 < r["color_histogram_distance"] < 1
    assert r["style_layers"] == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    assert main(["eval", "--stylization", str(content), str(style), "--json"]) == 1
    assert "three images" in capsys.readouterr().err


def test_color_histogram_distance_extremes() -> None:
    from artforge.metrics.stylization import color_histogram_distance

    black, white = Image.new("RGB", (8, 8)), Image.new("RGB", (4, 6), (255, 255, 255))
    assert color_histogram_distance(black, black) == 0.0
    assert color_histogram_distance(black, white) == 1.0


def test_run_metrics_compare_a_generator_with_its_data(
    counting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from artforge import api

    data = _noise_images(tmp_path / "data", 16, seed=7, size=28)
    last = api.train(out=tmp_path / "runs", progress=False, model="gan", data=str(data), resolution=28, batch=8,
                     width=8, kimg=0.016, snap_kimg=0.016, tick_kimg=0.016, device="cpu")  # fmt: skip
    opts = dict(data=str(data), backbone=counting, n=12, progress=False)
    r = api.evaluate(last.parent, metrics="fid,kid,is,pr", max_images=16, **opts)
    assert r["samples"] == 12 and r["real_images"] == 16 and r["backbone"] == "counting"
    assert r["fid"] > 0 and {"kid", "kid_std", "is", "is_std", "precision", "recall"} <= set(r)
    seen = CountingNet.seen
    again = api.evaluate(last.parent, metrics="fid", max_images=16, **opts)
    assert again["fid"] == r["fid"]  # same seed, same samples
    assert CountingNet.seen == seen + 12  # the data's features came from the cache
    with pytest.raises(ArtforgeError, match="needs --data"):
        api.evaluate(last.parent, metrics="fid", backbone=counting)
    run = str(last.parent)
    capsys.readouterr()  # drop train's output
    cli = ["eval", run, "--metrics", "kid", "--data", str(data), "--backbone", counting, "--n", "12", "--json", "-q"]
    assert main(cli) == 0
    assert json.loads(capsys.readouterr().out)["real_images"] == 12  # as many real images as samples
    assert main(["eval", run, "--json"]) == 1  # a GAN has no likelihood
    assert "for sample quality use --metrics fid,kid --data D" in capsys.readouterr().err


def test_inception_score_of_one_folder(counting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(_noise_images(tmp_path / "imgs", 6, seed=2))
    assert main(["eval", "--metrics", "is", folder, "--backbone", counting, "--is-splits", "2", "--json", "-q"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["b_images"] == 6 and "a_images" not in r and r["is"] >= 1.0
    assert main(["eval", "--metrics", "fid,is", folder, "--backbone", counting, "-q"]) == 1
    assert "fid compare two sets" in capsys.readouterr().err


def test_metrics_is_a_leaf_and_importing_it_has_no_side_effects(tmp_path: Path) -> None:
    above = ("artforge.families", "artforge.train", "artforge.gatys", "artforge.feedforward", "artforge.api")
    code = (
        "import sys, artforge.metrics as m; assert callable(m.frechet_distance); "
        f"loaded = [n for n in sys.modules if n.startswith({above!r})]; assert not loaded, loaded"
    )
    env = {"ARTFORGE_CACHE": str(tmp_path / "c"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert not (tmp_path / "c").exists()
