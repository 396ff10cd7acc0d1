"""Stylisation measures that agree with the eye: hand computations on tiny arrays, a reference check against
scikit-image, and rankings of hand-made images (photo, genuine stylisation, blurred, washed-out, grey, edges-only,
outlines) built from real photographs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from artforge.cli.main import main
from artforge.data import images, samples
from artforge.data.color import luminance
from artforge.data.samples import painting_path
from artforge.metrics import structure, tone
from artforge.metrics.stylization import BETTER, stylization_metrics
from artforge.objectives import functional as L

OLD_KEYS = ("content_loss", "style_loss", "color_histogram_distance")
NEW_KEYS = ("structure_ssim", "gradient_correlation", "style_meanstd_loss", "contrast_retention",
            "colorfulness_retention")  # fmt: skip


# ---------------------------------------------------------------- hand computations


def test_ssim_hand_values_and_identity() -> None:
    a = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(structure.ssim(a, a), torch.ones(2, dtype=torch.float64))
    # two flat images a = 0.2, b = 0.6: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    c1 = (0.01 * 1.0) ** 2
    flat = structure.ssim(*(torch.full((1, 1, 16, 16), v, dtype=torch.float64) for v in (0.2, 0.6)))
    assert float(flat) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1), rel=1e-9)
    assert (structure.ssim(a, 1 - a) < 0).all()  # the inverted image: its structure term is negative
    with pytest.raises(ValueError, match="larger than 11"):
        structure.ssim(torch.zeros(1, 1, 10, 10), torch.zeros(1, 1, 10, 10))


def test_ssim_matches_scikit_image_on_a_real_photo() -> None:
    import skimage.data
    from skimage.metrics import structural_similarity

    img = Image.fromarray(skimage.data.camera()).resize((96, 96), Image.Resampling.LANCZOS)
    x = np.asarray(img, dtype=np.float64) / 255
    y = np.asarray(img.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float64) / 255
    y = np.clip(0.8 * y + 0.1 + 0.05 * np.random.default_rng(0).standard_normal(y.shape), 0, 1)
    ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    ours = structure.ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None])
    assert 0.2 < ref < 0.9
    assert float(ours) == pytest.approx(ref, abs=1e-9)


def test_viewing_scale_averages_by_round_min_side_over_256() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(1, 1, 160, 160)  # 640 x 640 -> f = round(640 / 256) = 2
    v = structure.viewing_scale(x)
    assert v.shape == (1, 1, 320, 320)
    assert float(v[0, 0, 0, 0]) == pytest.approx((0 + 1 + 4 + 5) / 4)
    small = torch.zeros(1, 1, 300, 380)  # f = round(300 / 256) = 1: unchanged
    assert structure.viewing_scale(small) is small


def test_gradient_correlation_hand_values() -> None:
    x = torch.rand(1, 1, 20, 20, generator=torch.Generator().manual_seed(1))
    assert float(structure.gradient_correlation(x, x)) == pytest.approx(1.0)
    assert float(structure.gradient_correlation(x, -x)) == pytest.approx(-1.0)
    assert float(structure.gradient_correlation(x, 0.3 * x + 0.6)) == pytest.approx(1.0)  # contrast-invariant
    flat = torch.full_like(x, 0.5)
    assert float(structure.gradient_correlation(x, flat)) == 0.0
    assert float(structure.gradient_correlation(flat, flat)) == 0.0
    ramp = torch.linspace(0, 1, 20, dtype=torch.float64).repeat(20, 1)[None, None]  # a constant gradient
    assert float(structure.gradient_correlation(ramp, ramp)) == pytest.approx(1.0)
    assert float(structure.gradient_correlation(ramp, 3 * ramp)) == pytest.approx(1.0)
    assert float(structure.gradient_correlation(ramp, 1 - ramp)) == pytest.approx(-1.0)
    # hand: Sobel of a horizontal ramp is (8/19, 0) everywhere, of the vertical one (0, 8/19): orthogonal fields
    gx, gy = structure.sobel(ramp)
    assert torch.allclose(gx, torch.full_like(gx, 8 / 19)) and float(gy.abs().max()) < structure.FLAT_RMS
    assert float(structure.gradient_correlation(ramp, ramp.transpose(-1, -2))) == pytest.approx(0.0, abs=1e-12)
    # a diagonal ramp has the gradient (8/19, 8/19): cos 45 degrees against the horizontal one
    diagonal = ramp + ramp.transpose(-1, -2)
    assert float(structure.gradient_correlation(diagonal, ramp)) == pytest.approx(math.sqrt(0.5), rel=1e-12)


def test_colorfulness_hand_values() -> None:
    grey = torch.full((1, 3, 4, 4), 0.5)
    assert float(tone.colorfulness(grey)) == 0.0
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1  # rg = 255, yb = 127.5 everywhere: M = 0.3 sqrt(255^2 + 127.5^2)
    assert float(tone.colorfulness(red)) == pytest.approx(0.3 * math.hypot(255, 127.5))
    half = red.clone()
    half[:, :, :, 2:] = torch.tensor([0.0, 1.0, 0.0])[:, None, None]  # half red, half green
    # rg in {255, -255}: sigma 255, mu 0; yb = 127.5 in both halves: sigma 0, mu 127.5
    assert float(tone.colorfulness(half)) == pytest.approx(255 + 0.3 * 127.5)


def test_rms_contrast_and_retention_hand_values() -> None:
    y = torch.zeros(1, 1, 2, 2)
    y[..., 0, :] = 1  # half black, half white: std 0.5
    assert float(tone.rms_contrast(y)) == pytest.approx(0.5)
    assert float(tone.rms_contrast(0.4 * y + 0.3)) == pytest.approx(0.2)  # washed out: 40% of the contrast
    assert tone.retention(0.2, 0.5) == pytest.approx(0.4)
    assert tone.retention(0.9, 0.5) == 1.0  # more than the reference is all of it
    assert tone.retention(0.0, 0.5) == 0.0
    assert tone.retention(0.3, 0.0) == 1.0  # nothing to lose


def test_meanstd_style_loss_hand_values() -> None:
    f = torch.tensor([0.0, 2.0]).reshape(1, 1, 1, 2)  # mu 1, sigma 1
    s = torch.tensor([1.0, 3.0]).reshape(1, 1, 1, 2)  # mu 2, sigma 1
    assert float(L.moment_loss({"a": f}, {"a": f})) == pytest.approx(0.0, abs=1e-12)
    # (1 - 2)^2 / 2^2 for the means, 0 for the sigmas
    assert float(L.moment_loss({"a": f}, {"a": s})) == pytest.approx(0.25, rel=1e-6)


# ---------------------------------------------------------------- hand-made images


def _cases(photo: Image.Image, stylised: Image.Image) -> dict[str, Image.Image]:
    """The photo, a genuine stylisation, and five images that must not beat it."""
    x = images.to_tensor(photo)
    gx, gy = structure.sobel(luminance(x))
    mag = torch.nn.functional.pad((gx.square() + gy.square()).sqrt(), (1, 1, 1, 1))
    mag = mag / mag.amax()  # [1, 1, H, W]
    return {
        "photo": photo,
        "stylised": stylised,
        "blurred": photo.filter(ImageFilter.GaussianBlur(3)),
        "washed-out": Image.blend(photo, Image.new("RGB", photo.size, (200, 200, 200)), 0.65),
        "grey": Image.new("RGB", photo.size, (128, 128, 128)),
        "edges": images.to_image(mag.repeat(1, 3, 1, 1)),  # Sobel magnitude: white lines on black
        "outlines": images.to_image((0.6 * (mag < 0.25)).repeat(1, 3, 1, 1)),  # dark outlines over a grey wash
    }


@pytest.fixture(scope="module", params=["chelsea", "astronaut"])
def scored(request: pytest.FixtureRequest, weights_cache: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, dict[str, float]]:  # fmt: skip
    """Every measure of every hand-made image of one photograph (160 px), the style being the bundled painting
    that the shipped per-style model johnson-mountains was trained on."""
    import skimage.data

    from artforge import api

    mp = pytest.MonkeyPatch()
    mp.setenv("ARTFORGE_CACHE", str(weights_cache))
    photo = Image.fromarray(getattr(skimage.data, request.param)()).convert("RGB")
    photo.thumbnail((160, 160))
    with torch.no_grad():
        stylised = images.to_image(api.load_stylizer("johnson-mountains", "cpu")(images.to_tensor(photo)))
    d = tmp_path_factory.mktemp(request.param)
    out: dict[str, dict[str, float]] = {}
    for name, img in _cases(photo, stylised).items():
        img.save(d / f"{name}.png")
        m = stylization_metrics(d / f"{name}.png", d / "photo.png", painting_path("mountains"), device="cpu")
        out[name] = {k: m[k] for k in (*OLD_KEYS, *NEW_KEYS)}
    mp.undo()
    print(f"\n{request.param}: " + " | ".join(NEW_KEYS + OLD_KEYS))
    for name, m in out.items():
        print(f"{name:>10s} " + " ".join(f"{m[k]:.3f}" for k in NEW_KEYS + OLD_KEYS))
    return out


def test_output_keeps_the_old_keys_and_adds_the_new_with_their_directions(scored: dict[str, dict[str, float]]) -> None:
    photo = scored["photo"]
    assert photo["content_loss"] == pytest.approx(0.0, abs=1e-6)
    assert photo["structure_ssim"] == pytest.approx(1.0) and photo["gradient_correlation"] == pytest.approx(1.0)
    assert photo["contrast_retention"] == 1.0
    assert set(BETTER) == {*OLD_KEYS, *NEW_KEYS}
    assert {k for k, v in BETTER.items() if v == "higher"} == {
        "structure_ssim", "gradient_correlation", "contrast_retention", "colorfulness_retention"
    }  # fmt: skip


def _better(key: str, a: float, b: float) -> bool:
    """a strictly better than b on measure ``key``."""
    return a > b if BETTER[key] == "higher" else a < b


def test_structure_ranks_photo_over_blur_over_grey_and_no_degenerate_image_over_a_stylisation(
    scored: dict[str, dict[str, float]],
) -> None:
    for key in ("structure_ssim", "gradient_correlation"):
        s = {name: m[key] for name, m in scored.items()}
        assert s["photo"] > s["blurred"] > s["grey"], (key, s)
        for bad in ("grey", "edges", "outlines"):
            assert s["stylised"] > s[bad], (key, bad, s)
    assert scored["grey"]["gradient_correlation"] == 0.0
    # SSIM's contrast term sees the washed-out photo; gradient correlation is contrast-invariant by design
    assert scored["photo"]["structure_ssim"] > scored["washed-out"]["structure_ssim"]
    assert scored["washed-out"]["gradient_correlation"] > 0.99


def test_retention_catches_washed_out_and_grey(scored: dict[str, dict[str, float]]) -> None:
    c = {name: m["contrast_retention"] for name, m in scored.items()}
    assert c["photo"] == 1.0 > c["blurred"] > c["washed-out"] > c["grey"] == 0.0
    assert c["washed-out"] == pytest.approx(0.35, abs=0.02)  # blended 65% into a flat grey
    m = {name: v["colorfulness_retention"] for name, v in scored.items()}
    assert m["grey"] == m["edges"] == m["outlines"] == 0.0
    assert m["stylised"] > m["photo"] > m["washed-out"] > 0


def test_style_measures_prefer_the_stylisation_to_every_other_image(scored: dict[str, dict[str, float]]) -> None:
    for key in ("style_loss", "style_meanstd_loss"):
        for other in ("photo", "blurred", "washed-out", "grey", "edges", "outlines"):
            assert _better(key, scored["stylised"][key], scored[other][key]), (key, other)
    for other in ("washed-out", "grey", "outlines"):
        assert _better("color_histogram_distance", scored["stylised"]["color_histogram_distance"],
                       scored[other]["color_histogram_distance"]), other  # fmt: skip


def test_no_degenerate_image_wins_against_a_genuine_stylisation(scored: dict[str, dict[str, float]]) -> None:
    """On the new measures taken together, the stylisation beats each degenerate image on at least four of five."""
    sty = scored["stylised"]
    for bad in ("blurred", "washed-out", "grey", "edges", "outlines"):
        wins = [k for k in NEW_KEYS if _better(k, sty[k], scored[bad][k])]
        assert len(wins) >= 4, (bad, wins)


def test_cli_prints_the_new_measures_with_their_directions(
    cache_env: Path, photo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, style = photo_dir / "content.png", photo_dir / "style.jpg"
    assert main(["eval", "--stylization", str(content), str(content), str(style), "--json", "--device", "cpu"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {*OLD_KEYS, *NEW_KEYS} <= set(r) and r["better"] == BETTER
    assert r["structure_ssim"] == pytest.approx(1.0) and r["style_colorfulness"] > 0
    assert main(["eval", "--stylization", str(content), str(content), str(style), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "structure_ssim: 1.0000  (higher is better)" in text
    assert "content_loss: 0.0000  (lower is better)" in text
    assert "better" not in text.replace("is better", "")


def test_content_and_style_may_be_bundled_samples(cache_env: Path, tmp_path: Path) -> None:
    """``sample:NAME`` works for CONTENT and STYLE as it does for ``artforge stylize``, and means the same image."""
    out = tmp_path / "out.png"
    samples.open_image("sample:chelsea").resize((96, 64)).save(out)
    by_name = stylization_metrics(str(out), "sample:chelsea", "sample:swamp", device="cpu")
    photo, painting = tmp_path / "chelsea.png", tmp_path / "swamp.png"
    samples.open_image("sample:chelsea").save(photo)
    samples.open_image("sample:swamp").save(painting)
    by_file = stylization_metrics(str(out), str(photo), str(painting), device="cpu")
    assert by_name["structure_ssim"] == pytest.approx(by_file["structure_ssim"])
    assert by_name["style_loss"] == pytest.approx(by_file["style_loss"], rel=1e-4)
    assert by_name["structure_ssim"] > 0.9  # the output is the photo itself, resized
