"""The VAE family: max E_q[log p(x|z)] - beta KL(q(z|x) || p(z)) (Kingma & Welling 2014; Higgins et al. 2017)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from artforge.core.errors import ArtforgeError
from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.nn.vae import ConvVAE


class VAE(GeneratorFamily):
    name = "vae"
    description = "convolutional VAE (Kingma & Welling 2014), beta option"
    trainer = "vae"
    width = 32
    z_dim = 32
    lr = 1e-3
    betas = (0.9, 0.999)

    def build(self, cfg: TrainConfig, shapes: Shapes) -> dict[str, nn.Module]:
        likelihood = cfg.likelihood or ("bernoulli" if shapes.channels == 1 else "logistic")
        vae = ConvVAE(
            shapes.resolution, shapes.channels, self.latent_size(cfg), cfg.width or self.width, shapes.num_classes,
            likelihood=likelihood,
        )  # fmt: skip
        return {"VAE": vae}

    @torch.no_grad()
    def generate(self, net: nn.Module, z: Tensor, c: Tensor | None, psi: float = 1.0) -> Tensor:
        """The decoder's mean for ``z``, in [0, 1]."""
        if psi != 1.0:
            raise ArtforgeError("--trunc is for stylegan2 runs, not vae")
        return net.mean(z, c).float().clamp(0, 1)  # type: ignore[operator, no-any-return]
