"""The Gatys engine: schedule, determinism, masks, colour preservation, tiling, interruption."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from artforge.data import color, tiling
from artforge.data.images import to_tensor
from artforge.gatys.config import StylizeConfig
from artforge.gatys.optimize import LossFn, optimize
from artforge.gatys.pyramid import Interrupted, Level, schedule, stylize_tensor, upsample_with_detail
from conftest import solid, stripes


def test_schedule_doubles_iterations_at_each_coarser_level() -> None:
    assert schedule(512, 50, None, 128) == [Level(128, 200), Level(256, 100), Level(512, 50)]
    assert schedule(512, 50, 1, 128) == [Level(512, 50)]
    assert schedule(100, 10, None, 128) == [Level(100, 10)]
    # Cost ~ pixels x iterations: the whole pyramid costs less than twice the final level.
    levels = schedule(4096, 10, None, 128)
    cost = sum(lv.long_side**2 * lv.iterations for lv in levels)
    assert levels[0].long_side == 128 and cost < 2 * 4096**2 * 10


def test_hand_off_keeps_the_photos_detail_and_carries_only_large_scale_change() -> None:
    g = torch.Generator().manual_seed(0)
    c_fine = 0.25 + 0.5 * torch.rand(1, 3, 16, 20, generator=g)  # detailed photo, room to move
    c_coarse = torch.nn.functional.interpolate(c_fine, size=(8, 10), mode="area")
    # Nothing stylised yet: the finer level starts from the full-detail photo, not a blurred one.
    assert torch.allclose(upsample_with_detail(c_coarse, c_coarse, c_fine), c_fine, atol=1e-6)
    # A large-scale change (here a uniform shift) arrives unchanged on top of the photo.
    assert torch.allclose(upsample_with_detail(c_coarse + 0.1, c_coarse, c_fine), c_fine + 0.1, atol=1e-6)
    # Texture at the coarse level's Nyquist limit (a one-pixel checkerboard) does not carry over.
    yy, xx = torch.meshgrid(torch.arange(8), torch.arange(10), indexing="ij")
    checker = 0.1 * (1 - 2 * ((yy + xx) % 2)).float().expand(1, 3, 8, 10)
    assert torch.allclose(upsample_with_detail(c_coarse + checker, c_coarse, c_fine), c_fine, atol=1e-6)
    # Still an image.
    out = upsample_with_detail(torch.ones(1, 3, 8, 10), torch.zeros(1, 3, 8, 10), c_fine)
    assert torch.equal(out, torch.ones_like(out))


def test_optimize_keeps_the_iterate_in_the_image_range() -> None:
    def pull_to(v: float) -> LossFn:
        return lambda x: ((x - v).square().mean(), {})

    seen: list[float] = []
    x0 = torch.full((1, 3, 4, 4), 0.5)
    x = optimize(pull_to(2.0), x0, 5, on_step=lambda _p, xi: seen.append(float(xi.detach().max())))
    assert torch.equal(x, torch.ones_like(x)) and max(seen) <= 1.0  # projected at every step
    assert float(optimize(pull_to(2.0), x0, 5, bounds=None).min()) > 1.5  # free: it leaves [0, 1]
    assert torch.allclose(optimize(pull_to(0.3), x0, 5), torch.full_like(x0, 0.3), atol=1e-4)  # inside: untouched


def _run(enc: torch.nn.Module, content: Image.Image, styles: list[Image.Image], **kw: object) -> torch.Tensor:
    cfg = StylizeConfig.from_dict({**StylizeConfig(size=48, iterations=5, min_scale=32).to_dict(), **kw})
    return stylize_tensor(enc, content, styles, cfg, progress=False)  # type: ignore[arg-type]


def test_deterministic_for_a_seed(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    c, s = Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")
    a = _run(tiny_vgg, c, [s], init="noise", seed=3)
    b = _run(tiny_vgg, c, [s], init="noise", seed=3)
    d = _run(tiny_vgg, c, [s], init="noise", seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, d)


def test_optimisation_lowers_the_objective(vgg: torch.nn.Module, photo_dir: Path) -> None:
    from artforge.objectives.perceptual import GatysLoss, gram_targets

    c = to_tensor(Image.open(photo_dir / "content.png").resize((96, 72)))
    s = to_tensor(Image.open(photo_dir / "style.jpg").resize((96, 72)))
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    with torch.no_grad():
        targets = vgg(c, ["relu4_2"])
    loss = GatysLoss(vgg, targets, [(gram_targets(vgg, s, layers), None, 1.0)], dict.fromkeys(layers, 1.0), 1, 1, 0)  # type: ignore[arg-type]
    from artforge.gatys.optimize import optimize

    before, parts_before = loss(c)
    x = optimize(loss, c, 30)
    after, parts_after = loss(x)
    assert float(after) < 0.8 * float(before)
    assert float(parts_after["style"]) < 0.7 * float(parts_before["style"])  # moved toward the style


def test_bf16_runs_vgg_in_bf16_after_exact_first_evaluations_and_the_losses_in_fp32(
    vgg: torch.nn.Module, photo_dir: Path
) -> None:
    """--precision bf16: optimize's first evaluations (L-BFGS's first curvature pair) run in fp32, the
    rest with the VGG under bf16 autocast; every loss term stays fp32, and 30 L-BFGS iterations land
    where fp32's do (judged by the same fp32 objective)."""
    from artforge.gatys.optimize import FP32_EVALUATIONS
    from artforge.gatys.pyramid import build_level

    content, style = Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")
    problem = build_level(vgg, content, [style], StylizeConfig(), 96)  # type: ignore[arg-type]
    loss, c = problem.loss(), problem.content
    seen: list[torch.dtype] = []
    part_dtypes: set[torch.dtype] = set()
    hook = vgg.register_forward_hook(lambda _m, _i, out: seen.append(next(iter(out.values())).dtype))
    try:
        x_bf16 = optimize(loss, c, 30, on_step=lambda p, _x: part_dtypes.update(v.dtype for v in p.values()), bf16=True)
    finally:
        hook.remove()
    assert seen == [torch.float32] * FP32_EVALUATIONS + [torch.bfloat16] * (30 - FP32_EVALUATIONS)
    assert part_dtypes == {torch.float32}
    final_bf16, final_fp32 = (float(loss(x)[0]) for x in (x_bf16, optimize(loss, c, 30)))
    assert final_bf16 < 0.8 * float(loss(c)[0])  # it optimised
    assert abs(final_bf16 - final_fp32) < 0.03 * final_fp32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # under a caller's autocast: fp32 terms, near fp32's
        total, parts = loss(c)
    assert total.dtype == torch.float32 and {v.dtype for v in parts.values()} == {torch.float32}
    assert abs(float(total) - float(loss(c)[0])) < 0.02 * float(loss(c)[0])


def test_masks_give_each_region_its_own_style(vgg: torch.nn.Module, tmp_path: Path) -> None:
    red = stripes((230, 30, 30), (150, 0, 0))
    blue = stripes((30, 30, 230), (0, 0, 150))
    content = solid((128, 128, 128), (64, 32))
    left = Image.new("L", (64, 32), 0)
    left.paste(255, (0, 0, 32, 32))
    right = Image.eval(left, lambda v: 255 - v)
    cfg = StylizeConfig(size=64, iterations=30, scales=1, content_weight=0.01, tv_weight=0, init="noise")
    x = stylize_tensor(vgg, content, [red, blue], cfg, masks=[left, right], progress=False)  # type: ignore[arg-type]
    l_rgb = x[0, :, :, :28].mean((1, 2))
    r_rgb = x[0, :, :, 36:].mean((1, 2))
    assert l_rgb[0] > l_rgb[2] + 0.1, f"left region should turn red, got {l_rgb.tolist()}"
    assert r_rgb[2] > r_rgb[0] + 0.1, f"right region should turn blue, got {r_rgb.tolist()}"


def test_style_blend_moves_between_styles(vgg: torch.nn.Module) -> None:
    red, blue = stripes((230, 30, 30), (150, 0, 0)), stripes((30, 30, 230), (0, 0, 150))
    content = solid((128, 128, 128))
    kw = dict(scales=1, iterations=20, content_weight=0.01, tv_weight=0, init="noise")
    mostly_red = _run(vgg, content, [red, blue], style_blend=[0.9, 0.1], **kw)
    mostly_blue = _run(vgg, content, [red, blue], style_blend=[0.1, 0.9], **kw)
    red_minus_blue = lambda x: float(x[0, 0].mean() - x[0, 2].mean())  # noqa: E731
    assert red_minus_blue(mostly_red) > red_minus_blue(mostly_blue) + 0.1


def test_luminance_mode_keeps_content_chroma_exactly(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    c, s = Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")
    y = _run(tiny_vgg, c, [s], preserve_color="luminance")
    assert y.shape[1] == 1
    content = to_tensor(c.resize((y.shape[-1], y.shape[-2]), Image.Resampling.LANCZOS))
    out = color.combine_luminance(y, content)
    iq_out, iq_in = color.rgb_to_yiq(out)[:, 1:], color.rgb_to_yiq(content)[:, 1:]
    unclipped = ((out > 0.01) & (out < 0.99)).all(1, keepdim=True).expand_as(iq_out)
    assert torch.allclose(iq_out[unclipped], iq_in[unclipped], atol=2e-3)
    assert not torch.allclose(color.luminance(out), color.luminance(content), atol=1e-2)  # it did stylise


def test_histogram_mode_moves_chroma_toward_content(vgg: torch.nn.Module) -> None:
    content = stripes((40, 160, 60), (20, 120, 40))  # green
    style = stripes((230, 40, 200), (120, 10, 90))  # magenta
    kw = dict(size=48, scales=1, iterations=20, content_weight=0.05, min_scale=32)
    plain = _run(vgg, content, [style], **kw)
    kept = _run(vgg, content, [style], preserve_color="histogram", **kw)
    c = to_tensor(content.resize((48, 48)))
    chroma = lambda x: color.rgb_to_yiq(x)[:, 1:].mean((2, 3))  # noqa: E731
    assert float((chroma(kept) - chroma(c)).norm()) < 0.5 * float((chroma(plain) - chroma(c)).norm())


def test_tiled_result_has_no_seams(vgg: torch.nn.Module, photo_dir: Path) -> None:
    c, s = Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")
    cfg = StylizeConfig(size=200, iterations=4, scales=1, tile_size=128, tile_overlap=48)
    x = stylize_tensor(vgg, c, [s], cfg, progress=False)  # type: ignore[arg-type]
    h, w = x.shape[-2:]
    wins = tiling.windows(h, w, 128, 48)
    assert len(wins) > 1
    col_diff = (x[..., 1:] - x[..., :-1]).abs().mean((0, 1, 2))  # [W-1] mean jump between columns
    typical = float(col_diff.median())
    for x0 in {win[2] for win in wins if win[2] > 0}:
        for edge in (x0, x0 + 47):  # where the cross-fade starts and ends
            assert float(col_diff[edge - 1]) < 2.0 * typical, f"seam at column {edge}"


def test_interrupt_returns_the_image_so_far(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    c, s = Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")
    cfg = StylizeConfig(size=48, iterations=10, min_scale=32)

    seen: dict[int, torch.Tensor] = {}

    def stop(i: int, x: torch.Tensor) -> None:
        seen[i] = x.clone()  # the optimiser updates its iterate in place
        if i == 3:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        stylize_tensor(tiny_vgg, c, [s], cfg, callback=lambda p: stop(p.step, p.image()), progress=False)  # type: ignore[arg-type]
    partial = info.value.partial
    assert partial.shape[1] == 3 and partial.shape[-1] > 0
    assert sorted(seen) == [1, 2, 3]
    # the image so far: exactly the third iterate, which an uninterrupted run also passes through
    assert torch.equal(partial, seen[3].clamp(0, 1))
    full: dict[int, torch.Tensor] = {}

    def record(i: int, x: torch.Tensor) -> None:
        full[i] = x.clone()

    stylize_tensor(tiny_vgg, c, [s], cfg, callback=lambda p: record(p.step, p.image()), progress=False)  # type: ignore[arg-type]
    assert sorted(full) == list(range(1, 11))
    assert torch.equal(partial, full[3].clamp(0, 1))
    assert not torch.equal(partial, full[10].clamp(0, 1))  # not the finished image
    # and it had moved away from the photo it started from (init="content")
    start = to_tensor(c.resize((partial.shape[-1], partial.shape[-2]), Image.Resampling.LANCZOS))
    assert start.shape == partial.shape
    assert float((partial - start).abs().max()) > 1e-3
