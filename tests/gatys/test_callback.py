"""The per-iteration callback of the Gatys loop: counts, losses against a recomputation, the image, stopping."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from artforge.gatys.config import StylizeConfig
from artforge.gatys.progress import Progress, StopRequested
from artforge.gatys.pyramid import Interrupted, build_level, schedule, stylize_tensor, upsample_with_detail

CFG = StylizeConfig(size=64, iterations=3, min_scale=32)  # two levels: 32 px x 6 iterations, 64 px x 3


def _images(photo_dir: Path) -> tuple[Image.Image, Image.Image]:
    return Image.open(photo_dir / "content.png"), Image.open(photo_dir / "style.jpg")


def _record(
    enc: torch.nn.Module, photo_dir: Path, cfg: StylizeConfig = CFG
) -> tuple[list[Progress], list[torch.Tensor], torch.Tensor]:
    """Every event, the image each one handed over, and the result."""
    c, s = _images(photo_dir)
    events: list[Progress] = []
    seen: list[torch.Tensor] = []

    def callback(p: Progress) -> None:
        events.append(p)
        seen.append(p.image())

    out = stylize_tensor(enc, c, [s], cfg, callback=callback, progress=False)  # type: ignore[arg-type]
    return events, seen, out


def test_called_once_per_iteration_per_level(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    levels = schedule(CFG.size, CFG.iterations, CFG.scales, CFG.min_scale)
    assert [lv.iterations for lv in levels] == [6, 3]
    events, seen, out = _record(tiny_vgg, photo_dir)
    total = sum(lv.iterations for lv in levels)
    assert [p.step for p in events] == list(range(1, total + 1))
    assert all(p.total == total and p.levels == 2 and (p.tile, p.tiles) == (0, 1) for p in events)
    expected = [(k, i, lv.iterations) for k, lv in enumerate(levels) for i in range(1, lv.iterations + 1)]
    assert [(p.level, p.iteration, p.iterations) for p in events] == expected
    for p, img in zip(events, seen, strict=True):
        assert max(p.size) == levels[p.level].long_side and tuple(img.shape[-2:]) == p.size
        assert set(p.losses) == {"content", "style", "tv", "total"}
    # the last event's image is the result; every step moved the image
    assert torch.equal(seen[-1], out)
    assert all(not torch.equal(a, b) for a, b in zip(seen[:5], seen[1:6], strict=True))


def test_losses_are_the_objective_of_the_iterate_the_step_started_from(
    tiny_vgg: torch.nn.Module, photo_dir: Path
) -> None:
    events, seen, _ = _record(tiny_vgg, photo_dir)
    c, s = _images(photo_dir)
    levels = schedule(CFG.size, CFG.iterations, CFG.scales, CFG.min_scale)
    problems = [build_level(tiny_vgg, c, [s], CFG, lv.long_side) for lv in levels]  # type: ignore[arg-type]
    for j, p in enumerate(events):
        problem = problems[p.level]
        if p.iteration > 1:
            start = seen[j - 1]
        elif p.level == 0:
            start = problem.content  # init="content"
        else:
            start = upsample_with_detail(seen[j - 1], problems[p.level - 1].content, problem.content)
        with torch.no_grad():
            total, parts = problem.loss()(start)
        reference = {**{k: float(v) for k, v in parts.items()}, "total": float(total)}
        assert p.losses == pytest.approx(reference, rel=1e-5, abs=1e-8), (p.level, p.iteration)


@pytest.mark.parametrize("how", ["return", "raise"])
def test_a_stop_ends_the_run_with_the_image_the_callback_saw(
    tiny_vgg: torch.nn.Module, photo_dir: Path, how: str
) -> None:
    c, s = _images(photo_dir)
    seen: list[torch.Tensor] = []

    def stop_at_8(p: Progress) -> bool:  # level 1, iteration 2
        seen.append(p.image())
        if p.step == 8 and how == "raise":
            raise StopRequested
        return p.step == 8

    with pytest.raises(Interrupted) as info:
        stylize_tensor(tiny_vgg, c, [s], CFG, callback=stop_at_8, progress=False)  # type: ignore[arg-type]
    assert len(seen) == 8
    assert torch.equal(info.value.partial, seen[-1])
    _, full, _ = _record(tiny_vgg, photo_dir)
    assert torch.equal(info.value.partial, full[7])  # what an uninterrupted run had at that step


def test_a_noop_callback_changes_nothing(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    c, s = _images(photo_dir)
    cfg = StylizeConfig.from_dict({**CFG.to_dict(), "init": "noise", "seed": 5})
    plain = stylize_tensor(tiny_vgg, c, [s], cfg, progress=False)  # type: ignore[arg-type]
    quiet = stylize_tensor(tiny_vgg, c, [s], cfg, callback=lambda p: None, progress=False)  # type: ignore[arg-type]
    looking = stylize_tensor(tiny_vgg, c, [s], cfg, callback=lambda p: bool(p.image().sum() < 0))  # type: ignore[arg-type]
    assert torch.equal(plain, quiet) and torch.equal(plain, looking)


def test_tiles_are_counted_within_their_level(tiny_vgg: torch.nn.Module, photo_dir: Path) -> None:
    cfg = StylizeConfig(size=48, iterations=2, scales=1, tile_size=32, tile_overlap=8)
    events, seen, out = _record(tiny_vgg, photo_dir, cfg)
    tiles = events[0].tiles
    assert tiles > 1
    assert [(p.tile, p.iteration) for p in events] == [(t, 2 * t + i) for t in range(tiles) for i in (1, 2)]
    assert all(
        p.iterations == 2 * tiles and tuple(img.shape[-2:]) == p.size for p, img in zip(events, seen, strict=True)
    )
    assert not torch.equal(seen[-1], out)  # the canvas before the last tile is pasted


def test_api_callback_stops_and_keeps_the_image_so_far(cache_env: Path, photo_dir: Path, tmp_path: Path) -> None:
    from artforge import api

    steps: list[int] = []

    def stop_at_2(p: Progress) -> bool:
        steps.append(p.step)
        return p.step == 2

    out = tmp_path / "out.png"
    cfg = StylizeConfig(size=32, iterations=4)
    with pytest.raises(api.ArtforgeError, match="interrupted"):
        api.stylize_to_file(
            photo_dir / "content.png", [photo_dir / "style.jpg"], out, cfg, progress=False, save_every=1,
            callback=stop_at_2,
        )  # fmt: skip
    assert steps == [1, 2]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.00001.png", "out.00002.png", "out.interrupted.png"]
