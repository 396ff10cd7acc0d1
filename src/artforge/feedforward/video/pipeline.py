"""Video stylisation: o_t = (m w) * W(o_{t-1}) + (1 - m w) * f(x_t), contrast-matched to f(x_t), for each frame x_t
in order (``temporal``), with f a feed-forward styliser (Johnson et al. 2016, GAN-based, or AdaIN, Huang & Belongie
2017) and the occlusion-aware warping of Ruder et al. 2016; decoded and encoded with PyAV, audio kept, OUT replaced
only by a finished video.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError
from artforge.data import images, samples
from artforge.data import video as io
from artforge.feedforward import stylizer as stylizers
from artforge.feedforward.stylizer import run_tiled
from artforge.feedforward.video.temporal import DEFAULT_WEIGHT, TemporalBlender

STYLE_SIZE = 512  # AdaIN: the style image's long side is shrunk to this
TILE, OVERLAP = 1024, 64  # frames above TILE px run in overlapping tiles (see stylisers.run_tiled)


def frame_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    """Output (W, H): long side ``size`` (or the input's), aspect kept, both rounded down to even (H.264 4:2:0)."""
    scale = 1.0 if size is None else size / max(width, height)
    w, h = max(2, int(round(width * scale))), max(2, int(round(height * scale)))
    return w - w % 2, h - h % 2


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` -> ``size`` (W, H); area filter when shrinking, bicubic when enlarging."""
    h, w = rgb.shape[:2]
    if (w, h) == size:
        return rgb
    if abs(w - size[0]) <= 1 and abs(h - size[1]) <= 1:  # odd -> even: crop a row/column, do not resample
        return rgb[: size[1], : size[0]]
    import cv2  # noqa: PLC0415 - lazy: optional [video] extra (OpenCV), ~0.2 s to import

    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interp)  # type: ignore[no-any-return]


def _styles(stylizer: Any, style: str | os.PathLike[str] | None, device: torch.device) -> list[torch.Tensor] | None:
    if not stylizer.needs_style:
        if style is not None:
            what = f"{stylizer.name} is a {stylizer.kind} model (its style is built in)"
            raise ArtforgeError(f"--style is for AdaIN models; {what}")
        return None
    if style is None:
        raise ArtforgeError(f"{stylizer.name} is an AdaIN model: give a style image (--style)")
    img = samples.open_image(style, "style image")
    if max(img.size) > STYLE_SIZE:
        img = images.resize_long(img, STYLE_SIZE)
    return [images.to_tensor(img).to(device)]


class FrameStylizer:
    """One video's per-frame step: RGB uint8 ``[H, W, 3]`` -> resize -> f -> temporal blend -> RGB uint8 ``size``.

    Call it on the frames in order; ``blend`` 0 gives independent per-frame stylisation.
    """

    def __init__(
        self, stylizer: Any, size: tuple[int, int], styles: list[torch.Tensor] | None = None, alpha: float = 1.0,
        blend: float = DEFAULT_WEIGHT, device: str | torch.device = "cpu", flow_preset: str = "medium",
    ) -> None:  # fmt: skip
        self.stylizer, self.size, self.styles, self.alpha = stylizer, size, styles, alpha
        self.device = torch.device(device)
        self.blender = TemporalBlender(blend, flow_preset)

    def stylize(self, x: torch.Tensor) -> torch.Tensor:
        return self.stylizer(x, self.styles, alpha=self.alpha)  # type: ignore[no-any-return]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        frame = _resize(rgb, self.size)  # [H, W, 3] uint8
        x = torch.from_numpy(frame).to(self.device).permute(2, 0, 1)[None].float().div_(255)  # [1, 3, H, W]
        y = self.blender(frame, run_tiled(self.stylize, x, TILE, OVERLAP))
        return y[0].permute(1, 2, 0).mul(255).round_().to(torch.uint8).cpu().numpy()  # type: ignore[no-any-return]


def stylize_video(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    model: Any,
    style: str | os.PathLike[str] | None = None,
    alpha: float = 1.0,
    blend: float = DEFAULT_WEIGHT,
    size: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    flow_preset: str = "medium",
) -> Path:
    """Stylise ``input`` frame by frame into ``output`` (.mp4/.m4v/.mov/.mkv, H.264, the input's audio and timing).

    ``model``: a name, run or model file for ``stylisers.load``, or a loaded styliser. ``style``: AdaIN's style image
    (a path or ``sample:NAME``) and ``alpha`` its content/style trade-off. ``blend``: the temporal weight w in [0, 1),
    0 = independent frames. ``size``: the output's long side (default: the input's). ``output`` is written only when
    the whole video is done; on an error or Ctrl-C an existing file there is left as it was.
    """
    src, dest = Path(input), io.check_output(output)
    if not 0 <= blend < 1:
        raise ArtforgeError(f"temporal weight must be in [0, 1) (0 = off), got {blend}")
    if size is not None and size < 16:
        raise ArtforgeError(f"--size {size}: give at least 16 px")
    if dest.exists() and src.exists() and dest.resolve() == src.resolve():
        raise ArtforgeError(f"-o {dest}: is the input; write the stylised video to another file")
    info = io.probe(src)
    dev = torch.device(device)
    stylizer = stylizers.load(model, dev) if isinstance(model, str | os.PathLike) else model
    step = FrameStylizer(
        stylizer, frame_size(info.width, info.height, size), _styles(stylizer, style, dev), alpha, blend, dev,
        flow_preset,
    )  # fmt: skip
    bar = tqdm(total=info.frames, disable=not progress, unit="frame", desc=f"stylising {src.name}", leave=False)

    def one_frame(rgb: np.ndarray) -> np.ndarray:
        out = step(rgb)
        bar.update(1)
        return out

    try:
        with stylizers.style_features_once(stylizer, step.styles), atomic_path(dest) as tmp:
            io.transcode(src, tmp, one_frame, step.size, suffix=dest.suffix)
    finally:
        bar.close()
    return dest
