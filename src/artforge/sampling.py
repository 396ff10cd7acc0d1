"""Using a trained generator: samples, slerp interpolation (Shoemake 1985; White 2016 for GAN
latents), and for a VAE reconstructions and latent traversals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from artforge.atomic import atomic_path
from artforge.data.grid import make_grid, to_pil
from artforge.errors import ArtforgeError
from artforge.registry import MODELS


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent vectors ``[N, D]``; linear when they are parallel."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(so.abs() < 1e-6, lerp, out)


@torch.no_grad()
def generate(net: torch.nn.Module, kind: str, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Images in [0, 1], ``[N, C, R, R]``: G_ema(z) mapped from [-1, 1], or the VAE decoder's mean."""
    if kind == "vae":
        return net.mean(z, c).float().clamp(0, 1)  # type: ignore[operator, no-any-return]
    return net(z, c).float().add(1).div(2).clamp(0, 1)  # type: ignore[no-any-return]


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
    device: str = "auto",
) -> list[Path]:  # fmt: skip
    from artforge import checkpoint as ckpt
    from artforge.api import resolve_device
    from artforge.training import model_from_checkpoint

    if n < 1:
        raise ArtforgeError("--n must be >= 1")
    if not (outdir or grid or gif or video):
        raise ArtforgeError("say where to write: --outdir DIR, --grid FILE, --gif FILE or --video FILE")
    if (gif or video) and not interpolate:
        raise ArtforgeError("--gif and --video write an interpolation: add --interpolate")
    if video:
        from artforge.video.io import check_output

        check_output(video)  # before any work
    dev = resolve_device(device)
    net, cfg, meta = model_from_checkpoint(ckpt.latest(run), dev)
    kind = MODELS[cfg.model].kind
    z_dim = int(cfg.z_dim or MODELS[cfg.model].default_z_dim)
    num_classes = int(meta["shapes"]["num_classes"])
    gen = torch.Generator().manual_seed(seed)
    written: list[Path] = []
    if reconstruct or traverse:
        if kind != "vae":
            raise ArtforgeError("--reconstruct and --traverse are for VAE runs")
        images = _vae_views(net, cfg, reconstruct, traverse, n, gen, dev)
    elif interpolate:
        keys = torch.randn(max(n, 2), z_dim, generator=gen)
        c = _labels(1, num_classes, class_index, gen)
        zs = [
            slerp(keys[i : i + 1], keys[i + 1 : i + 2], t / frames) for i in range(len(keys) - 1) for t in range(frames)
        ]
        z = torch.cat([*zs, keys[-1:]]).to(dev)
        images = generate(net, kind, z, None if c is None else c.expand(len(z)).to(dev)).cpu()
        if gif:
            pics = [to_pil(im) for im in images]
            with atomic_path(Path(gif)) as tmp:
                pics[0].save(
                    tmp, format="GIF", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0
                )
            written.append(Path(gif))
        if video:
            from artforge.video.io import write_frames

            rgb = [np.asarray(to_pil(im).convert("RGB")) for im in images]
            written.append(write_frames(video, rgb, fps=fps))
    else:
        z = torch.randn(n, z_dim, generator=gen).to(dev)
        c = _labels(n, num_classes, class_index, gen)
        images = generate(net, kind, z, None if c is None else c.to(dev)).cpu()
    if outdir:
        written += _write_all(images, Path(outdir), f"seed{seed}-")
    if grid:
        nrow = frames + 1 if interpolate and len(images) <= 4 * (frames + 1) else None
        make_grid(images, nrow=nrow).save(grid)
        written.append(Path(grid))
    return written


@torch.no_grad()
def _vae_views(
    net: torch.nn.Module, cfg: object, data: str | None, traverse: bool, n: int, gen: torch.Generator, dev: torch.device
) -> torch.Tensor:
    if data:
        from artforge.config import TrainConfig
        from artforge.training import open_data

        assert isinstance(cfg, TrainConfig)
        tcfg = TrainConfig.from_dict({**cfg.to_dict(), "data": data, "conditional": cfg.conditional, "mirror": False})
        _, images, labels = open_data(tcfg, split="test" if data in ("fashion-mnist", "mnist", "cifar10") else "train")
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
    return generate(net, "vae", z, None).cpu()
