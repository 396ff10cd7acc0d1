"""Building a run from a TrainConfig: data, models, trainer, run dir, resume. Used by api.train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from artforge import checkpoint as ckpt
from artforge.config import TrainConfig
from artforge.engines.run import Processes
from artforge.errors import ArtforgeError
from artforge.registry import MODELS, Shapes, build_gan, build_vae


def open_data(cfg: TrainConfig, split: str = "train") -> tuple[Any, torch.Tensor, torch.Tensor | None]:
    """The data set, its uint8 images ``[N, C, R, R]`` and labels (None unless conditional)."""
    from artforge.data.datasets import open_dataset

    ds = open_dataset(
        cfg.data, cfg.resolution, mirror=cfg.mirror if split == "train" else False, labels=cfg.conditional,
        split=split, channels=cfg.channels, max_images=cfg.max_images,
    )  # fmt: skip
    if cfg.conditional and ds.num_classes == 0:
        raise ArtforgeError(f"--conditional needs labels, and {cfg.data} has none (use class subfolders)")
    images, labels = ds.tensors()
    return ds, images, labels if cfg.conditional else None


def build_trainer(
    cfg: TrainConfig, procs: Processes, ds: Any, images: torch.Tensor, labels: torch.Tensor | None
) -> Any:
    """Models (seeded: identical on every process) and the family's trainer."""
    torch.manual_seed(cfg.seed)
    shapes = Shapes(ds.resolution, ds.channels, ds.num_classes if cfg.conditional else 0)
    if MODELS[cfg.model].kind == "vae":
        from artforge.engines.vae import VAETrainer

        return VAETrainer(cfg, build_vae(cfg, shapes), images, labels, procs)
    from artforge.engines.gan import GANTrainer

    g, d = build_gan(cfg, shapes)
    if procs.world > 1 and procs.device.type == "cuda":  # batch statistics over all GPUs (no CPU SyncBatchNorm)
        g = torch.nn.SyncBatchNorm.convert_sync_batchnorm(g)
        d = torch.nn.SyncBatchNorm.convert_sync_batchnorm(d)
    z_dim = cfg.z_dim or MODELS[cfg.model].default_z_dim
    return GANTrainer(cfg, g, d, images, labels, z_dim, shapes.num_classes, procs)


def load_run_config(run: Path) -> TrainConfig:
    path = run / "config.json"
    if not path.is_file():
        raise ArtforgeError(f"{run}: not an artforge run directory (no config.json)")
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "skip" not in data:
        data["skip"] = False  # runs from before the skip option trained the paper's network
    return TrainConfig.from_dict(data)


def describe(cfg: TrainConfig) -> str:
    data = Path(cfg.data.split(":", 1)[-1]).stem if ("/" in cfg.data or "." in cfg.data) else cfg.data.split(":")[0]
    return f"{cfg.model}-{data}" + (f"-{cfg.resolution}" if cfg.resolution else "")


def model_from_checkpoint(
    path: Path, device: torch.device | str = "cpu"
) -> tuple[torch.nn.Module, TrainConfig, dict[str, Any]]:
    """The sampling network of a checkpoint (G_ema for GANs, the VAE), its config and metadata."""
    tensors, meta = ckpt.load(path)
    if "config" not in meta:
        raise ArtforgeError(f"{path}: holds no training config")
    cfg = TrainConfig.from_dict(meta["config"])
    shapes_meta = meta.get("shapes")
    if not shapes_meta:
        raise ArtforgeError(f"{path}: holds no data shapes")
    shapes = Shapes(**shapes_meta)
    torch.manual_seed(0)
    if MODELS[cfg.model].kind == "vae":
        net = build_vae(cfg, shapes)
        ckpt.load_module("VAE", net, tensors, path)
    else:
        net, _ = build_gan(cfg, shapes)
        ckpt.load_module("G_ema", net, tensors, path)
    return net.to(device).eval(), cfg, meta


def new_run(out: str | Path, cfg: TrainConfig, procs: Processes) -> Path:
    """A numbered run dir made by process 0 (its path broadcast to the others), with config.json."""
    path = [str(ckpt.next_run_dir(out, describe(cfg)))] if procs.main else [""]
    if procs.world > 1:
        import torch.distributed as dist

        dist.broadcast_object_list(path, src=0)
    run = Path(path[0])
    if procs.main:
        cfg.save(run / "config.json")
    return run


def style_images(specs: list[str], long_side: int) -> list[torch.Tensor]:
    """Style image files, ``sample:NAME``s or folders of them -> ``[1, 3, h, w]`` tensors, long side ``long_side``."""
    from artforge.data import images as imio
    from artforge.data import samples
    from artforge.data.folders import list_folder

    out: list[torch.Tensor] = []
    for spec in specs:
        if samples.is_sample(spec):
            imgs = [samples.load(spec)]
        elif Path(spec).is_dir():
            files = sorted(list_folder(Path(spec)))
            imgs = [imio.load(Path(spec) / f, "style image") for f in files]
        else:
            imgs = [imio.load(spec, "style image")]
        out += [imio.to_tensor(imio.resize_long(img, long_side)) for img in imgs]
    if not out:
        raise ArtforgeError(f"--style {' '.join(specs)}: no style images")
    return out


def build_styliser(cfg: TrainConfig, procs: Processes) -> tuple[Any, str, dict[str, Any]]:
    """Data, loss network, stylisation network (and discriminator) for johnson / gan-style / adain."""
    from artforge.data.crops import load_pool
    from artforge.engines.feedforward import StyliserTrainer
    from artforge.nn.adain import DEFAULT_SKIPS
    from artforge.nn.encoders import preprocessing_name
    from artforge.stylisers import NetSpec, default_width
    from artforge.weights import load_encoder

    res = cfg.resolution or 256
    content = load_pool(cfg.data, res, cfg.max_images)
    encoder = load_encoder(cfg.weights, progress=procs.main)
    if cfg.model == "adain":
        style = [torch.cat([load_pool(s, res, what="--style") for s in cfg.style])]
    else:
        style = style_images(cfg.style, cfg.style_size or 2 * res)
    torch.manual_seed(cfg.seed)
    adain = cfg.model == "adain"
    width = cfg.width or (cfg.encoder_width if adain else default_width(cfg.model))  # adain: the encoder's
    spec = NetSpec(
        cfg.model, width, arch=encoder.arch, weights=cfg.weights,
        skip=not adain and cfg.skip, skips=DEFAULT_SKIPS if adain and cfg.skip else (),
        encoder_width=cfg.encoder_width, preprocessing=preprocessing_name(encoder.preprocessing),
    )  # fmt: skip
    disc = None
    if cfg.model == "gan-style":
        from artforge.nn.discriminators import PatchDiscriminator

        disc = PatchDiscriminator()
    trainer = StyliserTrainer(cfg, spec.build(), encoder, content, style, procs, disc)
    n_style = len(style[0]) if cfg.model == "adain" else len(style)
    return trainer, f"{len(content)} photos, {n_style} style image(s), {res} px crops", {"net": spec.to_dict()}
