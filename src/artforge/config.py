"""Dataclass configs: the single source of truth, saved as JSON; unknown keys are an error."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from artforge.errors import ArtforgeError

C = TypeVar("C", bound="Config")

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type hint built from None, bool, int, float, str, list[...], unions."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


class Config:
    """Mixin for dataclass configs: ``to_dict`` / ``from_dict`` / ``save`` / ``load``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Build from JSON-like data; unknown keys and wrongly typed values are errors."""
        if not isinstance(data, dict):
            raise ArtforgeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ArtforgeError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
        for key, value in data.items():
            if not _fits(value, hints[key]):
                raise ArtforgeError(f"{cls.__name__}: {key}={value!r} is not a valid {hints[key]}")
        return cls(**data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON atomically (temp file + rename)."""
        from artforge.checkpoint import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls: type[C], path: str | os.PathLike[str]) -> C:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass
class StylizeConfig(Config):
    """Everything that determines a Gatys stylisation (besides the input images)."""

    size: int = 512  # long side of the output, px
    style_scale: float = 1.0  # style image long side = style_scale * content long side
    content_layers: list[str] = field(default_factory=lambda: ["relu4_2"])
    style_layers: list[str] = field(default_factory=lambda: list(STYLE_LAYERS))
    style_layer_weights: list[float] | None = None  # one per style layer; None = equal
    content_weight: float = 1.0  # alpha, on the relative content error
    style_weight: float = 1.0  # beta, on the relative Gram error
    tv_weight: float = 2.0  # gamma, on the mean squared neighbour difference
    style_blend: list[float] | None = None  # one weight per style image; None = equal
    preserve_color: str = "none"  # none | luminance | histogram
    init: str = "content"  # content | noise | a path
    optimizer: str = "lbfgs"  # lbfgs | adam
    learning_rate: float | None = None  # None = 1.0 for L-BFGS, 0.02 for Adam
    iterations: int = 50  # at the final scale; each coarser level runs twice as many
    scales: int | None = None  # pyramid levels; None = auto (coarsest long side >= min_scale), 1 = off
    min_scale: int = 128  # long side of the coarsest pyramid level, px
    tile_size: int = 1024  # the final scales run in overlapping tiles above this size
    tile_overlap: int = 128
    weights: str = "vgg16-hed"  # a name from `artforge weights list`, or a file
    pooling: str = "max"  # max | avg
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # fp32 | bf16: VGG under bf16 autocast, losses in fp32 (~2x on CPUs with native bf16)

    def validate(self, n_styles: int = 1, n_masks: int = 0) -> None:
        """Raise :class:`ArtforgeError` naming the first bad value."""
        checks: list[tuple[bool, str]] = [
            (self.size >= 16, f"--size must be at least 16 px, not {self.size}"),
            (self.style_scale > 0, "--style-scale must be positive"),
            (self.iterations >= 0, "--iterations must be >= 0"),
            (
                self.preserve_color in ("none", "luminance", "histogram"),
                "--preserve-color: none, luminance or histogram",
            ),
            (self.optimizer in ("lbfgs", "adam"), "--optimizer: lbfgs or adam"),
            (self.pooling in ("max", "avg"), "--pooling: max or avg"),
            (min(self.content_weight, self.style_weight, self.tv_weight) >= 0, "loss weights must be >= 0"),
            (self.scales is None or self.scales >= 1, "--scales must be >= 1"),
            (self.min_scale >= 32, "--min-scale must be at least 32 px"),
            (self.tile_size >= 128, "--tile-size must be at least 128 px"),
            (0 <= self.tile_overlap < self.tile_size // 2, "--tile-overlap must be below half the tile size"),
            (bool(self.style_layers), "at least one style layer is needed"),
            (
                self.style_layer_weights is None or len(self.style_layer_weights) == len(self.style_layers),
                "give one style layer weight per style layer",
            ),
            (
                self.style_blend is None
                or (len(self.style_blend) == n_styles and min(self.style_blend) >= 0 and sum(self.style_blend) > 0),
                f"--style-blend needs {n_styles} non-negative weights, not all zero",
            ),
            (n_masks in (0, n_styles), f"give one --mask per style image ({n_styles}), or none"),
            (
                not (n_masks and self.style_blend),
                "--style-blend and --mask do not combine: masks give each style its region",
            ),
            (self.device in ("auto", "cpu") or self.device.startswith("cuda"), "--device: auto, cpu or cuda[:N]"),
            (self.precision in ("fp32", "bf16"), "--precision: fp32 or bf16"),
        ]
        for ok, message in checks:
            if not ok:
                raise ArtforgeError(message)


@dataclass
class TrainConfig(Config):
    """Everything that determines a generative training run; saved as RUN/config.json."""

    model: str = "dcgan"  # gan | dcgan | vae (see artforge.registry)
    data: str = "fashion-mnist"  # folder, .zip, fashion-mnist, mnist, cifar10[:PATH]
    resolution: int | None = None  # None = the data set's native size (folders: 64)
    channels: int | None = None  # None = the data set's own
    mirror: bool = False  # add x-flipped copies of every image
    conditional: bool = False  # class-conditional model from the data set's labels
    max_images: int | None = None
    z_dim: int | None = None  # None = 100 for GANs, 32 for the VAE
    width: int | None = None  # channel (or unit) width; None = the model's default
    loss: str = "bce"  # bce (non-saturating) | hinge | wgan-gp
    spectral_norm: bool = False
    gp_weight: float = 10.0  # lambda of the WGAN-GP gradient penalty
    beta: float = 1.0  # VAE KL weight (beta-VAE)
    likelihood: str | None = None  # VAE: None = bernoulli for grey, logistic for colour
    style: list[str] = field(default_factory=list)  # stylisers: style image(s); adain: folder(s) of works
    style_size: int | None = None  # long side of style images (johnson, gan-style); None = 2 x resolution
    content_weight: float | None = None  # stylisers' alpha / lambda1; None = the model's default
    style_weight: float | None = None  # beta / lambda2; None = the model's default
    tv_weight: float | None = None  # gamma; None = the model's default
    adv_weight: float = 0.05  # gan-style lambda3, on the hinge adversarial loss
    skip: bool = True  # johnson/gan-style: y = x + f(x) from the identity; adain: decoder skips (False: papers' nets)
    weights: str = "vgg16-hed"  # stylisers: VGG weights of the loss network / AdaIN encoder
    encoder_width: int = 1  # adain: >1 distils a k-times thinner encoder first (Wang et al. 2020); 1 = the VGG
    distill_kimg: float = 4.0  # adain with encoder_width > 1: kimg of encoder distillation before the decoder
    batch: int = 64  # global batch, over all processes
    accumulate: int = 1  # micro-batches per step (gradient accumulation)
    lr: float | None = None  # Adam; None = 2e-4 for GANs (Radford et al. 2016), 1e-3 for the VAE
    betas: list[float] | None = None  # None = (0.5, 0.999) for GANs, (0.9, 0.999) for the VAE
    ema_kimg: float = 1.0  # half-life of the generator EMA, in thousands of images (0 = off)
    kimg: float = 10.0  # length of training, thousands of real images shown
    snap_kimg: float = 5.0  # checkpoint + sample grid interval
    tick_kimg: float = 1.0  # logging interval
    keep: int = 3  # checkpoints kept (the newest)
    metrics: list[str] = field(default_factory=list)  # fid, kid, is, pr in training; the first picks best.safetensors
    metrics_every: float | None = None  # kimg between evaluations (each on a snapshot); None = every snapshot
    metrics_samples: int = 10_000  # generated images per evaluation, against min(N, data set size) real ones
    metrics_backbone: str = "inception"  # inception | vgg16 (offline weights; its values only compare with vgg16)
    metrics_weights: str | None = None  # a local weights file for the metrics backbone; None = the standard one
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off on CPU) | none | bf16 | fp16
    channels_last: bool = True

    def validate(self) -> None:
        from artforge.registry import MODELS

        checks: list[tuple[bool, str]] = [
            (self.model in MODELS, f"--model: one of {', '.join(MODELS)}"),
            (self.loss in ("bce", "hinge", "wgan-gp"), "--loss: bce, hinge or wgan-gp"),
            (self.batch >= 1 and self.accumulate >= 1, "--batch and --accumulate must be >= 1"),
            (self.batch % self.accumulate == 0, "--batch must be divisible by --accumulate"),
            (self.kimg > 0 and self.snap_kimg > 0 and self.tick_kimg > 0, "--kimg, --snap and --tick must be > 0"),
            (self.lr is None or self.lr > 0, "--lr must be > 0"),
            (self.betas is None or len(self.betas) == 2, "--betas takes two numbers"),
            (self.amp in ("auto", "none", "bf16", "fp16"), "--amp: auto, none, bf16 or fp16"),
            (
                self.likelihood in (None, "bernoulli", "gaussian", "logistic"),
                "--likelihood: bernoulli, gaussian or logistic",
            ),
            (
                self.resolution is None
                or (self.resolution in (28, 32, 64, 128) if not self.is_styliser else self.resolution % 8 == 0),
                "--resolution: 28, 32, 64 or 128" if not self.is_styliser else "--resolution: a multiple of 8 (256)",
            ),
            (not self.is_styliser or bool(self.style), f"--model {self.model} needs --style IMAGE_OR_FOLDER"),
            (self.is_styliser or not self.style, "--style is for the stylisers (johnson, gan-style, adain)"),
            (self.keep >= 1, "--keep must be >= 1"),
            (self.encoder_width >= 1 and self.distill_kimg >= 0, "--encoder-width must be >= 1, --distill-kimg >= 0"),
            (self.encoder_width == 1 or self.model == "adain", "--encoder-width is for --model adain"),
            (self.metrics_every is None or self.metrics_every > 0, "--metrics-every must be > 0"),
            (self.metrics_samples >= 2, "--metrics-samples must be at least 2"),
        ]
        for ok, message in checks:
            if not ok:
                raise ArtforgeError(message)
        self._validate_metrics()

    def _validate_metrics(self) -> None:
        """--metrics names, a first metric that ranks checkpoints, and a backbone that computes them all."""
        if not self.metrics:
            return
        from artforge.metrics.backbones import get_spec
        from artforge.metrics.report import parse_metrics

        names = parse_metrics(self.metrics)
        if names[0] == "pr":
            raise ArtforgeError("--metrics: the first metric picks best.safetensors; put fid, kid or is before pr")
        spec = get_spec(self.metrics_backbone)
        if "is" in names and not spec.has_logits:
            raise ArtforgeError(f"--metrics is needs a classifier, which --metrics-backbone {spec.name} lacks")

    @property
    def is_styliser(self) -> bool:
        return self.model in ("johnson", "gan-style", "adain")

    def adam(self) -> tuple[float, tuple[float, float]]:
        """Learning rate and betas, with the model family's defaults filled in: 2e-4, (0.5, 0.999) for GANs
        (Radford et al.); 1e-3 for the VAE and Johnson et al.; 1e-4 for AdaIN (Huang & Belongie)."""
        lr0, b0 = {
            "vae": (1e-3, [0.9, 0.999]), "johnson": (1e-3, [0.9, 0.999]), "adain": (1e-4, [0.9, 0.999]),
            "gan-style": (1e-3, [0.5, 0.999]),
        }.get(self.model, (2e-4, [0.5, 0.999]))  # fmt: skip
        lr = self.lr if self.lr is not None else lr0
        b = self.betas if self.betas is not None else b0
        return lr, (b[0], b[1])

    def stylizer_weights(self) -> tuple[float, float, float]:
        """(content, style, tv) weights on the relative losses, with the model's defaults filled in."""
        style = 10.0 if self.model == "adain" else 5.0
        tv = 0.0 if self.model == "adain" else 1.0
        return (
            self.content_weight if self.content_weight is not None else 1.0,
            self.style_weight if self.style_weight is not None else style,
            self.tv_weight if self.tv_weight is not None else tv,
        )
