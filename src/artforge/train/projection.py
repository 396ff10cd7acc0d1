"""Projecting an image into a StyleGAN2 generator (Karras et al. 2020, sec. 5 and appendix D):

    argmin_{w, n} d(g(w + sigma_t eps, n), x) + alpha sum_ij L_ij(n)

- w starts at the mean of 10,000 mapped samples; one w broadcast to every layer (W), or one per layer (W+);
- Adam (betas 0.9, 0.999) on w and the noise maps n_i, lr 0.1 ramped up linearly over the first 5% of the steps
  and down with a half cosine over the last 25%;
- sigma_t = 0.05 sigma_w max(0, 1 - t / 0.75)^2 with sigma_w^2 = E||w - mean||^2 over those samples, t = step/steps;
- d: the LPIPS-like VGG16 distance of :mod:`artforge.objectives.feature_distance`, on images resized to a side in
  [64, 256] (bilinear up, area down): VGG pools four times and has nothing to say about a 16 px image as it is.
  It measures G's output clamped to [-1, 1], as saved, with the gradient of the unclamped output (straight through),
  so the best step found is the best saved image and pixels beyond the range still pull back;
- L_ij = (mean_xy n_ij(x, y) n_ij(x - 1, y))^2 + (mean_xy n_ij(x, y) n_ij(x, y - 1))^2, wrapping at the edges, on the
  pyramid n_i0 = n_i, n_i,j+1 = 2 avgpool_2x2(n_ij) (the factor 2 keeps unit variance) down to 8 x 8; alpha = 1e5;
- after every step each n_i is renormalised to zero mean and unit variance.

The maps reach the synthesis network through its ``noise`` argument (one ``[1, 1, r, r]`` map per conv layer, in
``G.synthesis.noise_resolutions`` order); gradients are taken with ``torch.autograd.grad`` for w and the maps only, so
G's parameters (and their ``.grad``) are never touched.

``w.npz`` (``artforge project`` writes it, ``artforge sample RUN --w w.npz`` renders it): numpy arrays, no pickles.
- ``ws``: float32 ``[1, num_ws, w_dim]``, the w of every synthesis layer (all rows equal unless ``--w-plus``);
- ``noise_<i>``: float32 ``[H_i, W_i]``, i = 0 .. L-1: the map of the i-th conv layer of ``G.synthesis`` (block by
  block, conv0 before conv1; H_i = W_i = ``G.synthesis.noise_resolutions[i]``), i.e. ``synthesis(ws, noise=[...])``;
- ``noise_layers``: str ``[L]``, the names of those layers' noise buffers in G's state dict
  (``synthesis.blocks.0.conv1.noise.noise_const``, ...), for people reading the file.
:func:`load_w_npz` reads it back (checked against a generator) and :func:`render_ws` renders it exactly: ws through
the synthesis with those maps as its noise inputs. Without the noise arrays it uses G's own constant noise.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from tqdm import tqdm

from artforge.core import checkpoint as ckpt
from artforge.core.atomic import atomic_path
from artforge.core.device import resolve_device
from artforge.core.errors import ArtforgeError
from artforge.data import images as imio
from artforge.data.grid import to_pil
from artforge.data.video import write_frames
from artforge.nn.encoders import VGGEncoder
from artforge.nn.stylegan2 import Generator, NoiseInjection
from artforge.nn.weights import DEFAULT_WEIGHTS, encoder_for
from artforge.objectives.feature_distance import LPIPS_LAYERS, feature_distance
from artforge.train.build import model_from_checkpoint

STEPS = 1000
LR = 0.1
LR_RAMPUP = 0.05  # fraction of the steps
LR_RAMPDOWN = 0.25
W_NOISE = 0.05  # initial w noise, in units of sigma_w
W_NOISE_RAMP = 0.75  # fraction of the steps until it reaches 0
NOISE_WEIGHT = 1e5  # alpha
W_SAMPLES = 10_000
VGG_SIDES = (64, 256)  # the side the distance sees images at: the resolution, clamped to this range
FRAMES = 100  # about this many frames in the progress video
VIDEO_FPS = 20

StepCallback = Callable[[int, int, float], bool]  # (steps done, steps, best distance) -> stop now?


def learning_rate(t: float, base: float = LR, rampup: float = LR_RAMPUP, rampdown: float = LR_RAMPDOWN) -> float:
    """lr(t) = base min(1, t / rampup) (1 - cos(pi min(1, (1 - t) / rampdown))) / 2, for t = step / steps."""
    down = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - t) / rampdown))
    return base * down * min(1.0, t / rampup)


def w_noise_scale(t: float, sigma_w: float, initial: float = W_NOISE, ramp: float = W_NOISE_RAMP) -> float:
    """sigma_t = initial sigma_w max(0, 1 - t / ramp)^2."""
    return sigma_w * initial * max(0.0, 1.0 - t / ramp) ** 2


def noise_regularization(maps: Sequence[Tensor], min_size: int = 8) -> Tensor:
    """sum_i sum_j L_ij: squared one-pixel autocorrelations (x and y, wrapping) of every map ``[H, W]`` at every
    pyramid level (2 x 2 mean pooling times 2) down to ``min_size``; a smaller map counts at its own size."""
    total = torch.zeros((), device=maps[0].device if maps else None)
    for n in maps:
        x = n.reshape(1, 1, n.shape[-2], n.shape[-1])  # [1, 1, H, W]
        while True:
            total = total + (x * x.roll(1, dims=3)).mean().square() + (x * x.roll(1, dims=2)).mean().square()
            if min(x.shape[-2:]) <= min_size:
                break
            x = F.avg_pool2d(x, 2) * 2
    return total


@torch.no_grad()
def normalize_noise_(maps: Sequence[Tensor]) -> None:
    """n <- (n - mean(n)) / std(n), in place, for every map."""
    for n in maps:
        n.sub_(n.mean()).div_(n.std(correction=0).clamp_min(1e-8))


@torch.no_grad()
def w_statistics(g: Generator, n: int = W_SAMPLES, seed: int = 0, batch: int = 1000) -> tuple[Tensor, float]:
    """The mean w ``[w_dim]`` of ``n`` mapped samples (uniform classes if conditional) and sigma_w, the root mean
    squared Euclidean distance of those w to their mean."""
    gen = torch.Generator().manual_seed(seed)
    dev = g.mapping.w_avg.device
    ws = []
    for i in range(0, n, batch):
        m = min(batch, n - i)
        z = torch.randn(m, g.z_dim, generator=gen)
        c = torch.randint(g.num_classes, (m,), generator=gen).to(dev) if g.num_classes else None
        ws.append(g.mapping(z.to(dev), c)[:, 0].float())  # [m, w_dim]
    w = torch.cat(ws)  # [n, w_dim]
    mean = w.mean(dim=0)
    return mean, float((w - mean).square().sum(dim=1).mean().sqrt())


def noise_buffers(g: Generator) -> list[tuple[str, NoiseInjection]]:
    """G's noise layers in the order of ``synthesis(ws, noise=...)``, with the state-dict name of each constant map."""
    layers = [(f"{name}.noise_const", m) for name, m in g.named_modules() if isinstance(m, NoiseInjection)]
    sizes = [tuple(m.noise_const.shape) for _, m in layers]
    if sizes != [(r, r) for r in g.synthesis.noise_resolutions]:
        raise ValueError(f"noise layers {sizes} do not follow synthesis.noise_resolutions")
    return layers


def synthesize(g: Generator, ws: Tensor, maps: Sequence[Tensor] | None = None) -> Tensor:
    """g(ws) in [-1, 1] ``[N, C, R, R]`` with the noise ``maps`` ``[r, r]`` (one per conv layer), or G's own constant
    noise."""
    if maps is None:
        return g.synthesis(ws, noise_mode="const")  # type: ignore[no-any-return]
    return g.synthesis(ws, noise=[n.reshape(1, 1, n.shape[-2], n.shape[-1]) for n in maps])  # type: ignore[no-any-return]


def render_ws(g: Generator, ws: Tensor, maps: Sequence[Tensor] | None = None) -> Tensor:
    """Images in [0, 1] ``[N, C, R, R]`` of ``ws`` ``[N, num_ws, w_dim]`` with noise ``maps`` (or G's own constant
    noise): what ``projected.png`` shows for a ``w.npz``."""
    with torch.no_grad():
        img = synthesize(g, ws, maps)
    return img.float().add(1).div(2).clamp(0, 1)


def vgg_input(img01: Tensor, sides: tuple[int, int] = VGG_SIDES) -> Tensor:
    """``[N, C, R, R]`` in [0, 1] -> RGB at side clamp(R, *sides), the input of the distance's VGG."""
    x = img01.expand(-1, 3, -1, -1) if img01.shape[1] == 1 else img01
    r = x.shape[-1]
    side = min(max(r, sides[0]), sides[1])
    if side > r:
        return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
    return F.interpolate(x, size=(side, side), mode="area") if side < r else x


def target_tensor(img: Image.Image, resolution: int, channels: int) -> Tensor:
    """A PIL image as G sees the data: centre square, resized (Lanczos down, bicubic up), grey or RGB, [1, C, R, R]."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.convert("RGB").crop((left, top, left + side, top + side))
    if side != resolution:
        method = Image.Resampling.LANCZOS if side > resolution else Image.Resampling.BICUBIC
        img = img.resize((resolution, resolution), method)
    return imio.to_tensor(img.convert("L") if channels == 1 else img)


@dataclass
class Projection:
    """The best (lowest distance) ws and noise maps found, their image and the run's figures."""

    ws: Tensor  # [1, num_ws, w_dim]
    noise: list[Tensor]  # [H_i, W_i]
    image: Tensor  # [1, C, R, R] in [0, 1]
    distance: float  # d(image, target)
    start_distance: float  # d(g(mean w), target), before the first step
    steps_done: int
    interrupted: bool = False
    frames: list[np.ndarray] = field(default_factory=list)  # target | current, uint8 [H, 2W, 3]


def _frame(target: Tensor, current: Tensor, max_side: int = 256) -> np.ndarray:
    pair = torch.cat([target, current.detach().float().add(1).div(2).clamp(0, 1)], dim=3)[0:1]  # [1, C, R, 2R]
    if pair.shape[-2] > max_side:
        pair = F.interpolate(pair, scale_factor=max_side / pair.shape[-2], mode="area")
    return np.asarray(to_pil(pair[0].cpu()).convert("RGB"))


def project(
    g: Generator,
    target: Tensor,
    encoder: VGGEncoder,
    *,
    steps: int = STEPS,
    w_plus: bool = False,
    seed: int = 0,
    progress: bool = False,
    frames: int = FRAMES,
    w_samples: int = W_SAMPLES,
    callback: StepCallback | None = None,
) -> Projection:
    """Project ``target`` ``[1, C, R, R]`` in [0, 1] (on G's device) into ``g``. Ctrl-C, or ``callback(steps done,
    steps, best distance)`` returning True, stops at a step and returns the best so far with ``interrupted`` set."""
    dev = g.mapping.w_avg.device
    gen = torch.Generator().manual_seed(seed)
    w_mean, sigma_w = w_statistics(g, w_samples, seed)
    maps = [torch.randn(r, r, generator=gen).to(dev) for r in g.synthesis.noise_resolutions]
    normalize_noise_(maps)
    for n in maps:
        n.requires_grad_(True)
    w_opt = w_mean.reshape(1, 1, -1).repeat(1, g.num_ws if w_plus else 1, 1).requires_grad_(True)  # [1, L or 1, w_dim]
    opt = torch.optim.Adam([w_opt, *maps], lr=LR, betas=(0.9, 0.999))
    with torch.no_grad():
        goal = encoder(vgg_input(target), LPIPS_LAYERS)

    def distance(img: Tensor) -> Tensor:  # G's [-1, 1] output -> d of the clamped image, [N]
        x = img.float().add(1).div(2)
        x = x + (x.clamp(0, 1) - x).detach()  # the saved image's distance, with the gradient of the unclamped one
        return feature_distance(encoder(vgg_input(x), LPIPS_LAYERS), goal)

    def synth(w: Tensor) -> Tensor:
        return synthesize(g, w.expand(-1, g.num_ws, -1), maps)

    with torch.no_grad():
        start = float(distance(synth(w_opt))[0])
    best = (start, w_opt.detach().expand(-1, g.num_ws, -1).clone(), [n.detach().clone() for n in maps])
    every = max(1, steps // frames)
    shots: list[np.ndarray] = []
    done, interrupted = 0, False
    bar = tqdm(total=steps, desc="project", unit="step", disable=not progress, dynamic_ncols=True)
    try:
        for step in range(steps):
            t = step / steps
            for group in opt.param_groups:
                group["lr"] = learning_rate(t)
            w_noise = torch.randn(w_opt.shape, generator=gen).to(dev) * w_noise_scale(t, sigma_w)
            ws = w_opt + w_noise
            img = synth(ws)
            d = distance(img)[0]
            loss = d + NOISE_WEIGHT * noise_regularization(maps)
            dv = float(d.detach())
            if dv < best[0]:
                best = (dv, ws.detach().expand(-1, g.num_ws, -1).clone(), [n.detach().clone() for n in maps])
            if step % every == 0:
                shots.append(_frame(target, img))
            params = [w_opt, *maps]
            for p, grad in zip(params, torch.autograd.grad(loss, params), strict=True):
                p.grad = grad
            opt.step()
            normalize_noise_(maps)
            done = step + 1
            bar.update(1)
            bar.set_postfix(dist=f"{dv:.4f}", best=f"{best[0]:.4f}", refresh=False)
            if callback is not None and callback(done, steps, best[0]):
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if not interrupted:  # the state after the last step was never measured
        with torch.no_grad():
            img = synth(w_opt)
            d_last = float(distance(img)[0])
        shots.append(_frame(target, img))
        if d_last < best[0]:
            best = (d_last, w_opt.detach().expand(-1, g.num_ws, -1).clone(), [n.detach().clone() for n in maps])
    _, ws_best, maps_best = best
    image = render_ws(g, ws_best, maps_best)
    with torch.no_grad():
        final = float(distance(image.mul(2).sub(1))[0])
    return Projection(ws_best, maps_best, image, final, start, done, interrupted, shots)


def save_w_npz(path: Path, g: Generator, ws: Tensor, maps: Sequence[Tensor]) -> Path:
    """Write ``ws`` and the noise maps in the ``w.npz`` format (module docstring), atomically."""
    arrays: dict[str, Any] = {"ws": ws.detach().float().cpu().numpy()}
    for i, n in enumerate(maps):
        arrays[f"noise_{i}"] = n.detach().float().cpu().numpy()
    arrays["noise_layers"] = np.array([name for name, _ in noise_buffers(g)])
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_w_npz(path: str | os.PathLike[str], g: Generator) -> tuple[Tensor, list[Tensor] | None]:
    """``ws`` ``[N, num_ws, w_dim]`` (a ``[N, w_dim]`` array is broadcast to every layer) and the noise maps (None
    when the file has none) of a ``w.npz``, on G's device, checked against ``g``."""
    p = Path(path)
    if not p.is_file():
        raise ArtforgeError(f"--w {p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as f:
            ws = torch.from_numpy(np.asarray(f["ws"], dtype=np.float32))
            count = sum(1 for k in f.files if k.startswith("noise_") and k[6:].isdigit())
            maps = [torch.from_numpy(np.asarray(f[f"noise_{i}"], dtype=np.float32)) for i in range(count)]
    except (OSError, ValueError, KeyError) as e:
        raise ArtforgeError(f"--w {p}: not a w.npz from `artforge project` ({type(e).__name__})") from None
    if ws.ndim == 2 and ws.shape[-1] == g.w_dim:
        ws = ws[:, None].expand(-1, g.num_ws, -1)
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (g.num_ws, g.w_dim):
        raise ArtforgeError(f"--w {p}: ws has shape {tuple(ws.shape)}, this run needs [N, {g.num_ws}, {g.w_dim}]")
    want = [(r, r) for r in g.synthesis.noise_resolutions]
    if maps and [tuple(n.shape) for n in maps] != want:
        raise ArtforgeError(f"--w {p}: its {len(maps)} noise maps do not fit this run's {len(want)} noise layers")
    dev = g.mapping.w_avg.device
    return ws.to(dev), ([n.to(dev) for n in maps] if maps else None)


def _write_video(outdir: Path, frames: list[np.ndarray]) -> Path:
    """progress.mp4, or progress.gif without the video extra (PyAV)."""
    if importlib.util.find_spec("av") is not None:
        return write_frames(outdir / "progress.mp4", frames, fps=VIDEO_FPS)
    k = max(1, -(-256 // frames[0].shape[0]))  # nearest-neighbour enlargement to >= 256 px high
    pics = [Image.fromarray(np.repeat(np.repeat(f, k, axis=0), k, axis=1)) for f in frames]
    dest = outdir / "progress.gif"
    with atomic_path(dest) as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=1000 // VIDEO_FPS, loop=0)
    return dest


def run_projection(
    run: str | os.PathLike[str],
    target: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    steps: int = STEPS,
    w_plus: bool = False,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    encoder: VGGEncoder | None = None,
    callback: StepCallback | None = None,
) -> dict[str, Any]:
    """``artforge project``: checks everything a user can get wrong before any work, projects, writes OUT/
    ``projected.png``, ``target.png``, ``w.npz`` and ``progress.mp4`` (or ``.gif``), also after Ctrl-C or when
    ``callback`` (see :func:`project`) stops it."""
    if steps < 1:
        raise ArtforgeError("--steps must be >= 1")
    path = ckpt.latest(run)
    _, meta = ckpt.load(path, tensors=False)
    model = (meta.get("config") or {}).get("model", "unknown")
    if model != "stylegan2":
        raise ArtforgeError(f"{run}: a {model} run; project is for stylegan2 runs")
    img = imio.load(target, "target image", min_side=1)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ArtforgeError(f"-o {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtforgeError(f"-o {out}: cannot create it ({e.strerror or e})") from None
    if not os.access(out, os.W_OK):
        raise ArtforgeError(f"-o {out}: not writable")
    dev = resolve_device(device)
    net, _, _, _ = model_from_checkpoint(path, dev)
    if not isinstance(net, Generator):
        raise ArtforgeError(f"{run}: not a stylegan2 generator; project is for stylegan2 runs")
    x = target_tensor(img, net.resolution, net.channels).to(dev)
    enc = encoder if encoder is not None else encoder_for(DEFAULT_WEIGHTS, "max", str(dev))
    res = project(net, x, enc, steps=steps, w_plus=w_plus, seed=seed, progress=progress, callback=callback)
    params: dict[str, object] = {
        "run": str(path.resolve()), "target": str(Path(target).resolve()), "steps": steps, "steps_done": res.steps_done,
        "w_plus": w_plus, "seed": seed, "distance": res.distance,
    }  # fmt: skip
    target_png = imio.save(to_pil(x[0].cpu()), out / "target.png", params)
    projected_png = imio.save(to_pil(res.image[0].cpu()), out / "projected.png", params)
    w_file = save_w_npz(out / "w.npz", net, res.ws, res.noise)
    video = _write_video(out, res.frames) if res.frames else None
    mse = float((res.image.cpu() - x.cpu()).square().mean())
    return {
        "outdir": str(out), "projected": str(projected_png), "target": str(target_png), "w": str(w_file),
        "video": None if video is None else str(video), "distance": res.distance,
        "start_distance": res.start_distance, "psnr": 10 * math.log10(1 / max(mse, 1e-12)), "steps": steps,
        "steps_done": res.steps_done, "interrupted": res.interrupted, "checkpoint": str(path),
    }  # fmt: skip
