"""Building a run from a TrainConfig: data, the family's networks, its trainer, the run dir. Used by api.train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from artforge.core import checkpoint as ckpt
from artforge.core.errors import ArtforgeError
from artforge.data import images as imio
from artforge.data import samples
from artforge.data.crops import load_pairs, load_pool
from artforge.data.datasets import ImageDataset, open_dataset
from artforge.data.folders import list_folder
from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.families.registry import generator, stylizer
from artforge.nn.stylegan2 import Generator
from artforge.nn.weights import load_encoder
from artforge.train.feedforward import StylizerTrainer
from artforge.train.gan import GANTrainer
from artforge.train.processes import Processes
from artforge.train.stylegan2 import StyleGAN2Trainer
from artforge.train.vae import VAETrainer

Trainer = GANTrainer | VAETrainer | StyleGAN2Trainer | StylizerTrainer


def open_data(cfg: TrainConfig, split: str = "train") -> tuple[ImageDataset, torch.Tensor, torch.Tensor | None]:
    """The data set, its uint8 images ``[N, C, R, R]`` and labels (None unless conditional)."""
    ds = open_dataset(
        cfg.data, cfg.resolution, mirror=cfg.mirror if split == "train" else False, labels=cfg.conditional,
        split=split, channels=cfg.channels, max_images=cfg.max_images,
    )  # fmt: skip
    if cfg.conditional and ds.num_classes == 0:
        raise ArtforgeError(f"--conditional needs labels, and {cfg.data} has none (use class subfolders)")
    images, labels = ds.tensors()
    return ds, images, labels if cfg.conditional else None


def build_trainer(
    cfg: TrainConfig, procs: Processes, ds: ImageDataset, images: torch.Tensor, labels: torch.Tensor | None
) -> GANTrainer | VAETrainer | StyleGAN2Trainer:
    """The family's networks (seeded: identical on every process) and its trainer."""
    torch.manual_seed(cfg.seed)
    fam = generator(cfg.model)
    shapes = Shapes(ds.resolution, ds.channels, ds.num_classes if cfg.conditional else 0)
    nets = fam.build(cfg, shapes)
    if fam.trainer == "vae":
        return VAETrainer(cfg, fam, nets["VAE"], images, labels, procs)
    g, d = nets["G"], nets["D"]
    if fam.trainer == "stylegan2":
        assert isinstance(g, Generator)
        return StyleGAN2Trainer(cfg, fam, g, d, images, labels, shapes.num_classes, procs)
    if procs.world > 1 and procs.device.type == "cuda":  # batch statistics over all GPUs (no CPU SyncBatchNorm)
        g = torch.nn.SyncBatchNorm.convert_sync_batchnorm(g)
        d = torch.nn.SyncBatchNorm.convert_sync_batchnorm(d)
    return GANTrainer(cfg, fam, g, d, images, labels, fam.latent_size(cfg), shapes.num_classes, procs)


def load_run_config(run: Path) -> TrainConfig:
    path = run / "config.json"
    if not path.is_file():
        raise ArtforgeError(f"{run}: not an artforge run directory (no config.json)")
    return TrainConfig.from_dict(json.loads(path.read_text()))


def describe(cfg: TrainConfig) -> str:
    data = Path(cfg.data.split(":", 1)[-1]).stem if ("/" in cfg.data or "." in cfg.data) else cfg.data.split(":")[0]
    return f"{cfg.model}-{data}" + (f"-{cfg.resolution}" if cfg.resolution else "")


def model_from_checkpoint(
    path: Path, device: torch.device | str = "cpu"
) -> tuple[torch.nn.Module, TrainConfig, dict[str, Any], GeneratorFamily]:
    """The sampling network of a checkpoint (G_ema for GANs, the VAE), its config, metadata and family.

    The caller's global RNG is left as it was: the networks' initialisation runs on a forked RNG."""
    tensors, meta = ckpt.load(path)
    if "config" not in meta:
        raise ArtforgeError(f"{path}: holds no training config")
    cfg = TrainConfig.from_dict(meta["config"])
    if not meta.get("shapes"):
        raise ArtforgeError(f"{path}: holds no data shapes")
    shapes = Shapes(**meta["shapes"])
    fam = generator(cfg.model)
    with torch.random.fork_rng(devices=[]):
        prefix, net = fam.sampler(cfg, shapes)
    ckpt.load_module(prefix, net, tensors, path)
    return net.to(device).eval(), cfg, meta, fam


def new_run(out: str | Path, cfg: TrainConfig, procs: Processes) -> Path:
    """A numbered run dir made by process 0 (its path broadcast to the others), with config.json."""
    path = [str(ckpt.next_run_dir(out, describe(cfg)))] if procs.main else [""]
    if procs.world > 1:
        dist.broadcast_object_list(path, src=0)
    run = Path(path[0])
    if procs.main:
        cfg.save(run / "config.json")
    return run


def style_images(specs: list[str], long_side: int) -> list[torch.Tensor]:
    """Style image files, ``sample:NAME``s or folders of them -> ``[1, 3, h, w]`` tensors, long side ``long_side``."""
    out: list[torch.Tensor] = []
    for spec in specs:
        if not samples.is_sample(spec) and Path(spec).is_dir():
            imgs = [imio.load(Path(spec) / f, "style image") for f in sorted(list_folder(Path(spec)))]
        else:
            imgs = [samples.open_image(spec, "style image")]
        out += [imio.to_tensor(imio.resize_long(img, long_side)) for img in imgs]
    if not out:
        raise ArtforgeError(f"--style {' '.join(specs)}: no style images")
    return out


def build_stylizer(cfg: TrainConfig, procs: Processes) -> tuple[StylizerTrainer, str, dict[str, Any]]:
    """Data, loss network, stylisation network (and the family's discriminator) for a styliser family."""
    fam = stylizer(cfg.model)
    res = cfg.resolution or 256
    if cfg.targets:
        content = load_pairs(cfg.data, cfg.targets, res, cfg.max_images)  # [N, 6, 2R, 2R]: photo | target
    else:
        content = load_pool(cfg.data, res, cfg.max_images)
    encoder = load_encoder(cfg.weights, progress=procs.main)
    if fam.needs_style:  # adain: a pool of style crops drawn from every step
        style = [torch.cat([load_pool(s, res, what="--style") for s in cfg.style])]
    else:
        style = style_images(cfg.style, cfg.style_size or 2 * res)
    torch.manual_seed(cfg.seed)
    spec = fam.net_spec(cfg, encoder)
    net = fam.build_net(spec)
    trainer = StylizerTrainer(cfg, fam, net, encoder, content, style, procs, fam.discriminator())
    n_style = len(style[0]) if fam.needs_style else len(style)
    return trainer, f"{len(content)} photos, {n_style} style image(s), {res} px crops", {"net": spec.to_dict()}
