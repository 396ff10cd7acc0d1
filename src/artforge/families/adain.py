"""The AdaIN family: y = g(AdaIN(f(c), f(s))), AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y), any style
image at inference (Huang & Belongie 2017); optionally a distilled k-times thinner encoder (Wang et al. 2020)."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from artforge.core.errors import ArtforgeError
from artforge.families.base import Family
from artforge.families.config import TrainConfig
from artforge.families.stylizer import NetSpec, StylizerFamily
from artforge.nn.adain import DEFAULT_SKIPS, AdaINDecoder
from artforge.nn.encoders import VGGEncoder, preprocessing_name


class AdaIN(StylizerFamily):
    name = "adain"
    description = "arbitrary-style network, any style image (AdaIN, Huang & Belongie 2017)"
    width = 1  # the decoder's width divisor follows the encoder's (--encoder-width) unless --width is given
    lr = 1e-4
    style_weight = 10.0
    tv_weight = 0.0
    export_inputs: ClassVar[tuple[str, ...]] = ("content", "style", "alpha")
    needs_style = True

    def check(self, cfg: TrainConfig) -> None:
        Family.check(self, cfg)  # not StylizerFamily's: adain takes --encoder-width
        if cfg.resolution is not None and cfg.resolution % 8:
            raise ArtforgeError("--resolution: a multiple of 8 (256)")
        if not cfg.style:
            raise ArtforgeError(f"--model {self.name} needs --style IMAGE_OR_FOLDER")
        if cfg.targets:
            raise ArtforgeError("--targets is for per-style networks (johnson, gan-style), not --model adain")

    def net_spec(self, cfg: TrainConfig, encoder: VGGEncoder) -> NetSpec:
        return NetSpec(
            self.name, cfg.width or cfg.encoder_width, arch=encoder.arch, weights=cfg.weights, skip=False,
            skips=DEFAULT_SKIPS if cfg.skip else (), encoder_width=cfg.encoder_width,
            preprocessing=preprocessing_name(encoder.preprocessing),
        )  # fmt: skip

    def build_net(self, spec: NetSpec) -> nn.Module:
        return AdaINDecoder(spec.arch, spec.width, spec.encoder_width, spec.skips)
