"""The options of ``artforge stylize --model`` (:class:`ModelOptions`), torch-free: the PyTorch file pipeline
(:mod:`artforge.feedforward.files`) and the onnxruntime one (:mod:`artforge.feedforward.quick`) share them."""

from __future__ import annotations

from dataclasses import dataclass

from artforge.core.errors import ArtforgeError

MIN_STYLE_SIDE = 64  # AdaIN: relu4_1 of a smaller style has too few positions for its statistics


@dataclass
class ModelOptions:
    """How ``artforge stylize --model`` runs: size, strength, colour, AdaIN's alpha, batches, tiles."""

    size: int | None = None  # long side; None = each input's own size
    strength: float = 1.0  # s: 1 = the network's output, 0 = the input
    preserve_color: str = "none"  # none | luminance | histogram
    alpha: float = 1.0  # AdaIN content/style trade-off
    style_size: int = 512  # AdaIN: long side of the style image(s)
    style_blend: list[float] | None = None
    batch: int = 4
    tile_size: int = 2048
    tile_overlap: int = 128
    precision: str = "fp32"  # fp32 | bf16 (autocast; ~2x on CPUs with native bf16, e.g. AVX512-BF16/AMX)

    def validate(self) -> None:
        checks = [
            (0.0 <= self.strength <= 1.0, "--strength must be in [0, 1]"),
            (0.0 <= self.alpha <= 1.0, "--alpha must be in [0, 1]"),
            (self.preserve_color in ("none", "luminance", "histogram"), "--preserve-color: none, luminance, histogram"),
            (self.size is None or self.size >= 16, "--size must be >= 16"),
            (self.style_size >= MIN_STYLE_SIDE, f"--style-size must be >= {MIN_STYLE_SIDE}"),
            (self.batch >= 1, "--batch must be >= 1"),
            (self.precision in ("fp32", "bf16"), "--precision: fp32 or bf16"),
            (self.tile_size >= 64 and 0 <= self.tile_overlap < self.tile_size // 2, "--tile-size >= 64, overlap less"),
        ]
        for ok, message in checks:
            if not ok:
                raise ArtforgeError(message)
