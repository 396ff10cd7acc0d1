"""Sample images: bundled paintings and scikit-image's photographs, named ``sample:NAME``.

Paintings (``src/artforge/samples``): story art from Battle for Wesnoth 1.16 (GPL-2+), via
Debian's ``wesnoth-1.16-data``; see ``docs/samples.md``. Photos: ``skimage.data`` (public domain
or CC0 per scikit-image), installed with ``pip install artforge[samples]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from artforge.core.errors import ArtforgeError
from artforge.data import image_io

PREFIX = "sample:"
PAINTINGS = {
    "mountains": "mountains.jpg",  # Wesnoth "landscape-mountains-01": bold palette-knife strokes
    "swamp": "swamp.jpg",  # Wesnoth "swamp-02": graphic, teal and magenta
    "altar": "altar.jpg",  # Wesnoth "grim-altar": loose oil sketch
}
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def painting_path(name: str) -> Path:
    return Path(__file__).resolve().parents[1] / "samples" / PAINTINGS[name]


def names() -> list[str]:
    return [*PAINTINGS, *PHOTOS]


def is_sample(spec: object) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


def open_image(spec: str | os.PathLike[str], what: str = "image", min_side: int = image_io.MIN_SIDE) -> Image.Image:
    """``sample:NAME`` or an image file, as upright 8-bit RGB (``what`` names it in errors)."""
    return load(str(spec)) if is_sample(spec) else image_io.load(spec, what, min_side)


def load(spec: str) -> Image.Image:
    """``sample:NAME`` -> RGB image."""
    name = spec[len(PREFIX) :]
    if name in PAINTINGS:
        with Image.open(painting_path(name)) as im:
            return im.convert("RGB")
    if name in PHOTOS:
        try:
            import skimage.data  # noqa: PLC0415 - lazy: optional [samples] extra (scikit-image), ~1 s to import
        except ImportError:
            raise ArtforgeError(f"{spec} needs scikit-image: pip install 'artforge[samples]'") from None
        return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    raise ArtforgeError(f"unknown sample {name!r}; samples: {', '.join(names())}")
