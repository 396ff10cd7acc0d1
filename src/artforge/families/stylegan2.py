"""The StyleGAN2-ADA family: style-based generator and residual discriminator (Karras et al. 2020, "Analyzing and
Improving the Image Quality of StyleGAN"), trained with adaptive discriminator augmentation (Karras et al. 2020b)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from artforge.core.errors import ArtforgeError
from artforge.families.base import GeneratorFamily, Shapes
from artforge.families.config import TrainConfig
from artforge.nn.augment import parse_augment
from artforge.nn.stylegan2 import Discriminator, Generator

STANDARD = ("fashion-mnist", "mnist", "cifar10")  # 28 or 32 px natively: trained at 32
PRESETS = {8: (256, 64), 16: (1024, 64), 32: (2048, 128), 64: (4096, 256), 128: (8192, 512)}  # base, max
# Above 128 px: the paper's config F widths (channel_base 16384, channel_max 512).


def widths(resolution: int, width: int | None) -> tuple[int, int]:
    """(channel_base, channel_max): channels at resolution r are min(channel_base / r, channel_max). Small presets
    below 256 px keep a 32 px model trainable on a laptop CPU; ``--width`` sets channel_max, the base scales too."""
    base, cmax = PRESETS.get(resolution, (16384, 512))
    if width is None:
        return base, cmax
    return max(1, base * width // cmax), width


class StyleGAN2(GeneratorFamily):
    name = "stylegan2"
    description = "StyleGAN2-ADA (Karras et al. 2020), power-of-two sizes from 8 px, style mixing, truncation"
    trainer = "stylegan2"
    width = 0  # by resolution (see PRESETS)
    z_dim = 512
    lr = 0.0025  # the paper's Adam settings
    betas = (0.0, 0.99)
    stylegan_only = ()

    def ema_kimg(self, cfg: TrainConfig) -> float:
        """``--ema-kimg``, or stylegan2-ada's batch * 10 / 32 (10 kimg at batch 32)."""
        return cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch * 10 / 32

    def resolve(self, cfg: TrainConfig) -> TrainConfig:
        if cfg.resolution is not None:
            return cfg
        return replace(cfg, resolution=32 if cfg.data.split(":")[0] in STANDARD else 64)

    def check(self, cfg: TrainConfig) -> None:
        r = cfg.resolution
        if r is not None and (r < 8 or r > 1024 or r & (r - 1)):
            raise ArtforgeError(f"--resolution {r}: stylegan2 needs a power of two from 8 to 1024 (32, 64, 128, 256)")
        if cfg.loss != "bce":
            raise ArtforgeError("--loss: stylegan2 trains with the non-saturating logistic loss (bce) only")
        if cfg.spectral_norm:
            raise ArtforgeError("--spectral-norm is not part of stylegan2 (it uses R1 and equalised learning rates)")
        if cfg.amp == "fp16":
            raise ArtforgeError("--amp fp16: stylegan2 trains in bf16 (auto on CUDA) or fp32 (none)")
        if cfg.accumulate != 1:
            raise ArtforgeError("--accumulate is not supported by stylegan2; lower --batch instead")
        if cfg.style:
            raise ArtforgeError("--style is for the stylisers (johnson, gan-style, adain)")
        if cfg.encoder_width != 1:
            raise ArtforgeError("--encoder-width is for --model adain")
        if cfg.augment is not None:
            parse_augment(cfg.augment)
        checks = [
            (cfg.r1_gamma is None or cfg.r1_gamma >= 0, "--r1-gamma must be >= 0"),
            (cfg.pl_weight >= 0, "--pl-weight must be >= 0"),
            (0 <= cfg.style_mixing <= 1, "--style-mixing is a probability, 0 to 1"),
            (cfg.mapping_layers >= 1, "--mapping-layers must be >= 1"),
            (0 < cfg.ada_target < 1 and cfg.ada_kimg > 0, "--ada-target must be in (0, 1), --ada-kimg > 0"),
            (cfg.width is None or cfg.width >= 1, "--width must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ArtforgeError(message)

    def build(self, cfg: TrainConfig, shapes: Shapes) -> dict[str, nn.Module]:
        base, cmax = widths(shapes.resolution, cfg.width)
        z = self.latent_size(cfg)
        r, ch, k = shapes.resolution, shapes.channels, shapes.num_classes
        g = Generator(z, z, r, ch, k, channel_base=base, channel_max=cmax, mapping_layers=cfg.mapping_layers)
        d = Discriminator(r, ch, k, channel_base=base, channel_max=cmax)
        return {"G": g, "D": d}

    @torch.no_grad()
    def generate(self, net: nn.Module, z: Tensor, c: Tensor | None, psi: float = 1.0) -> Tensor:
        """G_ema(z, c) with truncation ``psi`` toward the tracked w_avg and the constant noise buffers (so that a
        seed always gives the same image), in [0, 1]."""
        return net(z, c, psi=psi, noise_mode="const").float().add(1).div(2).clamp(0, 1)  # type: ignore[no-any-return]
