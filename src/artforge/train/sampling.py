"""Using a trained generator: samples, slerp interpolation (Shoemake 1985; White 2016 for GAN
latents), and for a VAE reconstructions and latent traversals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from artforge.core import checkpoint as ckpt
from artforge.core.atomic import atomic_path
from artforge.core.device import resolve_device
from artforge.core.errors import ArtforgeError
from artforge.data.datasets import held_out_split
from artforge.data.grid import make_grid, to_pil
from artforge.data.video import check_output, write_frames
from artforge.families.base import GeneratorFamily
from artforge.families.config import TrainConfig
from artforge.nn.stylegan2 import Generator
from artforge.train import stylegan2_sampling as sg
from artforge.train.build import model_from_checkpoint, open_data
from artforge.train.projection import load_w_npz, render_ws


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent vectors ``[N, D]``; linear when they are parallel."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(so.abs() < 1e-6, lerp, out)


@torch.no_grad()
def generate_uint8(
    net: torch.nn.Module,
    fam: GeneratorFamily,
    cfg: TrainConfig,
    num_classes: int,
    n: int,
    seed: int,
    device: torch.device,
    batch: int,
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """``n`` samples ``[n, C, R, R]`` quantised to uint8 as saved images are, from latents (and random labels)
    drawn by a private generator seeded with ``seed``: what the metrics judge, in training and in ``eval``."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, fam.latent_size(cfg), generator=g)  # [n, z_dim]
    c = torch.randint(num_classes, (n,), generator=g) if num_classes else None
    out: np.ndarray[Any, np.dtype[np.uint8]] | None = None
    for i in range(0, n, batch):
        ci = None if c is None else c[i : i + batch].to(device)
        x = fam.generate(net, z[i : i + batch].to(device), ci)
        q = x.mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        if out is None:
            out = np.empty((n, *q.shape[1:]), np.uint8)
        out[i : i + batch] = q
    assert out is not None
    return out


def _labels(n: int, num_classes: int, class_index: int | None, gen: torch.Generator) -> torch.Tensor | None:
    if not num_classes:
        if class_index is not None:
            raise ArtforgeError("--class needs a class-conditional model (trained with --conditional)")
        return None
    if class_index is not None:
        if not 0 <= class_index < num_classes:
            raise ArtforgeError(f"--class must be in 0..{num_classes - 1}")
        return torch.full((n,), class_index, dtype=torch.long)
    return torch.randint(num_classes, (n,), generator=gen)


def _write_all(images: torch.Tensor, outdir: Path, stem: str) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        p = outdir / f"{stem}{i:04d}.png"
        to_pil(img).save(p)
        paths.append(p)
    return paths


def run_sampling(
    run: str | os.PathLike[str], n: int = 16, outdir: str | None = None, grid: str | None = None, seed: int = 0,
    class_index: int | None = None, interpolate: bool = False, frames: int = 16, gif: str | None = None,
    video: str | None = None, fps: int = 25, reconstruct: str | None = None, traverse: bool = False,
    device: str = "auto", trunc: float | list[float] = 1.0, style_mix: str | None = None, noise: str = "const",
    w: str | None = None,
) -> list[Path]:  # fmt: skip
    if n < 1:
        raise ArtforgeError("--n must be >= 1")
    if not (outdir or grid or gif or video):
        raise ArtforgeError("say where to write: --outdir DIR, --grid FILE, --gif FILE or --video FILE")
    if (gif or video) and not interpolate:
        raise ArtforgeError("--gif and --video write an interpolation: add --interpolate")
    if video:
        check_output(video)  # before any work
    dev = resolve_device(device)
    net, cfg, meta, fam = model_from_checkpoint(ckpt.latest(run), dev)
    z_dim = fam.latent_size(cfg)
    num_classes = int(meta["shapes"]["num_classes"])
    gen = torch.Generator().manual_seed(seed)
    psis = [float(trunc)] if isinstance(trunc, (int, float)) else [float(t) for t in trunc]
    written: list[Path] = []
    if not isinstance(net, Generator) and (style_mix or w or noise != "const" or psis != [1.0]):
        raise ArtforgeError(f"--trunc, --style-mix, --noise and --w are for stylegan2 runs, not {cfg.model}")
    if noise not in sg.NOISE_MODES:
        raise ArtforgeError(f"--noise: {', '.join(sg.NOISE_MODES)}")
    if not psis:
        raise ArtforgeError("--trunc needs a value")
    if isinstance(net, Generator) and (style_mix or w or interpolate or len(psis) > 1 or noise != "const"):
        images, nrow = _stylegan2_views(net, n, gen, num_classes, class_index, psis, style_mix, noise, w, frames,
                                        interpolate)  # fmt: skip
        return written + _write(images, nrow, outdir, grid, gif, video, fps, seed)
    if reconstruct or traverse:
        if fam.trainer != "vae":
            raise ArtforgeError("--reconstruct and --traverse are for VAE runs")
        images = _vae_views(net, fam, cfg, reconstruct, traverse, n, gen, dev)
    elif interpolate:
        keys = torch.randn(max(n, 2), z_dim, generator=gen)
        c = _labels(1, num_classes, class_index, gen)
        zs = [
            slerp(keys[i : i + 1], keys[i + 1 : i + 2], t / frames) for i in range(len(keys) - 1) for t in range(frames)
        ]
        z = torch.cat([*zs, keys[-1:]]).to(dev)
        images = fam.generate(net, z, None if c is None else c.expand(len(z)).to(dev)).cpu()
        if gif:
            pics = [to_pil(im) for im in images]
            with atomic_path(Path(gif)) as tmp:
                pics[0].save(
                    tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0
                )
            written.append(Path(gif))
        if video:
            rgb = [np.asarray(to_pil(im).convert("RGB")) for im in images]
            written.append(write_frames(video, rgb, fps=fps))
    else:
        z = torch.randn(n, z_dim, generator=gen).to(dev)
        c = _labels(n, num_classes, class_index, gen)
        images = fam.generate(net, z, None if c is None else c.to(dev), psi=psis[0]).cpu()
    if outdir:
        written += _write_all(images, Path(outdir), f"seed{seed}-")
    if grid:
        nrow = frames + 1 if interpolate and len(images) <= 4 * (frames + 1) else None
        make_grid(images, nrow=nrow).save(grid)
        written.append(Path(grid))
    return written


def _write(
    images: torch.Tensor, nrow: int | None, outdir: str | None, grid: str | None, gif: str | None,
    video: str | None, fps: int, seed: int,
) -> list[Path]:  # fmt: skip
    """Write ``images`` as PNGs, a grid, a GIF and/or a video."""
    written: list[Path] = []
    if gif:
        pics = [to_pil(im) for im in images]
        with atomic_path(Path(gif)) as tmp:
            pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0)
        written.append(Path(gif))
    if video:
        written.append(write_frames(video, [np.asarray(to_pil(im).convert("RGB")) for im in images], fps=fps))
    if outdir:
        written += _write_all(images, Path(outdir), f"seed{seed}-")
    if grid:
        make_grid(images, nrow=nrow).save(grid)
        written.append(Path(grid))
    return written


def _stylegan2_views(
    g: Generator, n: int, gen: torch.Generator, num_classes: int, class_index: int | None, psis: list[float],
    style_mix: str | None, noise: str, w: str | None, frames: int, interpolate: bool,
) -> tuple[torch.Tensor, int | None]:  # fmt: skip
    """A style-based generator's views: a projected ``w.npz``, the style-mixing grid, a W-space walk, or samples
    (one column per truncation ``psi`` when several are given: the truncation strip)."""
    if w:  # with the projected noise maps when the file has them, else the --noise mode
        ws, maps = load_w_npz(w, g)
        return (sg.render(g, ws, noise) if maps is None else render_ws(g, ws, maps).cpu()), None
    c = _labels(max(n, 2), num_classes, class_index, gen)
    if style_mix:
        rows, cols = torch.randn(n, g.z_dim, generator=gen), torch.randn(n, g.z_dim, generator=gen)
        return sg.style_mix_grid(g, rows, cols, c, style_mix, psis[0], noise)
    if interpolate:
        keys = torch.randn(max(n, 2), g.z_dim, generator=gen)
        return sg.w_walk(g, keys, None if c is None else c[:1], frames, psis[0], noise), frames + 1
    z = torch.randn(n, g.z_dim, generator=gen).to(g.mapping.w_avg.device)
    cd = None if c is None else c[:n].to(z.device)
    columns = [sg.render(g, g.mapping(z, cd, psi=psi), noise) for psi in psis]  # each [n, C, R, R]
    return torch.stack(columns, dim=1).flatten(0, 1), len(psis)  # rows: seeds, columns: psi


@torch.no_grad()
def _vae_views(
    net: torch.nn.Module,
    fam: GeneratorFamily,
    cfg: TrainConfig,
    data: str | None,
    traverse: bool,
    n: int,
    gen: torch.Generator,
    dev: torch.device,
) -> torch.Tensor:
    if data:
        tcfg = TrainConfig.from_dict({**cfg.to_dict(), "data": data, "conditional": cfg.conditional, "mirror": False})
        _, images, labels = open_data(tcfg, split=held_out_split(data))
        x = images[:n].to(dev).float() / 255
        c = labels[:n].to(dev) if labels is not None else None
        mu, _ = net.encode(x, c)  # type: ignore[operator]
        recon = net.mean(mu, c).float().clamp(0, 1)  # type: ignore[operator]
        pairs = torch.stack([x, recon], dim=1).flatten(0, 1)  # original, reconstruction, ...
        return pairs.cpu()  # type: ignore[no-any-return]
    z_dim = int(net.z_dim)  # type: ignore[arg-type]
    base = torch.randn(1, z_dim, generator=gen).to(dev)
    steps = torch.linspace(-3, 3, 9, device=dev)
    dims = min(z_dim, n)
    z = base.repeat(dims * len(steps), 1)
    for d in range(dims):
        z[d * len(steps) : (d + 1) * len(steps), d] = steps
    return fam.generate(net, z, None).cpu()
