"""Datasets for image generation: idx (MNIST/Fashion-MNIST), CIFAR-10 python batches, image folders and zips.

Everything is decoded once, at open time, into one uint8 tensor ``[N, C, R, R]``, so an epoch is an index into
memory and a resumed run sees exactly the same items. ``open_dataset`` accepts these specs:

* ``fashion-mnist`` / ``mnist``: idx files from ``/usr/share/datasets/<name>/`` (Debian ``dataset-fashion-mnist``),
  ``<cache>/datasets/<name>/`` (``artforge data fetch <name>``) or ``<cache>/<name>/``; ``fashion-mnist:/dir`` or
  ``mnist:/dir`` reads the same four idx files from ``/dir``.
* ``cifar10``: ``cifar-10-python.tar.gz`` in ``<cache>/datasets/cifar10/`` or ``<cache>/``, downloaded once
  (sha256-checked) when absent;
  ``cifar10:/path/to/cifar-10-python.tar.gz`` or ``cifar10:/path/to/cifar-10-batches-py`` reads a local copy.
* a folder (recursive) or a ``.zip`` of images in any format PIL reads. They have no test split: ``split`` is
  ignored. ``labels=True`` makes the first-level subfolders the classes. idx and CIFAR always carry their labels.
"""

from __future__ import annotations

import operator
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from artforge.core.download import cache_dir
from artforge.core.errors import ArtforgeError
from artforge.data import catalog, cifar, folders, idx
from artforge.data.catalog import DATA_ROOT

IDX_NAMES = ("fashion-mnist", "mnist")
DEFAULT_RESOLUTION = 64  # folders and zips when no resolution is given
MAX_DECODED_BYTES = 2 << 30  # refuse to decode more than this into memory
FORMS = (
    "accepted: fashion-mnist, mnist, fashion-mnist:DIR or mnist:DIR (idx files), cifar10, "
    "cifar10:PATH (cifar-10-python.tar.gz or cifar-10-batches-py/), a folder of images, or a .zip of images"
)


class ImageDataset(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """Square uint8 images ``[C, R, R]`` with integer labels (-1 when unlabelled), all held in memory.

    With ``mirror=True`` the dataset has ``2n`` items: ``n + i`` is item ``i`` flipped left-right.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        name: str,
        class_names: list[str] | None = None,
        mirror: bool = False,
        skipped: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be uint8 [N, C, R, R], got {images.dtype} {list(images.shape)}")
        if images.shape[1] not in (1, 3) or labels.shape != (images.shape[0],):
            raise ValueError(f"need 1 or 3 channels and one label per image, got {list(images.shape)}")
        self._images = images.contiguous()  # [N, C, R, R]
        self._labels = labels.to(torch.int64)  # [N]
        self.resolution = int(images.shape[2])
        self.channels = int(images.shape[1])
        self.class_names = list(class_names or [])
        self.num_classes = len(self.class_names)
        self.name = name
        self.mirror = mirror
        self.skipped = skipped

    def __len__(self) -> int:
        return self._images.shape[0] * (2 if self.mirror else 1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        i = operator.index(i)
        size = len(self)
        if not -size <= i < size:
            raise IndexError(f"index {i} out of range for {size} images")
        i %= size
        n = self._images.shape[0]
        img = self._images[i - n].flip(-1) if i >= n else self._images[i].clone()
        return img, int(self._labels[i % n])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All items: images uint8 ``[len, C, R, R]`` and labels int64 ``[len]`` (shared storage unless mirrored)."""
        if not self.mirror:
            return self._images, self._labels
        return torch.cat([self._images, self._images.flip(-1)]), torch.cat([self._labels, self._labels])

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, {len(self)} x {self.channels}x{self.resolution}x{self.resolution}, "
            f"{self.num_classes} classes, mirror={self.mirror}, skipped={self.skipped})"
        )


HELD_OUT = ("fashion-mnist", "mnist", "cifar10")  # the data sets with a test split


def held_out_split(spec: str) -> str:
    """The split to evaluate on: ``test`` for the data sets that have one (also as ``NAME:PATH``), else ``train``."""
    return "test" if spec.split(":")[0] in HELD_OUT else "train"


def open_dataset(
    spec: str,
    resolution: int | None = None,
    *,
    mirror: bool = False,
    labels: bool = False,
    split: str = "train",
    channels: int | None = None,
    max_images: int | None = None,
) -> ImageDataset:
    """Open ``spec`` (see the module docstring) as an :class:`ImageDataset` decoded into memory.

    ``resolution``: None is native for idx (28) and CIFAR (32) and 64 for folders; ``channels``: None is native
    (idx 1, otherwise 3); ``max_images`` keeps the first N in sorted/file order, before mirroring.
    """
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        raise ArtforgeError(f"resolution must be a positive number of pixels, got {resolution!r}")
    if split not in ("train", "test"):
        raise ArtforgeError(f"split must be 'train' or 'test', got {split!r}")
    if channels not in (None, 1, 3):
        raise ArtforgeError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if max_images is not None and max_images < 1:
        raise ArtforgeError(f"max images must be at least 1, got {max_images}")
    spec = str(spec)  # a pathlib.Path works too
    kind, _, rest = spec.partition(":")
    if spec in IDX_NAMES or (kind in IDX_NAMES and rest):
        root = Path(rest).expanduser() if rest else _idx_root(spec)
        if not root.is_dir():
            raise ArtforgeError(f"{spec}: {root} is not a folder; {FORMS}")
        x, y = idx.read_split(root, split, len(idx.CLASS_NAMES[kind]))
        return _from_arrays(x[:, None], y, idx.CLASS_NAMES[kind], kind, resolution, mirror, channels, max_images)
    if spec == "cifar10" or (kind == "cifar10" and rest):
        path = Path(rest).expanduser() if rest else cifar.default_path()
        if not path.exists():
            raise ArtforgeError(f"{spec}: {path} does not exist; {FORMS}")
        x, y, names = cifar.read(path, split)
        return _from_arrays(x, y, names, "cifar10", resolution, mirror, channels, max_images)
    return _from_files(spec, resolution or DEFAULT_RESOLUTION, mirror, labels, channels, max_images)


def _idx_root(name: str) -> Path:
    for root in (DATA_ROOT / name, catalog.cache_path(name), cache_dir() / name):
        if root.is_dir():
            return root
    raise ArtforgeError(
        f"{name}: no idx files in {DATA_ROOT / name} or {catalog.cache_path(name)}; run `artforge data fetch {name}`, "
        f"or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
        f"t10k-labels-idx1-ubyte.gz in one of them, or pass {name}:DIR"
    )


def _check_size(n: int, c: int, r: int, mirror: bool, what: str) -> None:
    total = n * c * r * r * (2 if mirror else 1)
    if total > MAX_DECODED_BYTES:
        raise ArtforgeError(
            f"{what}: {n} images at {r}x{r}x{c}{' (x2 mirrored)' if mirror else ''} need {total / 2**30:.1f} GiB "
            f"in memory (limit {MAX_DECODED_BYTES / 2**30:.0f} GiB); use --max-images or a lower --resolution"
        )


def _from_arrays(
    x: np.ndarray,  # [N, C, H, H] uint8
    y: np.ndarray,  # [N] int64
    class_names: list[str],
    name: str,
    resolution: int | None,
    mirror: bool,
    channels: int | None,
    max_images: int | None,
) -> ImageDataset:
    if max_images is not None:
        x, y = x[:max_images], y[:max_images]
    r = resolution or x.shape[2]
    _check_size(len(x), max(x.shape[1], channels or 1), r, mirror, name)
    if r != x.shape[2]:
        x = _resize_square(x, r, name)
    x = _convert_channels(x, channels)
    return ImageDataset(
        _tensor(x), torch.from_numpy(y.copy()), name=name,
        class_names=class_names, mirror=mirror,
    )  # fmt: skip


def _from_files(
    spec: str, r: int, mirror: bool, labels: bool, channels: int | None, max_images: int | None
) -> ImageDataset:
    path = Path(spec).expanduser()
    if not path.exists():
        known = ", ".join((*IDX_NAMES, "cifar10"))
        what = "no such file or folder" if ("/" in spec or "." in spec) else f"unknown dataset (known: {known})"
        raise ArtforgeError(f"{spec}: {what}; {FORMS}")
    if path.is_dir():
        files = folders.list_folder(path)
        return _decode_files(spec, _run_name(path.resolve().name), files, r, mirror, labels, channels, max_images)
    if not zipfile.is_zipfile(path):
        raise ArtforgeError(f"{spec}: not a folder or a .zip of images; {FORMS}")
    try:
        with zipfile.ZipFile(path) as zf:
            files = folders.list_zip(zf)
            return _decode_files(spec, _run_name(path.stem), files, r, mirror, labels, channels, max_images)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArtforgeError(f"{spec}: not a readable .zip ({e})") from None


def _decode_files(
    spec: str,
    name: str,
    files: dict[str, folders.Opener],
    r: int,
    mirror: bool,
    labels: bool,
    channels: int | None,
    max_images: int | None,
) -> ImageDataset:
    if not files:
        raise ArtforgeError(f"{spec}: holds no files; point to a folder or .zip of images")
    _check_size(min(len(files), max_images or len(files)), 3, r, mirror, spec)
    dec = folders.decode_all(files, r, labels, max_images, spec)
    if len(dec.images) == 0:
        raise ArtforgeError(
            f"{spec}: no readable image among {len(dec.skipped)} file(s), e.g. {dec.skipped[0]}; "
            "use PNG, JPEG or another format PIL reads"
        )
    if dec.skipped:
        warnings.warn(f"skipped {len(dec.skipped)} unreadable file(s) in {spec}, e.g. {dec.skipped[0]}", stacklevel=4)
    x = _convert_channels(dec.images.transpose(0, 3, 1, 2), channels)  # [N, C, R, R]
    return ImageDataset(
        _tensor(x), torch.from_numpy(dec.labels.copy()), name=name,
        class_names=dec.class_names, mirror=mirror, skipped=len(dec.skipped),
    )  # fmt: skip


def _tensor(a: np.ndarray) -> torch.Tensor:
    a = np.ascontiguousarray(a)
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _run_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "dataset"


def _resize_square(x: np.ndarray, r: int, what: str) -> np.ndarray:
    """``[N, C, H, H]`` -> ``[N, C, r, r]`` with PIL bicubic (antialiased when shrinking)."""
    out = np.empty((len(x), x.shape[1], r, r), dtype=np.uint8)
    for i in tqdm(range(len(x)), desc=f"resizing {what}", unit="img", disable=len(x) <= folders.PROGRESS_OVER):
        img = Image.fromarray(x[i, 0] if x.shape[1] == 1 else x[i].transpose(1, 2, 0))
        a = np.asarray(img.resize((r, r), Image.Resampling.BICUBIC))
        out[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return out


def _convert_channels(x: np.ndarray, channels: int | None) -> np.ndarray:
    """``[N, C, R, R]`` to ``channels``: grey is repeated to RGB; RGB -> L uses PIL's ITU-R 601-2 luma."""
    if channels is None or channels == x.shape[1]:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=1)
    out = np.empty((len(x), 1, *x.shape[2:]), dtype=np.uint8)
    for s in range(0, len(x), 4096):  # int32 temporaries, chunked
        c = x[s : s + 4096].astype(np.int32)
        out[s : s + 4096, 0] = (c[:, 0] * 19595 + c[:, 1] * 38470 + c[:, 2] * 7471 + 0x8000) >> 16
    return out
