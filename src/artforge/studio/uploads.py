"""Checks of uploaded files: a size limit in bytes, then the type sniffed by decoding the whole image with
artforge's loader (its pixel limit refuses decompression bombs); zips read in memory within limits; every refusal
is one line naming the upload."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from PIL import Image

from artforge import api

MIN_SIDE = 16  # artforge's smallest usable image side (VGG pools four times)


def check_image(path: str | os.PathLike[str] | None, what: str, max_bytes: int) -> Image.Image:
    """The upload at ``path`` as RGB, or :class:`artforge.api.ArtforgeError` with one line that names it."""
    if path is None or not str(path):
        raise api.ArtforgeError(f"{what}: upload an image first")
    p = Path(path)
    name = p.name
    try:
        size = p.stat().st_size
    except OSError:
        raise api.ArtforgeError(f"{what} {name}: the upload is gone; upload it again") from None
    if size > max_bytes:
        raise api.ArtforgeError(
            f"{what} {name}: {size / 2**20:.1f} MB is over the upload limit of {max_bytes / 2**20:.0f} MB"
        )
    if size == 0:
        raise api.ArtforgeError(f"{what} {name}: the file is empty")
    try:
        return api.load_image(p, what, MIN_SIDE)
    except api.ArtforgeError as e:  # the loader names the server's temp path; the user knows the file's name
        raise api.ArtforgeError(str(e).replace(str(p), name)) from None


def keep_image(upload: str | os.PathLike[str], img: Image.Image, dest: Path) -> None:
    """Store a checked upload at ``dest`` (a PNG): its own bytes when it already is that picture as a PNG (RGB, the
    size it decoded to, no EXIF ahead of its pixels), saving a re-encode (~25 ms for a 640 x 480 photo); else ``img``
    re-encoded. (A tag after the pixels would still be honoured: every reader of content.png is artforge's loader.)"""
    try:
        with Image.open(upload) as im:
            same = im.format == "PNG" and im.mode == "RGB" and im.size == img.size and "exif" not in im.info
    except (OSError, SyntaxError, ValueError):
        same = False
    if same:
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(upload, tmp)
        os.replace(tmp, dest)  # atomic: dest is absent or whole
    else:
        api.save_image(img, dest, png_level=1)


MAX_ZIP_FILES = 100  # images in one zip
ZIP_EXPANSION = 10  # the entries may hold at most this many times the upload limit, uncompressed (zip bombs)


MAX_TRAIN_ZIP_FILES = 5000  # images in one training zip


def read_zip(
    path: str | os.PathLike[str] | None, max_bytes: int, max_files: int = MAX_ZIP_FILES, strict_paths: bool = False
) -> list[tuple[str, bytes]]:
    """The files of an uploaded zip as (entry name, bytes), read in memory and never extracted (no zip slip), within
    limits on the zip's size, its number of files and their uncompressed total (no zip bombs, even when an entry's
    declared size lies); directories and hidden or ``__MACOSX`` entries are skipped. ``strict_paths`` refuses a zip
    with an entry that names a place outside it (``..``, an absolute path or a drive)."""
    if path is None or not str(path):
        raise api.ArtforgeError("photos: upload a .zip first")
    p = Path(path)
    name = p.name
    if p.stat().st_size > max_bytes:
        raise api.ArtforgeError(f"{name}: {p.stat().st_size / 2**20:.1f} MB is over the upload limit of "
                                f"{max_bytes / 2**20:.0f} MB")  # fmt: skip
    if not zipfile.is_zipfile(p):
        raise api.ArtforgeError(f"{name}: not a zip file")
    budget = ZIP_EXPANSION * max_bytes
    out: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(p) as z:
            infos = [
                i for i in z.infolist()
                if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                and not PurePosixPath(i.filename).name.startswith(".")
            ]  # fmt: skip
            if not infos:
                raise api.ArtforgeError(f"{name}: holds no files")
            if len(infos) > max_files:
                raise api.ArtforgeError(f"{name}: {len(infos)} files; at most {max_files} in one zip")
            for i in z.infolist() if strict_paths else ():
                if _outside(i.filename):
                    raise api.ArtforgeError(f"{name}: entry {i.filename[:60]!r} points outside the zip (zip slip)")
            if sum(i.file_size for i in infos) > budget:
                raise api.ArtforgeError(
                    f"{name}: its files unpack to more than {budget / 2**20:.0f} MB (limit); a zip bomb?"
                )
            for info in infos:
                with z.open(info) as f:
                    data = f.read(min(budget, info.file_size) + 1)
                budget -= len(data)
                if len(data) > info.file_size or budget < 0:
                    raise api.ArtforgeError(f"{name}: {info.filename} unpacks to more than it declares; a zip bomb?")
                out.append((info.filename, data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as e:
        raise api.ArtforgeError(
            f"{name}: a broken or unsupported zip ({str(e).splitlines()[0] if str(e) else e!r})"
        ) from None
    return out


def _outside(entry: str) -> bool:
    """Whether a zip entry's name would land outside a folder it were extracted into."""
    parts = PurePosixPath(entry.replace("\\", "/")).parts
    return entry.startswith(("/", "\\")) or ".." in parts or (bool(parts) and ":" in parts[0])


LITTER = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})  # files a desktop leaves in a folder of photos


def folder_images(paths: Sequence[str] | None, max_bytes: int, max_files: int = MAX_ZIP_FILES) -> list[str]:
    """The uploaded files of a folder (or a multiple selection) that a user means as photos: hidden files and
    desktop litter skipped; refused in one line when none is left, there are over ``max_files``, or they total over
    the zip limit (``ZIP_EXPANSION`` x the upload limit)."""
    files = [str(p) for p in paths or [] if str(p)]
    kept = [f for f in files if not Path(f).name.startswith(".") and Path(f).name.lower() not in LITTER]
    if not kept:
        raise api.ArtforgeError("photos: choose a folder (or several photos) first")
    if len(kept) > max_files:
        raise api.ArtforgeError(f"photos: {len(kept)} files; at most {max_files} at a time")
    total = sum(Path(f).stat().st_size for f in kept)
    if total > ZIP_EXPANSION * max_bytes:
        raise api.ArtforgeError(
            f"photos: {total / 2**20:.0f} MB in all; at most {ZIP_EXPANSION * max_bytes / 2**20:.0f} MB at a time"
        )
    return kept


def safe_name(entry: str) -> str:
    """A zip entry's file name reduced to a plain, safe one (for messages and result names; never a path)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(entry.replace("\\", "/")).name).lstrip(".")
    return base[:80] or "image"
