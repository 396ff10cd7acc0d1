"""The FID InceptionV3 (Szegedy et al. 2016) of TensorFlow's 2015-12-05 graph, as used by FID (Heusel et al. 2017).

Written here because torchvision cannot be a dependency (docs/architecture.md). Module and parameter names and
shapes match the standard FID weights file ``pt_inception-2015-12-05-6726825d.pth`` (the one pytorch-fid and
torch-fidelity load), so it loads with ``load_state_dict(strict=True)``. It differs from torchvision's ImageNet
InceptionV3 in what the TF graph does: 1008 classes, no auxiliary head, average pools in the A/C/E blocks that
exclude the zero padding from the mean (``count_include_pad=False``), and a *max* pool in the last block's pool
branch. Input: RGB in [0, 255] at 299 x 299, mapped to (x - 128) / 128 as in the TF graph.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from artforge.core.download import cache_dir, sha256_file
from artforge.core.download import download as fetch_file
from artforge.core.errors import ArtforgeError

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INPUT_SIZE = 299
NUM_CLASSES = 1008
POOL_DIM = 2048


class ConvBN(nn.Module):
    """y = relu(BN(conv(x))): a bias-free convolution, batch norm (eps 1e-3) and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int | tuple[int, int], **kw: int | tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, bias=False, **kw)  # type: ignore[arg-type]
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool whose mean ignores the zero padding, as TensorFlow's does."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1 -> 224 + pool_features channels."""

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5_1 = ConvBN(c_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(c_in, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool(x))], 1)


class BlockB(nn.Module):
    """35 -> 17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2 -> 384 + 96 + c_in channels."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 and 7x1) -> 768 channels."""

    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        row, col = {"padding": (0, 3)}, {"padding": (3, 0)}
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7_1 = ConvBN(c_in, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), **row)
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), **col)
        self.branch7x7dbl_1 = ConvBN(c_in, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), **col)
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), **row)
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), **col)
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), **row)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = conv(d)
        return torch.cat([self.branch1x1(x), b7, self.branch7x7dbl_5(d), self.branch_pool(_avg_pool(x))], 1)


class BlockD(nn.Module):
    """17 -> 8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2 -> 320 + 192 + c_in channels."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(c_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8x8 block with split 1x3 / 3x1 outputs -> 2048 channels; ``pool`` is "avg" (Mixed_7b) or "max" (Mixed_7c)."""

    def __init__(self, c_in: int, pool: str) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3_1 = ConvBN(c_in, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        t = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(t), self.branch3x3dbl_3b(t)], 1)
        pooled = _avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.branch1x1(x), b3, b3d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """InceptionV3 trunk + 1008-way classifier; returns the 2048-d pool features and the classifier logits."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, "avg")
        self.Mixed_7c = BlockE(2048, "max")
        self.fc = nn.Linear(POOL_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, 3, 299, 299]`` RGB in [0, 255] -> pool features ``[N, 2048]``, logits ``[N, 1008]``.

        The logits are ``pool @ fc.weight^T`` without the bias, as in the original Inception Score code
        (torch-fidelity's ``logits_unbiased``); the softmax of IS is taken over them.
        """
        x = (x - 128.0) / 128.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # [N, 64, 147, 147]
        x = F.max_pool2d(x, 3, stride=2)  # [N, 64, 73, 73]
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # [N, 192, 71, 71]
        x = F.max_pool2d(x, 3, stride=2)  # [N, 192, 35, 35]
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):  # fmt: skip
            x = block(x)  # ... [N, 768, 17, 17] ... [N, 2048, 8, 8]
        pool = x.mean(dim=(2, 3))  # [N, 2048]
        return pool, pool @ self.fc.weight.T


# ---------------------------------------------------------------- weights


def weights_path(spec: str | os.PathLike[str] | None = None, download: bool = True, progress: bool = True) -> Path:
    """A local file (``spec``), else ``<cache>/pt_inception-2015-12-05-6726825d.pth``, else a download (sha256)."""
    if spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ArtforgeError(f"Inception weights {path}: no such file")
        return path
    cached = cache_dir() / INCEPTION_FILE
    if cached.is_file():
        return cached
    where = (
        f"put {INCEPTION_FILE} ({INCEPTION_URL}) into {cache_dir()} or pass --inception-weights FILE; "
        "--backbone vgg16 works offline"
    )
    if not download:
        raise ArtforgeError(f"no Inception weights: {where}")
    try:
        tmp = fetch_file(INCEPTION_URL, INCEPTION_SHA256, cache_dir(), progress)
    except ArtforgeError as e:
        if "checksum" in str(e):
            raise
        raise ArtforgeError(f"no Inception weights and the download failed (offline?): {where}") from None
    os.replace(tmp, cached)
    return cached


def load_inception(
    spec: str | os.PathLike[str] | None = None, download: bool = True, progress: bool = True
) -> tuple[FIDInceptionV3, str]:
    """The FID Inception in eval mode with pretrained weights, and a tag naming those weights (for caches)."""
    path = weights_path(spec, download, progress)
    digest = sha256_file(path)
    if path == cache_dir() / INCEPTION_FILE and digest != INCEPTION_SHA256:
        raise ArtforgeError(f"{path} is corrupt (sha256 mismatch); delete it and fetch it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is the same user error
        raise ArtforgeError(f"{path} is not a readable PyTorch weights file ({type(e).__name__})") from None
    net = FIDInceptionV3()
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError):
        raise ArtforgeError(
            f"{path} does not fit the FID InceptionV3 (wrong keys or shapes); use {INCEPTION_FILE}"
        ) from None
    tag = "inception-fid-6726825d" if digest == INCEPTION_SHA256 else f"inception-{digest[:16]}"
    return net.eval().requires_grad_(False), tag
