"""Image folders and .zip archives -> one uint8 array (PIL formats; ImageOps.fit-style centre crop, no extraction).

Files are listed recursively and sorted by their relative POSIX path, so a folder and a zip of it give the same
order. Each image is made upright (EXIF), converted to RGB (:func:`artforge.data.images.to_rgb`), centre-cropped
to a square and resized to ``R x R`` (Lanczos down, bicubic up). Unreadable files are skipped and counted.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from artforge.core.errors import ArtforgeError
from artforge.data.images import MAX_PIXELS, to_rgb

MAX_FILE_BYTES = 512 << 20  # a zip member larger than this is skipped rather than read into memory
PROGRESS_OVER = 500  # show a progress bar when decoding more files than this
Opener = Callable[[], Image.Image]  # opens one file lazily


@dataclass
class Decoded:
    """The result of decoding a folder or zip: images ``[N, R, R, 3]`` uint8, labels ``[N]`` (-1: none)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: list[str] = field(default_factory=list)  # "relative/path (reason)"


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in rel.split("/"))


def list_folder(root: Path) -> dict[str, Opener]:
    """Relative POSIX path -> opener, for every non-hidden regular file below ``root`` (symlinks followed)."""
    out: dict[str, Opener] = {}
    chains: dict[str, frozenset[str]] = {}  # walked folder -> real paths from the root down to it
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here, above = os.path.realpath(dirpath), chains.get(os.path.dirname(dirpath), frozenset())
        if here in above:  # a symlink back up the tree: walk it once, not forever
            dirnames[:] = []
            continue
        chains[dirpath] = above | {here}
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in filenames:
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            if not _hidden(rel) and p.is_file():
                out[rel] = functools.partial(Image.open, p)
    return out


def list_zip(zf: zipfile.ZipFile) -> dict[str, Opener]:
    """Member name -> opener for every file member; one directory wrapping all members is stripped."""
    infos = [i for i in zf.infolist() if not i.is_dir() and not _hidden(i.filename)]
    names = [i.filename.lstrip("/") for i in infos]
    tops = {n.split("/", 1)[0] for n in names}
    strip = len(tops) == 1 and all("/" in n for n in names)

    def opener(info: zipfile.ZipInfo) -> Opener:
        def open_member() -> Image.Image:
            if info.file_size > MAX_FILE_BYTES:
                raise ValueError(f"member larger than {MAX_FILE_BYTES >> 20} MiB")
            return Image.open(io.BytesIO(zf.read(info)))

        return open_member

    return {(n.split("/", 1)[1] if strip else n): opener(i) for n, i in zip(names, infos, strict=True)}


def decode(open_image: Opener, resolution: int) -> np.ndarray:
    """One image -> ``[R, R, 3]`` uint8: upright, RGB, centre square, resized. Raises on any unreadable file."""
    with open_image() as im:
        if im.format in ("JPEG", "MPO"):  # let libjpeg decode at 1/2, 1/4 or 1/8 scale, still >= 2R per side
            im.draft(im.mode, (2 * resolution, 2 * resolution))
        im.load()
        img = to_rgb(ImageOps.exif_transpose(im) or im)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        method = Image.Resampling.LANCZOS if side > resolution else Image.Resampling.BICUBIC
        img = img.resize((resolution, resolution), method)
    return np.array(img, dtype=np.uint8)  # a writable copy: torch.from_numpy warns on read-only arrays


def decode_all(
    files: dict[str, Opener],
    resolution: int,
    labels: bool,
    max_images: int | None,
    what: str,
) -> Decoded:
    """Decode files in sorted order until ``max_images`` images are read; unreadable ones are skipped."""
    order = sorted(files)
    class_names: list[str] = []
    if labels:
        root_images = [r for r in order if "/" not in r and Path(r).suffix.lower() in Image.registered_extensions()]
        if root_images:
            raise ArtforgeError(
                f"{what}: labels come from first-level subfolders, but {root_images[0]} is at the top level; "
                "move the images into one subfolder per class, or drop --labels"
            )
        class_names = sorted({r.split("/", 1)[0] for r in order if "/" in r})
    index = {c: i for i, c in enumerate(class_names)}
    cap = len(order) if max_images is None else min(max_images, len(order))
    images = np.empty((cap, resolution, resolution, 3), dtype=np.uint8)
    labs = np.full(cap, -1, dtype=np.int64)
    skipped: list[str] = []
    n = 0
    old_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    bar = tqdm(total=cap, desc=f"decoding {what}", unit="img", disable=len(order) <= PROGRESS_OVER)
    try:
        for rel in order:
            if n == cap:
                break
            if labels and "/" not in rel:
                skipped.append(f"{rel} (not in a class subfolder)")
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # PIL's EXIF/palette chatter, once per file
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    images[n] = decode(files[rel], resolution)
            except Exception as e:  # noqa: BLE001 - any file PIL cannot decode is skipped, never fatal
                why = (
                    "not an image PIL can read" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
                )
                skipped.append(f"{rel} ({why[:80]})")
                continue
            labs[n] = index[rel.split("/", 1)[0]] if labels else -1
            n += 1
            bar.update(1)
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
        bar.close()
    return Decoded(images[:n], labs[:n], class_names, skipped)
