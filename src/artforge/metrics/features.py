"""Images -> backbone features (the feature pipeline of FID, Heusel et al. 2017), cached on disk by content.

The cache key is the sha256 of: a format version, the backbone and its weights (``Backbone.tag``), the resize mode
and input size, and the images' content (for a folder: the sha256 of every file's bytes, in sorted path order; for
an array: its bytes). Renaming a folder keeps the cache; changing one byte of one file recomputes. Entries live in
``<artforge cache>/metrics/<key>.npz``; delete that folder to clear them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from artforge.core.download import cache_dir, sha256_file
from artforge.core.errors import ArtforgeError
from artforge.data.folders import list_folder
from artforge.data.images import load
from artforge.metrics.backbones import RESIZE_MODE, Backbone, resize_clean

CACHE_VERSION = 1
Loader = Callable[[], Image.Image]  # opens one image, raising ArtforgeError when it cannot


@dataclass
class Features:
    """Features ``[N, D]`` (float32), logits ``[N, C]`` or None, the files skipped, and whether the cache served it."""

    features: np.ndarray
    logits: np.ndarray | None
    source: str
    skipped: list[str] = field(default_factory=list)
    cached: bool = False


def metrics_cache_dir() -> Path:
    return cache_dir() / "metrics"


def cache_key(content_digest: str, backbone: Backbone) -> str:
    spec = backbone.spec
    text = f"artforge-features-v{CACHE_VERSION}|{backbone.tag}|{RESIZE_MODE}|{spec.input_size}|{content_digest}"
    return hashlib.sha256(text.encode()).hexdigest()


def files_digest(paths: Sequence[Path]) -> str:
    """sha256 over the sha256 of each file's bytes, in the given order (an unreadable file counts by its name)."""
    h = hashlib.sha256()
    for p in paths:
        try:
            h.update(bytes.fromhex(sha256_file(p)))
        except OSError:
            h.update(b"unreadable:" + os.fsencode(p))  # skipped by the extraction as well
    return h.hexdigest()


def folder_features(
    folder: str | os.PathLike[str], backbone: Backbone, *, batch: int = 32, progress: bool = True, cache: bool = True
) -> Features:
    """Features of every image below ``folder`` (recursive, sorted, hidden files ignored); unreadable files are
    skipped, counted and warned about; a folder without a readable image is an :class:`ArtforgeError`."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise ArtforgeError(f"{root}: no such folder")
    if not root.is_dir():
        raise ArtforgeError(f"{root}: not a folder of images")
    rels = sorted(list_folder(root))
    if not rels:
        raise ArtforgeError(f"{root}: holds no files; point to a folder of images")
    key = cache_key(files_digest([root / r for r in rels]), backbone) if cache else ""
    hit = _read_cache(key, str(root)) if cache else None
    if hit is None:

        def loader(rel: str) -> Loader:
            return lambda: load(root / rel, "image", min_side=1)

        hit = _extract([(r, loader(r)) for r in rels], backbone, batch, progress, str(root))
        if cache:
            _write_cache(key, hit)
    _warn_skipped(hit)
    return hit


def array_features(
    images: np.ndarray, backbone: Backbone, *, name: str = "images", batch: int = 32, progress: bool = True,
    cache: bool = False,
) -> Features:  # fmt: skip
    """Features of uint8 images ``[N, C, H, W]`` (C = 1 or 3; grey is repeated to RGB), e.g. a data set or samples."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[1] not in (1, 3) or len(a) == 0:
        raise ArtforgeError(f"{name}: expected uint8 images [N, 1 or 3, H, W], got {a.dtype} {list(a.shape)}")
    key = ""
    if cache:
        h = hashlib.sha256(f"{a.shape}".encode())
        h.update(np.ascontiguousarray(a).data)
        key = cache_key(h.hexdigest(), backbone)
        hit = _read_cache(key, name)
        if hit is not None:
            return hit

    def loader(i: int) -> Loader:
        return lambda: Image.fromarray(a[i, 0] if a.shape[1] == 1 else np.ascontiguousarray(a[i].transpose(1, 2, 0)))

    out = _extract([(str(i), loader(i)) for i in range(len(a))], backbone, batch, progress, name)
    if cache:
        _write_cache(key, out)
    return out


def _extract(
    items: Sequence[tuple[str, Loader]], backbone: Backbone, batch: int, progress: bool, source: str
) -> Features:
    size = backbone.spec.input_size
    feats: list[np.ndarray] = []
    logits: list[np.ndarray] = []
    skipped: list[str] = []
    buf = np.empty((max(1, batch), 3, size, size), dtype=np.float32)
    n = 0

    def flush() -> None:
        f, lg = backbone(buf[:n])
        feats.append(f)
        if lg is not None:
            logits.append(lg)

    desc = f"features {Path(source).name or source}"
    with tqdm(total=len(items), desc=desc, unit="img", disable=not progress) as bar:
        for name, open_image in items:
            try:
                buf[n] = resize_clean(open_image(), size)
            except ArtforgeError as e:
                skipped.append(f"{name} ({str(e).split(': ', 1)[-1][:80]})")
                bar.update(1)
                continue
            n += 1
            bar.update(1)
            if n == len(buf):
                flush()
                n = 0
        if n:
            flush()
    if not feats:
        raise ArtforgeError(
            f"{source}: no readable image among {len(items)} file(s), e.g. {skipped[0]}; use PNG, JPEG or another "
            "format PIL reads"
        )
    return Features(np.concatenate(feats), np.concatenate(logits) if logits else None, source, skipped)


def _warn_skipped(f: Features) -> None:
    if f.skipped:
        warnings.warn(f"skipped {len(f.skipped)} unreadable file(s) in {f.source}, e.g. {f.skipped[0]}", stacklevel=3)


def _read_cache(key: str, source: str) -> Features | None:
    path = metrics_cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            feats = np.asarray(z["features"], dtype=np.float32)
            logits = np.asarray(z["logits"], dtype=np.float32) if "logits" in z else None
            skipped = [str(s) for s in z["skipped"]]
    except (OSError, ValueError, KeyError):
        return None  # a damaged entry is recomputed and overwritten
    return Features(feats, logits, source, skipped, cached=True)


def _write_cache(key: str, f: Features) -> None:
    d = metrics_cache_dir()
    arrays: dict[str, np.ndarray] = {"features": f.features, "skipped": np.array(f.skipped, dtype=np.str_)}
    if f.logits is not None:
        arrays["logits"] = f.logits
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **arrays)  # type: ignore[arg-type]
            os.chmod(tmp, 0o644)
            os.replace(tmp, d / f"{key}.npz")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as e:
        warnings.warn(f"could not cache features in {d} ({e.strerror or e}); they will be recomputed", stacklevel=3)
