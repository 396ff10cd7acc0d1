"""StylizeConfig: every parameter of a Gatys run, alpha L_content + beta L_style + gamma L_tv (Gatys et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass, field

from artforge.core.config import Config
from artforge.core.errors import ArtforgeError
from artforge.objectives.perceptual import STYLE_LAYERS


@dataclass
class StylizeConfig(Config):
    """Everything that determines a Gatys stylisation (besides the input images)."""

    size: int = 512  # long side of the output, px
    style_scale: float = 1.0  # style image long side = style_scale * content long side
    content_layers: list[str] = field(default_factory=lambda: ["relu4_2"])
    style_layers: list[str] = field(default_factory=lambda: list(STYLE_LAYERS))
    style_layer_weights: list[float] | None = None  # one per style layer; None = equal
    content_weight: float = 1.0  # alpha, on the relative content error
    style_weight: float = 5.0  # beta, on the relative Gram error (README "How much style")
    tv_weight: float = 2.0  # gamma, on the mean squared neighbour difference
    style_blend: list[float] | None = None  # one weight per style image; None = equal
    preserve_color: str = "none"  # none | luminance | histogram
    init: str = "content"  # content | noise | a path | fast[:MODEL] (a feed-forward first guess, refined)
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
