"""MNIST-style idx files (LeCun et al. 1998, http://yann.lecun.com/exdb/mnist/ "FILE FORMATS"): magic, dims, bytes.

A file is a big-endian header ``00 00 <type> <ndim>`` then ``ndim`` uint32 sizes then the data; artforge reads
type 0x08 (unsigned byte) only, optionally gzip-compressed. Fashion-MNIST (Xiao et al. 2017) uses the same files.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from artforge.core.errors import ArtforgeError

UBYTE = 0x08
SPLIT_PREFIX = {"train": "train", "test": "t10k"}
CLASS_NAMES: dict[str, list[str]] = {
    "fashion-mnist": [
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
    ],
    "mnist": [str(d) for d in range(10)],
}


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array stored in an idx file (``.gz`` or plain) with ``ndim`` dimensions."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise ArtforgeError(f"{path}: cannot read ({e}); re-download the idx file") from None
    if len(raw) < 4 + 4 * ndim:
        raise ArtforgeError(f"{path}: too short for an idx file; re-download it")
    zero, kind, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != UBYTE or dims != ndim:
        raise ArtforgeError(f"{path}: not an idx{ndim} ubyte file (magic {raw[:4].hex()}, expected 000008{ndim:02x})")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    count = int(np.prod(shape, dtype=np.int64))
    body = raw[4 + 4 * ndim :]
    if len(body) != count:
        raise ArtforgeError(f"{path}: header says {count} bytes of data, file has {len(body)}; re-download it")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def find_file(root: Path, split: str, what: str) -> Path | None:
    """``train-images-idx3-ubyte.gz`` and its plain / dotted (``train-images.idx3-ubyte``) variants."""
    prefix, n = SPLIT_PREFIX[split], 3 if what == "images" else 1
    for name in (f"{prefix}-{what}-idx{n}-ubyte.gz", f"{prefix}-{what}-idx{n}-ubyte", f"{prefix}-{what}.idx{n}-ubyte"):
        if (root / name).is_file():
            return root / name
    return None


def read_split(root: Path, split: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, H, W]`` uint8 and labels ``[N]`` int64 of one split found in ``root``."""
    img_path, lab_path = find_file(root, split, "images"), find_file(root, split, "labels")
    if img_path is None or lab_path is None:
        prefix = SPLIT_PREFIX[split]
        raise ArtforgeError(
            f"{root}: no {prefix}-images-idx3-ubyte.gz / {prefix}-labels-idx1-ubyte.gz for split {split!r}"
        )
    images, labels = read_idx(img_path, 3), read_idx(lab_path, 1)
    if images.shape[1] != images.shape[2]:
        raise ArtforgeError(f"{img_path}: images are {images.shape[1]}x{images.shape[2]}; artforge needs square ones")
    if len(images) != len(labels):
        raise ArtforgeError(f"{root}: {len(images)} images but {len(labels)} labels in split {split!r}")
    if len(labels) and int(labels.max()) >= num_classes:
        raise ArtforgeError(f"{lab_path}: label {int(labels.max())} out of range 0..{num_classes - 1}")
    return images, labels.astype(np.int64)
