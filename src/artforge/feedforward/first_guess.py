"""A feed-forward first guess for Gatys refinement: x_0 = g(AdaIN(f(c), f(s))) (Huang & Belongie 2017) or
x_0 = f_W(c) (Johnson et al. 2016), so that L-BFGS starts near a stylised image instead of at the photo.

``artforge stylize --init fast[:MODEL]``: an AdaIN model takes the run's own style images (blend weights and
masks too); a per-style model is accepted only for the style it was trained on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from artforge.core.errors import ArtforgeError
from artforge.data import images, samples
from artforge.feedforward.files import MIN_STYLE_SIDE
from artforge.feedforward.stylizer import Stylizer, load_torch, resolve, run_tiled, style_features_once

FAST = "fast"
DEFAULT_MODEL = "adain-wesnoth"  # the shipped arbitrary-style model with the full VGG encoder
STYLE_SIDE = 512  # long side of the style images AdaIN sees, as ``artforge stylize --model`` does
TILE, TILE_OVERLAP = 2048, 128  # as ``artforge stylize --model``: bounded memory at 4096 px


def fast_model(init: str) -> str | None:
    """``fast`` -> the default model, ``fast:NAME`` -> NAME, anything else -> None."""
    if init == FAST:
        return DEFAULT_MODEL
    if init.startswith(FAST + ":"):
        name = init.split(":", 1)[1]
        if not name:
            raise ArtforgeError("--init fast:MODEL needs a model name; see `artforge models`")
        return name
    return None


def _same_style(trained_on: Sequence[str], given: Sequence[str]) -> bool:
    """Whether a per-style model's training styles are the run's styles (sample names, or the same files)."""

    def key(spec: str) -> str:
        name = spec.split(":", 1)[1] if samples.is_sample(spec) else None
        if name is not None:  # a bundled painting is also its file
            return str(samples.painting_path(name)) if name in samples.PAINTINGS else spec
        return str(Path(spec).resolve())

    return sorted(map(key, trained_on)) == sorted(map(key, given))


def load_for_init(model: str, style_specs: Sequence[str], device: torch.device) -> Stylizer:
    """The styliser behind ``--init fast:MODEL``, refused in one line if it cannot make this run's style."""
    try:
        path = resolve(model)
    except ArtforgeError:
        raise ArtforgeError(f"--init fast:{model}: no such model; see `artforge models`") from None
    if path.suffix == ".onnx":
        raise ArtforgeError(f"--init fast:{model}: an .onnx model cannot start a run; use a PyTorch model")
    stylizer = load_torch(path, model, device)
    if not stylizer.needs_style:
        config = stylizer.meta.get("config", {})
        config = json.loads(config) if isinstance(config, str) else config
        trained_on = [str(s) for s in config.get("style", [])]
        if not style_specs or not _same_style(trained_on, style_specs):
            was = ", ".join(trained_on) or "an unrecorded style"
            raise ArtforgeError(
                f"--init fast:{model} is a per-style model for {was}, not this style; "
                "use an AdaIN model from `artforge models`"
            )
    return stylizer


@torch.no_grad()
def first_guess(
    stylizer: Stylizer,
    content: Image.Image,
    styles: Sequence[Image.Image],
    size: int,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[Image.Image] = (),
) -> Image.Image:
    """The styliser's picture of ``content`` at long side ``size`` (RGB), in tiles above ``TILE`` px."""
    x = images.to_tensor(images.resize_long(content, size)).to(next(stylizer.net.parameters()).device)
    style_t: list[torch.Tensor] = []
    for s in styles if stylizer.needs_style else ():
        s = images.resize_long(s, STYLE_SIDE)
        if min(s.size) < MIN_STYLE_SIDE:
            raise ArtforgeError(
                f"--init fast: a style image of {s.size[0]}x{s.size[1]} px is too small for AdaIN "
                f"(shorter side at least {MIN_STYLE_SIDE} px at {STYLE_SIDE} px long)"
            )
        style_t.append(images.to_tensor(s).to(x.device))
    h, w = x.shape[-2:]
    m = [images.to_tensor(mk.convert("L").resize((w, h), Image.Resampling.BILINEAR)).to(x.device) for mk in masks]
    xm = torch.cat([x, *m], 1) if style_t else x  # masks ride along in the tiles

    def run(t: torch.Tensor) -> torch.Tensor:
        if not style_t:
            return stylizer(t)
        tile_masks = list(t[:, 3:].split(1, dim=1)) if t.shape[1] > 3 else None
        return torch.cat([stylizer(t[:, :3], style_t, style_weights=style_weights, masks=tile_masks), t[:, 3:]], 1)

    with style_features_once(stylizer, style_t):
        y = run_tiled(run, xm, TILE, TILE_OVERLAP)[:, :3]
    return images.to_image(y.cpu())
