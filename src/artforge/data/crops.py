"""Training crops for feed-forward stylisers: random ``R x R`` windows of photographs (Johnson et al.
2016 train on 256 px crops), x-flipped at random.

Each image is decoded once to its centre square at ``2R`` px (so a crop covers a quarter of it),
kept as uint8. Crops are drawn from a generator seeded by (seed, step), so a resumed run sees
exactly the crops an uninterrupted one would. With ``--targets`` (distillation) a photo and its stylised
version are stacked as six channels, so that both are cut and flipped alike.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from artforge.core.errors import ArtforgeError
from artforge.data import samples
from artforge.data.folders import decode, decode_all, list_folder, list_zip


def pool_side(resolution: int) -> int:
    return 2 * resolution


def load_pool(spec: str, resolution: int, max_images: int | None = None, what: str = "--data") -> torch.Tensor:
    """Images of a folder, a .zip, one image file or ``sample:NAME`` -> uint8 ``[N, 3, 2R, 2R]``."""
    side = pool_side(resolution)
    p = Path(spec)
    if samples.is_sample(spec) or (p.is_file() and not zipfile.is_zipfile(p)):
        img = samples.open_image(spec, what)
        arr = decode(img.copy, side)[None]  # [1, 2R, 2R, 3]
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()
    if p.is_dir():
        decoded = decode_all(list_folder(p), side, labels=False, max_images=max_images, what=str(p))
    elif p.is_file():
        with zipfile.ZipFile(p) as zf:
            decoded = decode_all(list_zip(zf), side, labels=False, max_images=max_images, what=str(p))
    else:
        raise ArtforgeError(f"{what} {spec}: no such folder, zip or image")
    if decoded.skipped:
        print(f"artforge: skipped {len(decoded.skipped)} unreadable file(s) in {spec}, e.g. {decoded.skipped[0]}")
    if len(decoded.images) == 0:
        raise ArtforgeError(f"{what} {spec}: no readable images")
    return torch.from_numpy(decoded.images).permute(0, 3, 1, 2).contiguous()


def load_pairs(data: str, targets: str, resolution: int, max_images: int | None = None) -> torch.Tensor:
    """Photos of the folder ``data`` beside their stylised versions in ``targets`` (the same relative path, any
    extension, the same aspect ratio) -> uint8 ``[N, 6, 2R, 2R]``: channels 0-2 the photo, 3-5 its target, so
    that one random crop (and flip) cuts both at the same place."""
    side = pool_side(resolution)
    roots = {what: Path(spec) for what, spec in (("--data", data), ("--targets", targets))}
    for what, root in roots.items():
        if not root.is_dir():
            raise ArtforgeError(f"{what} {root}: with --targets, both must be folders of images")
    photos = list_folder(roots["--data"])
    target_files = list_folder(roots["--targets"])
    by_stem = {str(Path(rel).with_suffix("")): opener for rel, opener in target_files.items()}
    missing = [rel for rel in sorted(photos) if str(Path(rel).with_suffix("")) not in by_stem]
    if missing:
        raise ArtforgeError(
            f"--targets {targets}: no stylised version of {len(missing)} photo(s) of --data, e.g. {missing[0]} "
            "(a target has the photo's relative path, any extension)"
        )
    # keyed by the photo's path, so that both decode in the same order
    paired = {rel: by_stem[str(Path(rel).with_suffix(""))] for rel in photos}
    halves = [decode_all(files, side, False, max_images, what) for files, what in ((photos, data), (paired, targets))]
    for half in halves:
        if half.skipped:  # one unreadable file would shift every pair after it
            raise ArtforgeError(f"--data/--targets: cannot read {half.skipped[0]}")
    if len(halves[0].images) == 0:
        raise ArtforgeError(f"--data {data}: no images")
    pairs = np.concatenate([halves[0].images, halves[1].images], axis=-1)  # [N, 2R, 2R, 6]
    return torch.from_numpy(pairs).permute(0, 3, 1, 2).contiguous()


def crop_generator(seed: int, step: int, salt: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + salt)


def random_crops(pool: torch.Tensor, indices: torch.Tensor, resolution: int, gen: torch.Generator) -> torch.Tensor:
    """``[B, C, R, R]`` float in [0, 1]: a random window of each ``pool[i]``, x-flipped with p = 1/2."""
    side = pool.shape[-1]
    ys = torch.randint(0, side - resolution + 1, (len(indices),), generator=gen).tolist()
    xs = torch.randint(0, side - resolution + 1, (len(indices),), generator=gen).tolist()
    flips = torch.rand(len(indices), generator=gen).lt(0.5).tolist()
    out = []
    for i, y, x, f in zip(indices.tolist(), ys, xs, flips, strict=True):
        c = pool[i, :, y : y + resolution, x : x + resolution]
        out.append(c.flip(-1) if f else c)
    return torch.stack(out).float().div_(255)


def centre_crops(pool: torch.Tensor, n: int, resolution: int) -> torch.Tensor:
    """The first ``n`` images' central ``R x R`` windows, ``[n, C, R, R]`` in [0, 1] (fixed preview inputs)."""
    o = (pool.shape[-1] - resolution) // 2
    return pool[:n, :, o : o + resolution, o : o + resolution].float().div(255)
