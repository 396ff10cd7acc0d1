"""The MLP GAN family: min_G max_D E[log D(x)] + E[log(1 - D(G(z)))] (Goodfellow et al. 2014)."""

from __future__ import annotations

from torch import nn

from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.nn.gan import MLPDiscriminator, MLPGenerator


class GAN(GeneratorFamily):
    name = "gan"
    description = "MLP GAN (Goodfellow et al. 2014)"
    trainer = "gan"
    width = 256
    z_dim = 100

    def build(self, cfg: TrainConfig, shapes: Shapes) -> dict[str, nn.Module]:
        width, r, ch, k = cfg.width or self.width, shapes.resolution, shapes.channels, shapes.num_classes
        return {
            "G": MLPGenerator(self.latent_size(cfg), r, ch, width, k),
            "D": MLPDiscriminator(r, ch, width, k, spectral_norm=cfg.spectral_norm),
        }
