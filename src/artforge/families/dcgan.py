"""The DCGAN family: all-convolutional G and D with batch norm (Radford et al. 2016), 28/32/64/128 px."""

from __future__ import annotations

from torch import nn

from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.nn.dcgan import DCGANDiscriminator, DCGANGenerator, init_weights


class DCGAN(GeneratorFamily):
    name = "dcgan"
    description = "DCGAN (Radford et al. 2016), 28/32/64/128 px"
    trainer = "gan"
    width = 64
    z_dim = 100

    def build(self, cfg: TrainConfig, shapes: Shapes) -> dict[str, nn.Module]:
        width, r, ch, k = cfg.width or self.width, shapes.resolution, shapes.channels, shapes.num_classes
        g = DCGANGenerator(self.latent_size(cfg), r, ch, width, k)
        norm = "layer" if cfg.loss == "wgan-gp" else "batch"  # WGAN-GP's penalty is per sample: no batch norm in D
        d = DCGANDiscriminator(r, ch, width, k, spectral_norm=cfg.spectral_norm, norm=norm)
        g.apply(init_weights)
        d.apply(init_weights)
        return {"G": g, "D": d}
