"""``artforge.data.datasets`` on real files built here: idx, CIFAR-10 batches, image folders and zips."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from artforge.core.errors import ArtforgeError
from artforge.data import datasets, folders
from artforge.data.datasets import ImageDataset, open_dataset

FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _one_line_error(match: str) -> Any:
    return pytest.raises(ArtforgeError, match=match)


# ---------------------------------------------------------------- idx


def _write_idx(path: Path, a: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    path.write_bytes(gzip.compress(header + a.astype(np.uint8).tobytes()))


def test_idx_files_written_by_hand_read_back_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8), rng.integers(0, 256, (2, 4, 4), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 9, 3]))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([7, 1]))
    ds = open_dataset(f"mnist:{tmp_path}")
    x, y = ds.tensors()
    assert (ds.name, ds.resolution, ds.channels, ds.num_classes) == ("mnist", 4, 1, 10)
    assert x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.equal(x, torch.from_numpy(train)[:, None]) and y.tolist() == [0, 9, 3]
    assert ds[1][1] == 9 and torch.equal(ds[2][0], torch.from_numpy(train[2])[None])
    xt, yt = open_dataset(f"fashion-mnist:{tmp_path}", split="test").tensors()
    assert torch.equal(xt, torch.from_numpy(test)[:, None]) and yt.tolist() == [7, 1]
    assert len(open_dataset(f"mnist:{tmp_path}", max_images=2)) == 2
    assert open_dataset(f"mnist:{tmp_path}", channels=3)[0][0].shape == (3, 4, 4)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(20)))
    with _one_line_error("not an idx1 ubyte file"):
        open_dataset(f"mnist:{tmp_path}", split="test")


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist() -> None:
    train = open_dataset("fashion-mnist")
    assert (len(train), train.num_classes, train.class_names) == (60000, 10, FASHION_NAMES)
    img, label = train[0]
    assert img.shape == (1, 28, 28) and img.dtype == torch.uint8 and 0 <= label < 10
    assert train.tensors()[1].bincount().tolist() == [6000] * 10  # balanced classes: labels line up
    test = open_dataset("fashion-mnist", split="test")
    assert len(test) == 10000 and test.name == "fashion-mnist"
    big = open_dataset("fashion-mnist", 32, split="test", max_images=500)
    assert big[0][0].shape == (1, 32, 32) and big.resolution == 32
    mean28, mean32 = test.tensors()[0][:500].float().mean(), big.tensors()[0].float().mean()
    assert abs(mean28 - mean32) < 2  # resized, not cropped or padded


# ---------------------------------------------------------------- CIFAR-10


_PurePickler: Any = pickle._Pickler  # the pure-Python pickler, whose opcodes can be patched


class _Py2Pickler(_PurePickler):  # type: ignore[misc]
    """Writes what Python 2's cPickle wrote for the real batches: byte strings and ``numpy.core`` globals."""

    dispatch = dict(_PurePickler.dispatch)

    def save_py2str(self, obj: str | bytes) -> None:
        b = obj if isinstance(obj, bytes) else obj.encode("latin1")
        op = pickle.SHORT_BINSTRING + bytes([len(b)]) if len(b) < 256 else pickle.BINSTRING + struct.pack("<i", len(b))
        self.write(op + b)
        self.memoize(obj)

    dispatch[bytes] = save_py2str
    dispatch[str] = save_py2str

    def save_global(self, obj: Any, name: str | None = None) -> None:
        name = name or obj.__qualname__
        module = "numpy" if name in ("ndarray", "dtype") else "numpy.core.multiarray"
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)


def _cifar_batch(n: int, first_label: int) -> dict[bytes, Any]:
    planes = np.empty((n, 3, 1024), dtype=np.uint8)
    planes[:, 0], planes[:, 1], planes[:, 2] = 10, 20, 30  # R, G, B planes
    planes[:, :, 0] = np.arange(n, dtype=np.uint8)[:, None] + first_label  # a per-image marker at (0, 0)
    planes[:, 1, 5 * 32 + 7] = 200  # green at y=5, x=7
    labels = [(first_label + i) % 10 for i in range(n)]
    return {b"batch_label": b"fake", b"labels": labels, b"data": planes.reshape(n, 3072), b"filenames": [b"x.png"] * n}


def _cifar_dir(root: Path) -> Path:
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    for i in range(1, 6):
        batch = _cifar_batch(2, 2 * (i - 1))
        with open(d / f"data_batch_{i}", "wb") as f:
            if i == 3:
                _Py2Pickler(f, protocol=2).dump(batch)
            else:
                pickle.dump(batch, f, protocol=2 + i % 4)  # protocols 2..5
    (d / "test_batch").write_bytes(pickle.dumps(_cifar_batch(3, 5)))
    names = [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}))
    return d


def _tar(src: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    return dest


def test_cifar_pixel_layout_labels_and_sources(tmp_path: Path) -> None:
    d = _cifar_dir(tmp_path)
    ds = open_dataset(f"cifar10:{d}")
    x, y = ds.tensors()
    assert (len(ds), ds.channels, ds.resolution, ds.name) == (10, 3, 32, "cifar10")
    assert ds.class_names[:2] == ["plane", "car"] and y.tolist() == list(range(10))
    assert x[:, 0, 0, 0].tolist() == list(range(10))  # batch order 1..5, the py2-style batch 3 included
    assert x[4, :, 1, 1].tolist() == [10, 20, 30]  # R, G, B planes -> channels
    assert x[4, 1, 5, 7] == 200 and x[4, 1, 7, 5] == 20  # row-major: [c, y, x]
    for form in (str(tmp_path), str(_tar(d, tmp_path / "c.tar.gz"))):
        again = open_dataset(f"cifar10:{form}").tensors()
        assert torch.equal(again[0], x) and torch.equal(again[1], y)
    test = open_dataset(f"cifar10:{tmp_path / 'c.tar.gz'}", split="test")
    assert len(test) == 3 and test.tensors()[1].tolist() == [5, 6, 7]
    grey = open_dataset(f"cifar10:{d}", channels=1, resolution=16)
    ref = Image.fromarray(x[4].permute(1, 2, 0).numpy()).resize((16, 16), Image.Resampling.BICUBIC).convert("L")
    assert grey[4][0].shape == (1, 16, 16) and torch.equal(grey[4][0][0], torch.from_numpy(np.array(ref)))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_cifar_malicious_pickle_is_refused_not_run(tmp_path: Path) -> None:
    d, marker = _cifar_dir(tmp_path), tmp_path / "pwned"
    (d / "data_batch_2").write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": []}))
    for spec in (f"cifar10:{d}", f"cifar10:{_tar(d, tmp_path / 'evil.tar.gz')}"):
        with _one_line_error(r"data_batch_2: refused to unpickle (posix|os|nt)\.system"):
            open_dataset(spec)
    assert not marker.exists()
    (d / "data_batch_2").write_bytes(b"\x80\x04garbage")
    with _one_line_error("not a readable CIFAR batch"):
        open_dataset(f"cifar10:{d}")


class _Response(io.BytesIO):
    headers: dict[str, str] = {}


def test_cifar_cache_download_and_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ARTFORGE_CACHE", str(cache))

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ArtforgeError) as err:
        open_dataset("cifar10")
    msg = str(err.value)
    assert "\n" not in msg and "offline" in msg and str(cache / "cifar-10-python.tar.gz") in msg
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _Response(b"not the archive"))
    with _one_line_error("sha256 mismatch"):
        open_dataset("cifar10")
    assert list(cache.iterdir()) == []  # no partial download left behind
    _tar(_cifar_dir(tmp_path / "src"), cache / "cifar-10-python.tar.gz")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert len(open_dataset("cifar10", max_images=4)) == 4  # found in the cache, no download
    assert len(open_dataset(f"cifar10:{cache}", split="test")) == 3  # a folder holding the archive


# ---------------------------------------------------------------- folders and zips


def _solid(size: tuple[int, int], rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, rgb)


def _mixed_folder(root: Path) -> Path:
    """Two classes of seven readable images in six formats/modes, plus a corrupt PNG and a text file."""
    (root / "a" / "sub").mkdir(parents=True)
    (root / "b").mkdir()
    ramp = np.tile(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], (32, 1, 3))
    Image.fromarray(ramp).save(root / "a" / "photo.jpg", quality=95)  # left dark, right bright
    _solid((24, 20), (255, 0, 0)).save(root / "a" / "red.png")
    _solid((20, 20), (10, 20, 30)).save(root / "a" / "sub" / "deep.png")
    (root / "a" / "readme.txt").write_text("not an image\n")
    Image.new("RGBA", (24, 24), (0, 0, 0, 0)).save(root / "b" / "alpha.png")
    Image.fromarray(np.full((24, 24), 32768, dtype=np.uint16)).save(root / "b" / "grey16.png")
    pal = Image.new("P", (24, 24), 0)
    pal.putpalette([0, 0, 255] + [0] * 765)
    pal.save(root / "b" / "palette.png")
    halves = np.zeros((20, 40, 3), dtype=np.uint8)
    halves[:, :20, 0], halves[:, 20:, 2] = 255, 255  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display -> top red, bottom blue
    Image.fromarray(halves).save(root / "b" / "rotated.jpg", quality=95, exif=exif.tobytes())
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    (root / "b" / "broken.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return root


def _open_warned(spec: str, **kwargs: Any) -> ImageDataset:
    with pytest.warns(UserWarning) as rec:
        ds = open_dataset(spec, 16, **kwargs)
    skipped = [str(w.message) for w in rec if "unreadable" in str(w.message)]
    assert len(skipped) == 1 and skipped[0].startswith(f"skipped 2 unreadable file(s) in {spec}, e.g. ")
    return ds


def test_folder_formats_labels_skips_and_order(tmp_path: Path) -> None:
    root = _mixed_folder(tmp_path / "my folder")
    ds = _open_warned(str(root), labels=True)
    x, y = ds.tensors()
    assert (len(ds), ds.skipped, ds.name, ds.resolution, ds.channels) == (7, 2, "my-folder", 16, 3)
    assert ds.class_names == ["a", "b"] and y.tolist() == [0, 0, 0, 1, 1, 1, 1]
    # sorted: a/photo.jpg a/red.png a/sub/deep.png b/alpha.png b/grey16.png b/palette.png b/rotated.jpg
    ramp = x[0, 0, 8].int()
    assert ramp[0] < 60 and ramp[-1] > 195 and bool((ramp[1:] >= ramp[:-1] - 3).all())
    solid = {1: (255, 0, 0), 2: (10, 20, 30), 3: (255, 255, 255), 4: (128, 128, 128), 5: (0, 0, 255)}
    for i, rgb in solid.items():
        assert torch.equal(x[i], torch.tensor(rgb, dtype=torch.uint8)[:, None, None].expand(3, 16, 16)), i
    rot = x[6].int()  # EXIF applied: red on top, blue below (unrotated it would be red left, blue right)
    assert rot[0, :6].min() > 200 and rot[2, :6].max() < 60 and rot[2, 10:].min() > 200 and rot[0, 10:].max() < 60
    unlabelled = _open_warned(str(root))
    assert unlabelled.num_classes == 0 and unlabelled.class_names == [] and unlabelled[3][1] == -1
    assert torch.equal(unlabelled.tensors()[0], x)  # same order and pixels on every open
    grey = _open_warned(str(root), channels=1)
    assert grey[1][0].shape == (1, 16, 16) and int(grey[1][0][0, 0, 0]) == 76  # PIL's L of pure red


def test_mirror_and_max_images(tmp_path: Path) -> None:
    root = _mixed_folder(tmp_path / "m")
    plain = _open_warned(str(root))
    ds = _open_warned(str(root), mirror=True, labels=True)
    x, y = ds.tensors()
    n = len(plain)
    assert len(ds) == 2 * n and x.shape == (2 * n, 3, 16, 16) and torch.equal(y[n:], y[:n])
    assert torch.equal(x[:n], plain.tensors()[0]) and torch.equal(x[n:], x[:n].flip(-1))
    assert not torch.equal(x[n], x[0]) and torch.equal(ds[n][0], ds[0][0].flip(-1)) and ds[-1][1] == ds[n - 1][1]
    with pytest.raises(IndexError):
        ds[2 * n]
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable file\(s\) in .*, e.g. a/readme.txt"):
        few = open_dataset(str(root), 16, max_images=3, mirror=True)  # a/photo, [a/readme.txt], a/red, a/sub/deep
    assert len(few) == 6 and few.skipped == 1 and torch.equal(few.tensors()[0][:3], x[:3])


def test_centre_crop_and_large_jpeg_draft(tmp_path: Path) -> None:
    wide = np.zeros((30, 60, 3), dtype=np.uint8)
    wide[:, :15, 2], wide[:, 15:45, 0], wide[:, 45:, 2] = 255, 255, 255  # blue | red square | blue
    Image.fromarray(wide).save(tmp_path / "a_wide.png")
    Image.fromarray(wide.transpose(1, 0, 2).copy()).save(tmp_path / "b_tall.png")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)  # must not recurse forever
    x = open_dataset(str(tmp_path), 16).tensors()[0]
    assert len(x) == 2
    red = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None, None].expand(3, 16, 16)
    assert torch.equal(x[0], red) and torch.equal(x[1], red)
    big = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(big).resize((640, 480), Image.Resampling.BICUBIC).save(tmp_path / "c_big.jpg", quality=90)
    with Image.open(tmp_path / "c_big.jpg") as im:
        full = im.convert("RGB").crop((80, 0, 560, 480)).resize((16, 16), Image.Resampling.LANCZOS)
    got = open_dataset(str(tmp_path), 16).tensors()[0][2].permute(1, 2, 0).int()
    assert (got - torch.from_numpy(np.array(full)).int()).abs().float().mean() < 4  # draft decode ~ full decode


def test_zip_equals_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _mixed_folder(tmp_path / "pics")
    ref = _open_warned(str(root), labels=True)
    for wrap in ("", "pics/"):  # members at the top, or all inside one folder
        z = tmp_path / f"pics{len(wrap)}.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for p in sorted(root.rglob("*"), reverse=True):  # stored out of order on purpose
                zf.write(p, wrap + p.relative_to(root).as_posix())
        monkeypatch.setattr(folders, "PROGRESS_OVER", 1)
        ds = _open_warned(str(z), labels=True)
        assert "decoding" in capsys.readouterr().err  # progress bar above PROGRESS_OVER files
        assert (ds.name, ds.skipped, ds.class_names) == (f"pics{len(wrap)}", 2, ref.class_names)
        assert torch.equal(ds.tensors()[0], ref.tensors()[0]) and torch.equal(ds.tensors()[1], ref.tensors()[1])


# ---------------------------------------------------------------- user errors


def test_user_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    (tmp_path / "flat").mkdir()
    _solid((20, 20), (1, 2, 3)).save(tmp_path / "flat" / "img.png")
    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.setattr(datasets, "DATA_ROOT", tmp_path / "nothing")
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    cases = {
        str(tmp_path / "missing"): "no such file or folder; accepted: fashion-mnist",
        "imagenet": "unknown dataset",
        "mnist": "mnist: no idx files in .* or pass mnist:DIR",
        f"cifar10:{tmp_path / 'nope.tar.gz'}": "does not exist",
        f"cifar10:{tmp_path / 'flat'}": "no data_batch_1",
        str(tmp_path / "empty"): "holds no files",
        str(tmp_path / "junk"): r"no readable image among 1 file\(s\), e.g. a.txt",
        str(tmp_path / "notes.txt"): "not a folder or a .zip of images",
    }
    for spec, match in cases.items():
        with pytest.raises(ArtforgeError, match=match) as err:
            open_dataset(spec)
        assert "\n" not in str(err.value)
    flat = str(tmp_path / "flat")
    with _one_line_error("img.png is at the top level; move the images into one subfolder per class"):
        open_dataset(flat, labels=True)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"split": "val"}, "split must be"),
        ({"channels": 2}, "channels must be 1"),
        ({"resolution": 0}, "resolution must be"),
        ({"max_images": 0}, "max images"),
    ]
    for kwargs, match in bad:
        with _one_line_error(match):
            open_dataset(flat, **kwargs)
    assert len(open_dataset(flat, split="test")) == 1  # folders have one split: ignored
    monkeypatch.setattr(datasets, "MAX_DECODED_BYTES", 1000)
    with _one_line_error("use --max-images or a lower --resolution"):
        open_dataset(flat, 32)
