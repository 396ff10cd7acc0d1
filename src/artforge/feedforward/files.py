"""Running a feed-forward styliser over many images: y' = s * f(x) + (1 - s) * x, in batches and tiles.

Inputs are files, folders (recursive) and glob patterns; images of one size share a batch. The
output is one file, or a folder with one PNG per input. Colour preservation keeps the content's
chroma (``luminance``: YIQ) or moves the output's RGB mean/covariance to the content's (``histogram``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from artforge.core.errors import ArtforgeError
from artforge.data import color, images, samples
from artforge.feedforward.options import MIN_STYLE_SIDE as MIN_STYLE_SIDE
from artforge.feedforward.options import ModelOptions as ModelOptions
from artforge.feedforward.stylizer import Stylizer, run_tiled, style_features_once

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def expand_inputs(specs: Sequence[str]) -> list[str]:
    """Files, ``sample:NAME``s, folders (recursive, image suffixes) and globs -> sorted, de-duplicated list."""
    out: list[str] = []
    for spec in specs:
        if samples.is_sample(spec):
            out.append(spec)
            continue
        p = Path(spec)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise ArtforgeError(f"{spec}: folder holds no images")
            out += found
        elif any(ch in spec for ch in "*?["):
            found = sorted(f for f in glob.glob(spec, recursive=True) if Path(f).suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ArtforgeError(f"{spec}: matches no images")
            out += found
        else:
            out.append(spec)
    return list(dict.fromkeys(out))


def output_paths(inputs: Sequence[str], output: str | Sequence[Path]) -> list[Path]:
    """One output file for one input (unless OUTPUT is a folder), else OUTPUT/<stem>.png per input; a list of
    files: one per input, in order."""
    if not isinstance(output, str):
        if len(output) != len(inputs):
            raise ArtforgeError(f"{len(inputs)} inputs and {len(output)} output files: give one output per input")
        return [Path(o) for o in output]
    out = Path(output)
    as_dir = len(inputs) > 1 or out.is_dir() or output.endswith(os.sep) or not out.suffix
    if not as_dir:
        return [out]
    if out.exists() and not out.is_dir():
        raise ArtforgeError(f"-o {out}: several inputs need an output folder, and {out} is a file")
    names = [Path(i.split(":", 1)[1] if samples.is_sample(i) else i).stem for i in inputs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ArtforgeError(f"two inputs would both be written as {sorted(dupes)[0]}.png; stylise them separately")
    return [out / f"{n}.png" for n in names]


def _load(spec: str, size: int | None, what: str, min_side: int = images.MIN_SIDE) -> torch.Tensor:
    img = samples.open_image(spec, what, min_side)
    if size is not None:
        img = images.resize_long(img, size)
    return images.to_tensor(img)  # [1, 3, H, W]


def _batches(items: Iterable[tuple[int, torch.Tensor]], batch: int) -> Iterator[list[tuple[int, torch.Tensor]]]:
    """Consecutive runs of equal-sized images, at most ``batch`` long."""
    group: list[tuple[int, torch.Tensor]] = []
    for item in items:
        if group and (len(group) == batch or group[0][1].shape != item[1].shape):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def finish(y: torch.Tensor, x: torch.Tensor, opts: ModelOptions) -> torch.Tensor:
    """Colour preservation, then y' = s y + (1 - s) x."""
    if opts.preserve_color == "luminance":
        y = color.combine_luminance(color.luminance(y), x)
    elif opts.preserve_color == "histogram":
        y = torch.cat([color.match_color(yi[None], xi[None]) for yi, xi in zip(y, x, strict=True)])
    return (opts.strength * y + (1 - opts.strength) * x).clamp(0, 1)


def stylize_files(
    stylizer: Any,
    inputs: Sequence[str],
    output: str | Sequence[Path],
    opts: ModelOptions,
    styles: Sequence[str] = (),
    masks: Sequence[str] = (),
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[Path]:
    """Stylise every input; returns the files written. Each file is written atomically as it is done."""
    opts.validate()
    files = expand_inputs(inputs)
    if not files:
        raise ArtforgeError("give at least one content image")
    outs = output_paths(files, output)
    if isinstance(output, str) and (len(outs) > 1 or outs[0].parent != Path(output).parent):  # a folder: made
        Path(output).mkdir(parents=True, exist_ok=True)
    for o in outs:
        images.check_writable(o)
    if getattr(stylizer, "needs_style", False) and not styles:
        raise ArtforgeError(f"{stylizer.name} is an arbitrary-style (AdaIN) model: give --style IMAGE")
    if styles and not getattr(stylizer, "needs_style", False):
        raise ArtforgeError(f"{stylizer.name} is a per-style {stylizer.kind} model; --style is for AdaIN models")
    if masks and len(masks) != len(styles):
        raise ArtforgeError(f"give one --mask per style image ({len(styles)}), or none")
    if opts.precision != "fp32" and not isinstance(stylizer, Stylizer):
        raise ArtforgeError(f"--precision {opts.precision} is for PyTorch models; an .onnx model runs in fp32")
    style_t = [_load(s, opts.style_size, "style image", MIN_STYLE_SIDE).to(device) for s in styles]
    written: list[Path] = []
    bar = tqdm(total=len(files), unit="img", desc="stylize", disable=not progress, dynamic_ncols=True)
    items = ((i, _load(f, opts.size, "content image")) for i, f in enumerate(files))  # decoded one batch at a time
    try:
        with style_features_once(stylizer, style_t):  # AdaIN: each style encoded once, not per batch
            for group in _batches(items, opts.batch):
                x = torch.cat([t for _, t in group]).to(device)  # [B, 3, H, W]
                h, w = x.shape[-2:]
                m = [images.to_tensor(images.load_mask(p, (w, h))).to(device) for p in masks]  # each [1, 1, H, W]
                xm = torch.cat([x, *(mk.expand(len(x), -1, -1, -1) for mk in m)], 1)  # masks ride along in the tiles
                y = run_tiled(lambda t: _call(stylizer, t, style_t, opts), xm, opts.tile_size, opts.tile_overlap)[:, :3]
                y = finish(y, x, opts)
                for (i, _), yi in zip(group, y, strict=True):
                    params = {"model": stylizer.name, "content": files[i], "styles": list(styles), **opts.__dict__}
                    written.append(images.save(images.to_image(yi[None].cpu()), outs[i], params, png_level=1))
                    bar.update(1)
    finally:
        bar.close()
    return written


def _call(stylizer: Any, xm: torch.Tensor, styles: list[torch.Tensor], opts: ModelOptions) -> torch.Tensor:
    """The styliser on a tile ``[B, 3 + K, h, w]``: RGB, then K style masks (AdaIN) -> ``[B, 3 + K, h, w]``."""
    x, masks = xm[:, :3], list(xm[:, 3:].split(1, dim=1)) if xm.shape[1] > 3 else []
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=opts.precision == "bf16"):
        if not styles:
            y = stylizer(x)
        else:
            y = stylizer(x, styles, alpha=opts.alpha, style_weights=opts.style_blend, masks=masks or None)
    return torch.cat([y.float(), xm[:, 3:]], 1)
