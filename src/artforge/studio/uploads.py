"""Checks of uploaded files: a size limit in bytes, then the type sniffed by decoding the whole image with
artforge's loader (its pixel limit refuses decompression bombs); every refusal is one line naming the upload."""

from __future__ import annotations

import os
from pathlib import Path

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
