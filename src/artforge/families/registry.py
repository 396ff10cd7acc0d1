"""Model name -> family: the CLI's ``--model`` choices. Adding a family is one line here."""

from __future__ import annotations

from torch import nn

from artforge.core.errors import ArtforgeError
from artforge.families.adain import AdaIN
from artforge.families.base import Family, GeneratorFamily
from artforge.families.config import TrainConfig
from artforge.families.dcgan import DCGAN
from artforge.families.gan import GAN
from artforge.families.gan_style import GANStyle
from artforge.families.johnson import Johnson
from artforge.families.stylegan2 import StyleGAN2
from artforge.families.stylizer import NetSpec, StylizerFamily
from artforge.families.vae import VAE

FAMILIES: dict[str, Family] = {f.name: f for f in (GAN(), DCGAN(), VAE(), StyleGAN2(), Johnson(), GANStyle(), AdaIN())}
STYLISERS: dict[str, StylizerFamily] = {k: f for k, f in FAMILIES.items() if isinstance(f, StylizerFamily)}
GENERATORS: dict[str, GeneratorFamily] = {k: f for k, f in FAMILIES.items() if isinstance(f, GeneratorFamily)}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ArtforgeError(f"--model: one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def generator(name: str) -> GeneratorFamily:
    f = family(name)
    if not isinstance(f, GeneratorFamily):
        raise ArtforgeError(f"{name} is a styliser, not an image generator")
    return f


def stylizer(name: str) -> StylizerFamily:
    f = family(name)
    if not isinstance(f, StylizerFamily):
        raise ArtforgeError(f"{name} is an image generator, not a styliser ({', '.join(STYLISERS)})")
    return f


def build_stylizer_net(spec: NetSpec) -> nn.Module:
    """The stylisation network of a model file or checkpoint."""
    return stylizer(spec.kind).build_net(spec)


def check(cfg: TrainConfig) -> None:
    """Every check of a training config: the settings all runs share, then the family's own."""
    fam = family(cfg.model)
    checks: list[tuple[bool, str]] = [
        (cfg.loss in ("bce", "hinge", "wgan-gp"), "--loss: bce, hinge or wgan-gp"),
        (cfg.batch >= 1 and cfg.accumulate >= 1, "--batch and --accumulate must be >= 1"),
        (cfg.batch % cfg.accumulate == 0, "--batch must be divisible by --accumulate"),
        (cfg.kimg > 0 and cfg.snap_kimg > 0 and cfg.tick_kimg > 0, "--kimg, --snap and --tick must be > 0"),
        (cfg.lr is None or cfg.lr > 0, "--lr must be > 0"),
        (cfg.betas is None or len(cfg.betas) == 2, "--betas takes two numbers"),
        (cfg.amp in ("auto", "none", "bf16", "fp16"), "--amp: auto, none, bf16 or fp16"),
        (
            cfg.likelihood in (None, "bernoulli", "gaussian", "logistic"),
            "--likelihood: bernoulli, gaussian or logistic",
        ),
        (cfg.encoder_width >= 1 and cfg.distill_kimg >= 0, "--encoder-width must be >= 1, --distill-kimg >= 0"),
    ]
    later: list[tuple[bool, str]] = [
        (cfg.keep >= 1, "--keep must be >= 1"),
        (cfg.metrics_every is None or cfg.metrics_every > 0, "--metrics-every must be > 0"),
        (cfg.metrics_samples >= 2, "--metrics-samples must be at least 2"),
    ]
    for ok, message in checks:
        if not ok:
            raise ArtforgeError(message)
    fam.check(cfg)
    for ok, message in later:
        if not ok:
            raise ArtforgeError(message)
