"""GAN-based stylisation: the Johnson network trained with l1 L_content + l2 L_style + l3 L_adv, a spectral-norm
PatchGAN telling crops of the style image(s) from crops of f(x)."""

from __future__ import annotations

from torch import nn

from artforge.families.johnson import Johnson
from artforge.nn.discriminators import PatchDiscriminator


class GANStyle(Johnson):
    name = "gan-style"
    description = "per-style network trained with an adversarial term (content + style + adversarial loss)"
    betas = (0.5, 0.999)

    def discriminator(self) -> nn.Module | None:
        return PatchDiscriminator()
