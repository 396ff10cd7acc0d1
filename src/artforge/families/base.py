"""A model family: its defaults, its checks, how to build its networks and what it exports (one object per family)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from artforge.core.errors import ArtforgeError
from artforge.families.config import TrainConfig


@dataclass(frozen=True)
class Shapes:
    """What a family needs from the data set to build its networks."""

    resolution: int
    channels: int
    num_classes: int


class Family:
    """Subclass one per model; ``artforge.families.registry.FAMILIES`` maps ``--model`` names to instances.

    ``trainer`` names the engine in ``artforge.train`` that steps it: ``gan`` (a generator and a discriminator),
    ``vae`` or ``styliser`` (a feed-forward stylisation network).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    trainer: ClassVar[str]
    width: ClassVar[int]  # default channel (or unit) width
    z_dim: ClassVar[int] = 0  # default latent size (generators)
    lr: ClassVar[float] = 2e-4  # Adam defaults
    betas: ClassVar[tuple[float, float]] = (0.5, 0.999)
    stylegan_only: ClassVar[tuple[str, ...]] = ("augment", "r1_gamma")  # settings only stylegan2 takes

    @property
    def is_stylizer(self) -> bool:
        return self.trainer == "stylizer"

    def adam(self, cfg: TrainConfig) -> tuple[float, tuple[float, float]]:
        """Learning rate and betas: ``--lr`` / ``--betas`` or the family's defaults."""
        lr = cfg.lr if cfg.lr is not None else self.lr
        b = cfg.betas if cfg.betas is not None else list(self.betas)
        return lr, (b[0], b[1])

    def ema_kimg(self, cfg: TrainConfig) -> float:
        """Half-life of the generator EMA in kimg: ``--ema-kimg`` or 1."""
        return cfg.ema_kimg if cfg.ema_kimg is not None else 1.0

    def check(self, cfg: TrainConfig) -> None:
        """Raise :class:`ArtforgeError` naming the first setting this family cannot train with."""
        for name in self.stylegan_only:
            if getattr(cfg, name) is not None:
                raise ArtforgeError(f"--{name.replace('_', '-')} is for --model stylegan2")


class GeneratorFamily(Family):
    """An image generator trained on a data set (GAN, DCGAN, VAE)."""

    resolutions: ClassVar[tuple[int, ...]] = (28, 32, 64, 128)

    def check(self, cfg: TrainConfig) -> None:
        super().check(cfg)
        if cfg.resolution is not None and cfg.resolution not in self.resolutions:
            raise ArtforgeError(f"--resolution: {', '.join(map(str, self.resolutions[:-1]))} or {self.resolutions[-1]}")
        if cfg.style:
            raise ArtforgeError("--style is for the stylisers (johnson, gan-style, adain)")
        if cfg.encoder_width != 1:
            raise ArtforgeError("--encoder-width is for --model adain")

    def latent_size(self, cfg: TrainConfig) -> int:
        return cfg.z_dim or self.z_dim

    def build(self, cfg: TrainConfig, shapes: Shapes) -> dict[str, nn.Module]:
        """The networks at the data set's shapes, by role: ``G`` and ``D`` (trainer ``gan``) or ``VAE``."""
        raise NotImplementedError

    def sampler(self, cfg: TrainConfig, shapes: Shapes) -> tuple[str, nn.Module]:
        """The network that samples and its checkpoint prefix: the EMA generator ``G_ema``, or the ``VAE``."""
        nets = self.build(cfg, shapes)
        return ("VAE", nets["VAE"]) if self.trainer == "vae" else ("G_ema", nets["G"])

    def resolve(self, cfg: TrainConfig) -> TrainConfig:
        """``cfg`` with the defaults that depend on the family filled in before the run is created."""
        return cfg

    @torch.no_grad()
    def generate(self, net: nn.Module, z: Tensor, c: Tensor | None, psi: float = 1.0) -> Tensor:
        """Images in [0, 1], ``[N, C, R, R]``, from latents ``z`` ``[N, z_dim]`` (and labels ``c``): G(z) mapped
        from [-1, 1]. ``psi`` (truncation) is for the style-based generator."""
        if psi != 1.0:
            raise ArtforgeError(f"--trunc is for stylegan2 runs, not {self.name}")
        return net(z, c).float().add(1).div(2).clamp(0, 1)  # type: ignore[no-any-return]
