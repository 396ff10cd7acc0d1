"""CIFAR-10 python batches (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), read without running code.

Each batch is a pickled dict: ``data`` uint8 ``[N, 3072]`` (1024 R, then G, then B, each a row-major 32x32 plane)
and ``labels`` (N ints); ``batches.meta`` holds ``label_names``. The pickles are read by an unpickler that only
resolves the numpy callables an array needs, so a malicious file is refused instead of executed.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from artforge.core.download import cache_dir, download
from artforge.core.errors import ArtforgeError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
# sha256 of the official archive (md5 c58f30108f718f92721af3b95e74349a, 170498071 bytes) as pinned by
# keras (keras/src/datasets/cifar10.py, file_hash) and torchvision (prototype/datasets/_builtin/cifar.py, _SHA256).
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
SPLIT_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
META_FILE = "batches.meta"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MAX_MEMBER_BYTES = 256 << 20  # a real batch is ~31 MB; refuse to read anything far larger into memory

# (module, name) pairs a pickled numpy array needs: py2/numpy<2 pickles name numpy.core, numpy>=2 numpy._core;
# protocol <= 2 pickles from Python 3 spell bytes as _codecs.encode(str, "latin1").
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),  # numpy integers, e.g. labels re-pickled as a list of np.int64
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class RefusedPickle(pickle.UnpicklingError):
    """The pickle asked for a global outside :data:`ALLOWED_GLOBALS`."""


class SafeUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`; everything else (os.system, eval, ...) raises :class:`RefusedPickle`."""

    def find_class(self, module: str, name: str, /) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedPickle(f"{module}.{name}")
        if module.startswith("numpy.core."):  # numpy >= 2 warns on numpy.core; the same objects live in numpy._core
            try:
                return getattr(importlib.import_module("numpy._core." + module.split(".", 2)[2]), name)
            except (ImportError, AttributeError):
                pass
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle("persistent id")


def safe_load(data: bytes, where: str) -> dict[str, Any]:
    """Unpickle one batch (``encoding="bytes"`` as for Python 2 pickles); keys are returned as ``str``."""
    try:
        obj = SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except RefusedPickle as e:
        raise ArtforgeError(f"{where}: refused to unpickle {e}; not a plain CIFAR batch (possibly malicious)") from None
    except Exception as e:  # noqa: BLE001 - any failure to parse is the same user error
        raise ArtforgeError(f"{where}: not a readable CIFAR batch ({type(e).__name__}); re-download it") from None
    if not isinstance(obj, dict):
        raise ArtforgeError(f"{where}: not a CIFAR batch (a pickled {type(obj).__name__}, expected a dict)")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def parse_batch(batch: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[N, 3, 32, 32]`` uint8 and labels ``[N]`` int64 from one unpickled batch."""
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ArtforgeError(f"{where}: 'data' is not a uint8 [N, 3072] array; not a CIFAR-10 batch")
    try:
        lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise ArtforgeError(f"{where}: 'labels' is not a list of integers; not a CIFAR-10 batch") from None
    if len(lab) != len(data) or (len(lab) and (lab.min() < 0 or lab.max() >= len(CLASS_NAMES))):
        raise ArtforgeError(f"{where}: 'labels' do not match 'data' (need {len(data)} values in 0..9)")
    return data.reshape(-1, 3, 32, 32), lab


def class_names(meta: dict[str, Any] | None) -> list[str]:
    names = meta.get("label_names") if meta else None
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        return list(CLASS_NAMES)
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def _read_members(path: Path, wanted: list[str]) -> dict[str, bytes]:
    """Bytes of the wanted batch files (by base name) from a directory or a tar archive, without extracting."""
    if path.is_dir():
        root = path / BATCH_DIR if (path / BATCH_DIR).is_dir() else path
        return {n: (root / n).read_bytes() for n in wanted if (root / n).is_file()}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                base = m.name.rsplit("/", 1)[-1]
                if base in wanted and base not in out and m.isfile() and m.size <= MAX_MEMBER_BYTES:
                    f = tar.extractfile(m)
                    if f is not None:
                        out[base] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ArtforgeError(f"{path}: not a readable cifar-10-python.tar.gz ({e}); re-download it") from None
    return out


def read(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images ``[N, 3, 32, 32]``, labels ``[N]`` and class names of one split from a batch dir or an archive.

    ``path`` is ``cifar-10-python.tar.gz``, ``cifar-10-batches-py/``, or a folder holding either of them.
    """
    files = SPLIT_FILES[split]
    if path.is_dir() and not (path / BATCH_DIR).is_dir() and not (path / files[0]).is_file():
        path = path / ARCHIVE if (path / ARCHIVE).is_file() else path  # e.g. the folder the archive was saved in
    members = _read_members(path, [*files, META_FILE])
    missing = [n for n in files if n not in members]
    if missing:
        raise ArtforgeError(f"{path}: no {', '.join(missing)}; expected cifar-10-python.tar.gz or {BATCH_DIR}/")
    parts = [parse_batch(safe_load(members[n], f"{path}:{n}"), f"{path}:{n}") for n in files]
    meta = safe_load(members[META_FILE], f"{path}:{META_FILE}") if META_FILE in members else None
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return images, labels, class_names(meta)


def cached() -> Path | None:
    """The archive or batch folder in ``<cache>/datasets/cifar10/`` (``artforge data fetch cifar10``) or, as before,
    in ``<cache>/``; None when neither holds one."""
    cache = cache_dir()
    for folder in (cache / "datasets" / "cifar10", cache):
        for p in (folder / ARCHIVE, folder / BATCH_DIR):
            if p.exists():
                return p
    return None


def default_path(progress: bool = True) -> Path:
    """The cached archive (or extracted batches); downloaded once with a sha256 check when absent."""
    return cached() or _download(cache_dir() / ARCHIVE, progress)


def _download(dest: Path, progress: bool) -> Path:
    how = f"run `artforge data fetch cifar10` while online, or put {URL} at {dest}, or pass cifar10:/path/to/{ARCHIVE}"
    try:
        tmp = download(URL, SHA256, dest.parent, progress)
    except OSError as e:
        raise ArtforgeError(f"cifar10: cannot write to the cache {dest.parent} ({e.strerror or e}); {how}") from None
    except ArtforgeError as e:  # offline, cut off, or corrupt: core.download's one line, then what to do
        raise ArtforgeError(f"cifar10: not in the cache: {e}; or {how}") from None
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return dest
