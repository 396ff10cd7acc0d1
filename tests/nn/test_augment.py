"""ADA (Karras et al. 2020): the 'bgc' augmentation pipe against exact references, its statistics, the controller."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from artforge.core.errors import ArtforgeError
from artforge.nn.augment import AugmentPipe, ada_update, parse_augment
from artforge.nn.augment import matrices as m
from artforge.nn.augment.resample import SYM6, blit, lowpass, recolor, resample

NAMES = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
         "brightness", "contrast", "lumaflip", "hue", "saturation")  # fmt: skip


def only(*names: str, p: float = 1.0) -> AugmentPipe:
    """A pipe with just ``names`` switched on, at probability p."""
    pipe = AugmentPipe(**{n: float(n in names) for n in NAMES})
    pipe.p.fill_(p)
    return pipe


def images(n: int, c: int, size: int = 16, seed: int = 0) -> Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # [N, C, S, S]


def smooth(size: int = 32) -> Tensor:
    """A band-limited test image [1, 1, S, S]: low-frequency waves, no symmetry."""
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    img = torch.cos(2 * math.pi * xx / 16) + 0.5 * torch.sin(2 * math.pi * (yy / 13 + xx / 29)) + xx / size
    return img[None, None] / 2


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("c", [1, 3])
def test_p_zero_is_the_identity_exactly(c: int) -> None:
    x = images(8, c)
    pipe = AugmentPipe()  # every transform on, p starts at 0
    assert float(pipe.p) == 0.0 and "p" in pipe.state_dict()
    assert torch.equal(pipe(x, gen()), x)
    assert torch.equal(pipe(x.bfloat16()), x.bfloat16())


@pytest.mark.parametrize("c", [1, 3])
def test_gradients_reach_the_input_at_p_one(c: int) -> None:
    x = images(6, c).requires_grad_(True)
    weight = torch.randn(6, c, 16, 16, generator=gen(1))
    out = only(*NAMES)(x, gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    (out * weight).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_xflip_alone_is_torch_flip_for_about_half_the_images() -> None:
    x = images(2000, 1, size=8)
    out = only("xflip")(x, gen())
    same = (out == x).flatten(1).all(1)
    flipped = (out == torch.flip(x, dims=[3])).flatten(1).all(1)
    assert bool((same | flipped).all())
    assert abs(flipped.float().mean().item() - 0.5) < 0.04  # binomial sd 0.011


def test_rotate90_alone_gives_a_quarter_turn_and_all_four_occur() -> None:
    x = images(400, 3, size=8)
    out = only("rotate90")(x, gen())
    hits = torch.stack([(out == torch.rot90(x, k, dims=(2, 3))).flatten(1).all(1) for k in range(4)])  # [4, N]
    assert bool((hits.sum(0) == 1).all())  # exactly one rotation for every image (random images: no symmetry)
    assert all(abs(h - 0.25) < 0.08 for h in hits.float().mean(1).tolist())


def test_integer_translation_is_an_exact_shift_with_reflection() -> None:
    x = images(200, 3, size=32)
    out = only("xint")(x, gen())
    r = 4  # round(0.125 * 32)
    padded = F.pad(x, (r, r, r, r), mode="reflect")  # [N, C, 40, 40]
    shifts = []
    for i in range(x.shape[0]):
        found = [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
                 if torch.equal(out[i], padded[i, :, r - dy : r - dy + 32, r - dx : r - dx + 32])]  # fmt: skip
        assert len(found) == 1, f"image {i} is not an integer shift"
        shifts.append(found[0])
    dxs = torch.tensor([s[0] for s in shifts]).float()
    assert set(dxs.tolist()) == set(range(-r, r + 1)) and abs(dxs.mean().item()) < 0.6  # round(U(-4, 4)): all used


def test_blit_transforms_together_only_move_pixels() -> None:
    x = images(64, 3, size=12)
    out = only("xflip", "rotate90", "xint")(x, gen())
    # flips, quarter turns and shifts with reflection: every output pixel is one input pixel of the same image
    for i in range(64):
        src = {tuple(v) for v in x[i].flatten(1).T.tolist()}
        assert all(tuple(v) in src for v in out[i].flatten(1).T.tolist()), i
    assert not torch.equal(out, x)


def test_general_transforms_keep_a_constant_image_and_have_the_paper_strengths() -> None:
    for name in ("scale", "rotate", "aniso", "xfrac"):
        out = only(name)(torch.full((4, 3, 16, 16), 0.3), gen())
        assert torch.allclose(out, torch.full_like(out, 0.3), atol=1e-5), name
    n = 4000
    g = only("scale").sample(n, 3, 32, 32, generator=gen()).geom
    assert torch.equal(g[:, 0, 0], g[:, 1, 1]) and not g[:, :2, 2].any() and not g[:, 0, 1].any()
    assert abs(torch.log2(g[:, 0, 0]).std().item() - 0.2) < 0.01  # 2^N(0, 0.2^2)
    g = only("aniso").sample(n, 3, 32, 32, generator=gen()).geom
    assert torch.allclose(g[:, 0, 0] * g[:, 1, 1], torch.ones(n))  # area kept
    assert abs(torch.log2(g[:, 0, 0]).std().item() - 0.2) < 0.01
    params = only("rotate").sample(n, 3, 32, 32, generator=gen())
    lin = params.geom[:, :2, :2]
    assert torch.allclose(lin @ lin.transpose(1, 2), torch.eye(2).expand(n, 2, 2), atol=1e-5)  # rotations only
    assert torch.allclose(torch.linalg.det(lin), torch.ones(n), atol=1e-5)
    angle = torch.atan2(lin[:, 1, 0], lin[:, 0, 0])  # sum of two rotations, each uniform on the circle
    assert abs(torch.cos(angle).mean().item()) < 0.05 and abs(torch.sin(angle).mean().item()) < 0.05
    t = only("xfrac").sample(n, 3, 32, 32, generator=gen()).geom[:, :2, 2]
    assert abs(t.std().item() / 32 - 0.125) < 0.006  # N(0, 0.125^2) of the image size


def test_resampling_filter_identity_turns_and_beats_bilinear() -> None:
    assert abs(lowpass(torch.device("cpu")).sum().item() - 1) < 1e-6
    h = torch.tensor(SYM6, dtype=torch.float64)  # orthonormal wavelet: sum sqrt(2), sum h[k] h[k + 2m] = delta_m
    assert abs(h.sum().item() - math.sqrt(2)) < 1e-8
    for shift in range(6):  # so that upsampling then downsampling is the identity
        assert abs((h[: 12 - 2 * shift] * h[2 * shift :]).sum().item() - (shift == 0)) < 1e-8
    x = smooth()
    eye = torch.eye(3)[None]
    assert torch.allclose(resample(x, eye), x, atol=1e-5)
    one, zero = torch.ones(1), torch.zeros(1)
    for g in (m.rotate2d(zero, one), m.scale2d(-one, one), m.translate2d(3 * one, -2 * one)):  # blit-able moves
        assert (resample(x, g) - blit(x, g)).abs().max() < 0.05
    # a fractional shift of a wave: the sym6 2x path is far closer to the true shifted wave than plain bilinear
    size, shift = 32, 0.3
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    wave = lambda dx: torch.cos(2 * math.pi * ((xx - dx) / 8 + yy / 27))[None, None]  # noqa: E731
    ours = resample(wave(0), m.translate2d(-shift * one, zero))
    grid = torch.stack([(2 * (xx - shift) + 1) / size - 1, (2 * yy + 1) / size - 1], dim=-1)[None]
    plain = F.grid_sample(wave(0), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    inner = (..., slice(4, -4), slice(4, -4))
    err_ours, err_plain = (ours - wave(shift))[inner].abs().max(), (plain - wave(shift))[inner].abs().max()
    assert err_ours < 0.025 and err_ours < err_plain / 2.5


def test_brightness_adds_one_constant_per_image() -> None:
    x = images(2000, 3, size=4)
    d = only("brightness")(x, gen()) - x
    offset = d.flatten(1)[:, 0]
    assert torch.allclose(d, offset[:, None, None, None].expand_as(d), atol=1e-6)
    assert abs(offset.std().item() - 0.2) < 0.015


def test_contrast_scales_about_mid_grey() -> None:
    x = images(2000, 3, size=4) * 0.5 + 0.6  # away from 0, so the ratio is well defined
    gain = only("contrast")(x, gen()) / x
    c = gain.flatten(1)[:, 0]
    assert torch.allclose(gain, c[:, None, None, None].expand_as(gain), rtol=1e-5)
    assert abs(torch.log2(c).std().item() - 0.5) < 0.03


def test_luma_flip_negates_luma_and_keeps_chroma() -> None:
    x = images(400, 3, size=4)
    out = only("lumaflip")(x, gen())
    luma, chroma = x.mean(1, keepdim=True), x - x.mean(1, keepdim=True)
    assert torch.allclose(out - out.mean(1, keepdim=True), chroma, atol=1e-5)
    flipped = torch.isclose(out.mean(1, keepdim=True), -luma, atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(out.mean(1, keepdim=True), luma, atol=1e-5).flatten(1).all(1)
    assert bool((flipped ^ kept).all()) and abs(flipped.float().mean().item() - 0.5) < 0.1
    grey = images(400, 1, size=4)
    out = only("lumaflip")(grey, gen())
    same = torch.isclose(out, grey, atol=1e-6).flatten(1).all(1)
    negated = torch.isclose(out, -grey, atol=1e-6).flatten(1).all(1)
    assert bool((same ^ negated).all())


def test_hue_rotates_chroma_about_the_grey_axis() -> None:
    x = images(400, 3, size=4)
    out = only("hue")(x, gen())
    assert torch.allclose(out.mean(1), x.mean(1), atol=1e-5)  # luma kept
    chroma_norm = lambda t: (t - t.mean(1, keepdim=True)).norm(dim=1)  # noqa: E731
    assert torch.allclose(chroma_norm(out), chroma_norm(x), atol=1e-5)
    assert (out - x).abs().amax(dim=(1, 2, 3)).median() > 0.1
    # a third of a turn permutes the primaries: red -> green -> blue
    red = torch.tensor([[[[1.0]], [[-1.0]], [[-1.0]]]])
    green = recolor(red, m.hue_rotate3d(torch.tensor([2 * math.pi / 3])))
    assert torch.allclose(green.flatten(), torch.tensor([-1.0, 1.0, -1.0]), atol=1e-6)


def test_saturation_scales_chroma_and_zero_gives_grey() -> None:
    x = images(2000, 3, size=4)
    out = only("saturation")(x, gen())
    assert torch.allclose(out.mean(1), x.mean(1), atol=1e-5)
    chroma_in, chroma_out = (x - x.mean(1, keepdim=True)).flatten(1), (out - out.mean(1, keepdim=True)).flatten(1)
    s = (chroma_in * chroma_out).sum(1) / chroma_in.square().sum(1)  # least-squares gain per image
    assert ((chroma_out - s[:, None] * chroma_in).abs() <= 2e-6 * s.clamp(min=1)[:, None]).all()
    assert abs(torch.log2(s).std().item() - 1.0) < 0.06  # 2^N(0, 1)
    grey = recolor(x[:2], m.saturate3d(torch.zeros(2)))
    assert torch.allclose(grey, x[:2].mean(1, keepdim=True).expand_as(grey), atol=1e-6)


def test_grey_images_get_the_luma_subset() -> None:
    y = images(16, 1)
    assert torch.equal(only("hue", "saturation")(y, gen()), y)  # nothing to rotate or saturate
    cm = only("brightness", "contrast", "lumaflip").sample(16, 1, 16, 16, generator=gen()).color
    assert torch.allclose(recolor(y, cm), recolor(y.expand(16, 3, 16, 16), cm)[:, :1], atol=1e-6)


def test_same_generator_state_same_output_and_other_seeds_differ() -> None:
    x = images(8, 3)
    pipe = only(*NAMES)
    g = gen(7)
    state = g.get_state()
    first = pipe(x, g)
    second = pipe(x, g)  # the generator moved on
    g.set_state(state)
    assert torch.equal(pipe(x, g), first) and not torch.equal(second, first)
    assert not torch.equal(pipe(x, gen(8)), first)


def test_each_transform_is_applied_with_probability_p() -> None:
    for p in (1.0, 0.2):
        applied = only(*NAMES, p=p).sample(4000, 3, 16, 16, generator=gen()).applied
        assert set(applied) == set(NAMES)
        for name, mask in applied.items():
            assert abs(mask.float().mean().item() - p) < 0.03, (name, p)  # binomial sd <= 0.0063


def test_runs_under_bf16_autocast() -> None:
    x = images(4, 3)
    pipe = only(*NAMES)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert pipe(x, gen()).dtype == torch.float32
        out = pipe(x.bfloat16(), gen())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_rejects_other_channel_counts() -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        AugmentPipe()(torch.zeros(2, 4, 8, 8))


def test_ada_update_follows_the_formula() -> None:
    step = 64 * 4 / (500 * 1000)
    assert ada_update(0.5, 0.9, batch=64, interval=4) == pytest.approx(0.5 + step)
    assert ada_update(0.5, 0.1, batch=64, interval=4) == pytest.approx(0.5 - step)
    assert ada_update(0.5, 0.6, batch=64, interval=4) == 0.5
    assert ada_update(0.2, 0.9, batch=32, interval=4, target=0.95, speed_kimg=100) == pytest.approx(0.2 - 128 / 1e5)
    assert ada_update(0.0, -1.0, batch=64, interval=4) == 0.0
    assert ada_update(0.9999, 1.0, batch=64, interval=4) == 1.0
    with pytest.raises(ValueError):
        ada_update(0.5, math.nan, batch=64, interval=4)


def test_parse_augment() -> None:
    assert parse_augment("ada") == ("ada", 0.0)
    assert parse_augment("none") == ("none", 0.0)
    assert parse_augment("fixed:0.3") == ("fixed", 0.3)
    assert parse_augment("fixed:0") == ("fixed", 0.0) and parse_augment("fixed:1") == ("fixed", 1.0)
    for bad in ("", "fixed", "fixed:", "fixed:1.5", "fixed:-0.1", "fixed:nan", "fixed:x", "adaptive", "0.3"):
        with pytest.raises(ArtforgeError) as err:
            parse_augment(bad)
        assert str(err.value) == "--augment: ada, fixed:P (0 <= P <= 1) or none"
