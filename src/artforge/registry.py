"""Name -> model family; the CLI's ``--model`` choices come from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    from artforge.config import TrainConfig


@dataclass(frozen=True)
class ModelSpec:
    """A constructible model family: the shapes it needs are filled in from the data set."""

    kind: str  # "gan" (generator + discriminator), "vae" or "styliser"
    default_width: int
    default_z_dim: int
    description: str


MODELS: dict[str, ModelSpec] = {
    "gan": ModelSpec("gan", 256, 100, "MLP GAN (Goodfellow et al. 2014)"),
    "dcgan": ModelSpec("gan", 64, 100, "DCGAN (Radford et al. 2016), 28/32/64/128 px"),
    "vae": ModelSpec("vae", 32, 32, "convolutional VAE (Kingma & Welling 2014), beta option"),
    "johnson": ModelSpec("styliser", 16, 0, "per-style feed-forward network (Johnson et al. 2016); --style IMAGE"),
    "gan-style": ModelSpec("styliser", 16, 0, "per-style network + PatchGAN adversarial term; --style IMAGE(S)"),
    "adain": ModelSpec("styliser", 1, 0, "arbitrary-style AdaIN decoder (Huang & Belongie 2017); --style FOLDER"),
}


@dataclass(frozen=True)
class Shapes:
    resolution: int
    channels: int
    num_classes: int


def build_gan(cfg: TrainConfig, shapes: Shapes) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for ``cfg.model`` at the data set's shapes."""
    spec = MODELS[cfg.model]
    width, z_dim = cfg.width or spec.default_width, cfg.z_dim or spec.default_z_dim
    r, ch, k = shapes.resolution, shapes.channels, shapes.num_classes
    if cfg.model == "gan":
        from artforge.nn.gan import MLPDiscriminator, MLPGenerator

        return (
            MLPGenerator(z_dim, r, ch, width, k),
            MLPDiscriminator(r, ch, width, k, spectral_norm=cfg.spectral_norm),
        )
    from artforge.nn.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights

    g = DCGANGenerator(z_dim, r, ch, width, k)
    d = DCGANDiscriminator(
        r, ch, width, k, spectral_norm=cfg.spectral_norm, norm="layer" if cfg.loss == "wgan-gp" else "batch"
    )
    g.apply(init_weights)
    d.apply(init_weights)
    return g, d


def build_vae(cfg: TrainConfig, shapes: Shapes) -> nn.Module:
    from artforge.nn.vae import ConvVAE

    spec = MODELS["vae"]
    likelihood = cfg.likelihood or ("bernoulli" if shapes.channels == 1 else "logistic")
    return ConvVAE(
        shapes.resolution,
        shapes.channels,
        cfg.z_dim or spec.default_z_dim,
        cfg.width or spec.default_width,
        shapes.num_classes,
        likelihood=likelihood,
    )
