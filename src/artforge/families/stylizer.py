"""Feed-forward stylisers: y = f_W(x) trained against VGG losses (Johnson et al. 2016), and NetSpec, what builds the
network of a checkpoint or model file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from artforge.core.errors import ArtforgeError
from artforge.families.base import Family
from artforge.families.config import TrainConfig
from artforge.nn.encoders import VGGEncoder, preprocessing_name

PREFIX = "G"  # checkpoints and model files: tensors of the stylisation network
ENCODER = "E"  # adain: tensors of a distilled encoder (NetSpec.encoder_width > 1)


@dataclass(frozen=True)
class NetSpec:
    """What builds the network of a model file: its family (``kind``) and constructor arguments."""

    kind: str
    width: int
    blocks: int = 5  # johnson / gan-style residual blocks
    arch: str = "vgg16"  # adain: the encoder the decoder mirrors
    weights: str = "vgg16-hed"  # adain: the encoder's VGG weights (see artforge.nn.weights)
    skip: bool = False  # johnson / gan-style: y = x + f(x) (TransformerNet); files without it are the paper's net
    skips: tuple[str, ...] = ()  # adain: shallower layers whose AdaIN targets also feed the decoder; () the paper's
    encoder_width: int = 1  # adain: 1 = the VGG ``weights``; k > 1 = a distilled k-times thinner encoder in the file
    preprocessing: str = "caffe"  # adain with a distilled encoder: its input preprocessing (PREPROCESSINGS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "skips", tuple(self.skips))  # JSON metadata gives a list

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


class StylizerFamily(Family):
    """A feed-forward stylisation network trained against VGG losses on photos and style images."""

    trainer: ClassVar[str] = "stylizer"
    lr: ClassVar[float] = 1e-3
    betas: ClassVar[tuple[float, float]] = (0.9, 0.999)
    content_weight: ClassVar[float] = 1.0  # alpha (lambda1) on the relative content loss
    style_weight: ClassVar[float] = 5.0  # beta (lambda2) on the relative style loss
    tv_weight: ClassVar[float] = 1.0  # gamma
    export_inputs: ClassVar[tuple[str, ...]] = ("content",)  # ONNX graph inputs, in order
    needs_style: ClassVar[bool] = False  # at inference: AdaIN takes a style image per call

    def check(self, cfg: TrainConfig) -> None:
        super().check(cfg)
        if cfg.resolution is not None and cfg.resolution % 8:
            raise ArtforgeError("--resolution: a multiple of 8 (256)")
        if not cfg.style:
            raise ArtforgeError(f"--model {self.name} needs --style IMAGE_OR_FOLDER")
        if cfg.encoder_width != 1:
            raise ArtforgeError("--encoder-width is for --model adain")

    def net_spec(self, cfg: TrainConfig, encoder: VGGEncoder) -> NetSpec:
        """The network a new run trains, from its config and the loss network."""
        return NetSpec(
            self.name, cfg.width or self.width, arch=encoder.arch, weights=cfg.weights, skip=cfg.skip,
            preprocessing=preprocessing_name(encoder.preprocessing),
        )  # fmt: skip

    def build_net(self, spec: NetSpec) -> nn.Module:
        """The stylisation network described by ``spec``."""
        raise NotImplementedError

    def discriminator(self) -> nn.Module | None:
        """The adversary of gan-style training; None for the others."""
        return None

    def loss_weights(self, cfg: TrainConfig) -> tuple[float, float, float]:
        """(content, style, tv) weights on the relative losses, with the family's defaults filled in."""
        return (
            cfg.content_weight if cfg.content_weight is not None else self.content_weight,
            cfg.style_weight if cfg.style_weight is not None else self.style_weight,
            cfg.tv_weight if cfg.tv_weight is not None else self.tv_weight,
        )
