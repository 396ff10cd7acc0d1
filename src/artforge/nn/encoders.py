"""VGG multi-layer encoder (Simonyan & Zisserman 2015): one forward pass, every requested layer by name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from artforge.nn.fast_layers import relu_

# Channel plan of each block; "M" is a 2x2 pooling layer between blocks.
VGG_PLANS: dict[str, list[list[int]]] = {
    "vgg16": [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    "vgg19": [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
}


@dataclass(frozen=True)
class Preprocessing:
    """How RGB in [0, 1] becomes the network's input: x' = (x[order] * scale - mean) / std."""

    bgr: bool
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# Caffe/Keras VGG: BGR in [0, 255] minus the ImageNet mean (BGR order).
CAFFE = Preprocessing(bgr=True, scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0))
# torchvision model zoo: RGB in [0, 1], normalised by ImageNet mean and std.
TORCHVISION = Preprocessing(bgr=False, scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
PREPROCESSINGS = {"caffe": CAFFE, "torchvision": TORCHVISION}


def preprocessing_name(p: Preprocessing) -> str:
    return next(k for k, v in PREPROCESSINGS.items() if v == p)


def layer_names(arch: str) -> list[str]:
    """All layer names of ``arch`` in forward order: conv1_1, relu1_1, ..., pool1, ..."""
    names: list[str] = []
    for b, block in enumerate(VGG_PLANS[arch], start=1):
        for i in range(1, len(block) + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


def conv_names(arch: str) -> list[str]:
    return [n for n in layer_names(arch) if n.startswith("conv")]


class VGGEncoder(nn.Module):
    """VGG feature encoder; runs only as deep as the deepest requested layer.

    Input: RGB in [0, 1], ``[N, 3, H, W]``. Output: ``{name: [N, C, H/2^k, W/2^k]}``.
    ``width`` divides every channel count (tests' tiny encoders; distilled AdaIN students).
    ``last`` builds only up to that layer (a student to relu4_1 carries no deeper weights).
    """

    order: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        arch: str = "vgg16",
        preprocessing: Preprocessing = CAFFE,
        pooling: str = "max",
        width: int = 1,
        last: str | None = None,
    ) -> None:
        super().__init__()
        if arch not in VGG_PLANS:
            raise ValueError(f"unknown VGG architecture {arch!r}; choose from {sorted(VGG_PLANS)}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        self.arch = arch
        self.pooling = pooling
        self.preprocessing = preprocessing
        order = [2, 1, 0] if preprocessing.bgr else [0, 1, 2]
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1), persistent=False)
        self.names = layer_names(arch)
        if last is not None:
            check_layers(arch, [last])
            self.names = self.names[: self.names.index(last) + 1]
        self.convs = nn.ModuleDict()
        c_in = 3
        for b, block in enumerate(VGG_PLANS[arch], start=1):
            for i, c_out in enumerate(block, start=1):
                if f"conv{b}_{i}" not in self.names:
                    break
                c = max(c_out // width, 1)
                self.convs[f"conv{b}_{i}"] = nn.Conv2d(c_in, c, 3, padding=1)
                c_in = c
        self.requires_grad_(False)
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # oneDNN/cuDNN convolutions run faster in NHWC

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        x = image.index_select(1, self.order) * self.preprocessing.scale
        return (x - self.mean) / self.std

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted.difference(self.names)
        if unknown:
            raise ValueError(f"{self.arch} has no layer(s) {sorted(unknown)}")
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(image).contiguous(memory_format=torch.channels_last)  # [N, 3, H, W], NHWC in memory
        for name in self.names:
            if not wanted.difference(out):
                break
            if name.startswith("conv"):
                x = self.convs[name](x)
            elif name.startswith("relu"):
                # In place (conv backward needs its input, not its output) unless the conv's output was asked for.
                x = relu_(x) if "conv" + name[4:] not in wanted else F.relu(x)
            elif self.pooling == "max":
                x = F.max_pool2d(x, 2, ceil_mode=True)
            else:
                x = F.avg_pool2d(x, 2, ceil_mode=True)
            if name in wanted:
                out[name] = x
        return out


def default_style_layers(arch: str) -> list[str]:
    """relu1_1 ... relu5_1 (Gatys et al. 2016), as far as ``arch`` has them."""
    return [f"relu{b}_1" for b in range(1, len(VGG_PLANS[arch]) + 1)]


def check_layers(arch: str, layers: Sequence[str]) -> None:
    names = set(layer_names(arch))
    bad = [n for n in layers if n not in names]
    if bad:
        raise ValueError(f"{arch} has no layer {bad[0]!r}; layers are named like relu4_2 (see `artforge weights list`)")
