"""Tiling: windows cover the image with overlap; pasting cross-fades only over the overlap."""

from __future__ import annotations

import torch

from artforge.data import tiling


def test_tile_windows_cover_the_image_with_overlap() -> None:
    wins = tiling.windows(300, 200, 128, 32)
    cover = torch.zeros(300, 200)
    for y0, y1, x0, x1 in wins:
        assert y1 - y0 <= 128 and x1 - x0 <= 128
        cover[y0:y1, x0:x1] += 1
    assert cover.min() >= 1
    assert tiling.windows(100, 100, 128, 32) == [(0, 100, 0, 100)]


def test_paste_cross_fades_only_over_the_overlap() -> None:
    canvas = torch.zeros(1, 1, 8, 16)
    tiling.paste(canvas, torch.ones(1, 1, 8, 10), (0, 8, 6, 16), overlap=4)
    row = canvas[0, 0, 0]
    assert torch.all(row[:6] == 0)
    assert torch.allclose(row[6:10], torch.tensor([0.2, 0.4, 0.6, 0.8]))
    assert torch.all(row[10:] == 1)
