"""StyleGAN2 layers (Karras et al. 2020, eq. 1-3): w'_ijk = s_i w_ijk, w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps).

Equalised learning rate (Karras et al. 2018, sec. 4.1) everywhere: a weight is stored as N(0, 1) / lr_mul and used
as stored * lr_mul / sqrt(fan_in); a bias as stored * lr_mul. The modulated convolution runs the whole batch as one
grouped convolution (groups = N), with x2 upsampling as a stride-2 transposed convolution followed by the FIR blur.

FIR resampling (upfirdn2d, Karras et al. 2020, appendix B) in pure torch: y = down_d(f * pad(up_u(x))). ``up_u``
inserts u - 1 zeros after every sample, ``pad`` adds (or, when negative, crops) borders, ``f *`` is a true 2-D
convolution (separable filters given as 1-D taps), ``down_d`` keeps every d-th sample. StyleGAN2 resamples by 2 with
the binomial filter [1, 3, 3, 1] normalised to sum 1; upsampling multiplies it by 4 so the image keeps its mean.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Literal["linear", "lrelu"]
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
NOISE_MODES = ("random", "const", "none")
RESAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)


def fir_filter(taps: tuple[float, ...] = RESAMPLE_TAPS) -> Tensor:
    """1-D separable FIR filter normalised so that its 2-D outer product sums to 1: ``f / sum(f)``, fp32 [K]."""
    f = torch.tensor(taps, dtype=torch.float32)
    return f / f.sum()


def upfirdn2d(
    x: Tensor,
    f: Tensor,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> Tensor:
    """Upsample by zero insertion, pad (x0, x1, y0, y1), convolve with ``f`` (1-D taps: separable), downsample.

    ``x`` [N, C, H, W]; ``f`` [K] (applied along both axes) or [KH, KW]; ``gain`` scales the 2-D filter.
    Output size along an axis of length L: (L * up + pad0 + pad1 - K) // down + 1.
    """
    n, c, h, w = x.shape
    if up > 1:  # zero insertion: sample i lands at i * up
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])  # [N, C, H, up, W, up]
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    f = f.to(device=x.device, dtype=x.dtype).flip(list(range(f.dim())))  # conv2d correlates: flip for convolution
    if f.dim() == 1:
        g = gain**0.5
        kx = (f * g).reshape(1, 1, 1, -1).expand(c, 1, 1, f.shape[0])  # [C, 1, 1, K]
        ky = (f * g).reshape(1, 1, -1, 1).expand(c, 1, f.shape[0], 1)  # [C, 1, K, 1]
        x = F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)
    else:
        k2 = (f * gain).reshape(1, 1, f.shape[0], f.shape[1]).expand(c, 1, f.shape[0], f.shape[1])  # [C, 1, KH, KW]
        x = F.conv2d(x, k2, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x2 FIR upsampling [N, C, H, W] -> [N, C, 2H, 2W]; a constant image stays constant (gain 4)."""
    k = f.shape[-1]
    return upfirdn2d(x, f, up=2, padding=((k + 1) // 2, (k - 2) // 2, (k + 1) // 2, (k - 2) // 2), gain=4.0)


def downsample2d(x: Tensor, f: Tensor) -> Tensor:
    """x2 FIR downsampling [N, C, H, W] -> [N, C, H/2, W/2]: blur, then keep every second sample."""
    k = f.shape[-1]
    return upfirdn2d(x, f, down=2, padding=((k - 1) // 2, (k - 2) // 2, (k - 1) // 2, (k - 2) // 2))


def activate(x: Tensor, activation: Activation) -> Tensor:
    """Identity, or leaky ReLU (slope 0.2) times sqrt(2), which keeps the second moment of N(0, 1) inputs."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN if activation == "lrelu" else x


class FullyConnected(nn.Module):
    """Equalised-lr dense layer y = act(x (lr_mul W / sqrt(fan_in))^T + lr_mul b) (Karras et al. 2018, sec. 4.1)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: Activation = "linear",
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation: Activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)  # [O, I]
        # stored as bias_init / lr_mul, so the effective bias starts at bias_init whatever lr_mul is
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul)) if bias else None  # [O]
        self.weight_gain = lr_mul / math.sqrt(in_features) if in_features > 0 else 0.0
        self.bias_gain = lr_mul

    def effective_weight(self) -> Tensor:
        return self.weight * self.weight_gain  # [O, I]

    def effective_bias(self) -> Tensor | None:
        return None if self.bias is None else self.bias * self.bias_gain  # [O]

    def forward(self, x: Tensor) -> Tensor:  # [N, I] -> [N, O]
        return activate(F.linear(x, self.effective_weight(), self.effective_bias()), self.activation)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, activation={self.activation}"


class Conv2d(nn.Module):
    """Equalised-lr conv y = act(conv(x, W / sqrt(I k^2)) + b); ``down=2``: blur with [1,3,3,1], then stride 2."""

    resample_filter: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: Activation = "linear",
        down: int = 1,
        lr_mul: float = 1.0,
    ) -> None:
        super().__init__()
        if down not in (1, 2):
            raise ValueError(f"down must be 1 or 2, not {down}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.activation: Activation = activation
        self.down = down
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None  # [O]
        self.weight_gain = lr_mul / math.sqrt(in_channels * kernel_size**2)
        self.bias_gain = lr_mul
        self.register_buffer("resample_filter", fir_filter(), persistent=False)  # [4]

    def effective_weight(self) -> Tensor:
        return self.weight * self.weight_gain  # [O, I, k, k]

    def forward(self, x: Tensor) -> Tensor:  # [N, I, H, W] -> [N, O, H / down, W / down]
        w = self.effective_weight()
        b = None if self.bias is None else self.bias * self.bias_gain
        k, f = self.kernel_size, self.resample_filter
        if self.down == 1:
            x = F.conv2d(x, w, b, padding=k // 2)
        elif k == 1:  # a 1x1 conv commutes with the per-channel blur: downsample first, on fewer pixels
            x = F.conv2d(downsample2d(x, f), w, b)
        else:  # blur with the 'same' padding of the k x k conv folded in, then a stride-2 conv
            fk = f.shape[0]
            p0, p1 = k // 2 + (fk - 1) // 2, k // 2 + (fk - 2) // 2
            x = F.conv2d(upfirdn2d(x, f, padding=(p0, p1, p0, p1)), w, b, stride=2)
        return activate(x, self.activation)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, down={self.down}, {self.activation}"


def demodulation(styles: Tensor, weight: Tensor, eps: float = 1e-8) -> Tensor:
    """Eq. 3's d_no = (sum_ijk (s_ni w_oijk)^2 + eps)^-1/2 = (sum_i s_ni^2 sum_jk w_oijk^2 + eps)^-1/2, as one matmul
    (no per-sample weight tensor). ``styles`` [N, I], ``weight`` [O, I, k, k] -> [N, O]."""
    return (styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps).rsqrt()


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    demodulate: bool = True,
    up: int = 1,
    resample_filter: Tensor | None = None,
    eps: float = 1e-8,
) -> Tensor:
    """Per-sample conv with w''_nojk = s_ni w_ojk / sqrt(sum_ijk (s_ni w_oijk)^2 + eps), as ONE grouped conv.

    ``x`` [N, I, H, W]; ``weight`` [O, I, k, k] (effective, gains applied; odd k); ``styles`` [N, I].
    ``up=2``: zero insertion + the same cross-correlation (a stride-2 transposed conv of the flipped kernel),
    then the FIR blur (gain 4): [N, O, 2H, 2W]. Otherwise 'same' padding: [N, O, H, W].
    The per-sample weights are built in one product, w[o, i] * (s_ni d_no), already in the layout the grouped conv
    reads (the transposed conv's [N, I, O, k, k] for up=2), and d comes from :func:`demodulation`.
    """
    n, i, h, w_ = x.shape
    o, _, k, _ = weight.shape
    d = demodulation(styles, weight, eps) if demodulate else styles.new_ones(n, o)  # [N, O]
    x = x.reshape(1, n * i, h, w_)  # [1, N*I, H, W]: the batch becomes conv groups
    if up == 1:
        scale = styles.reshape(n, 1, i, 1, 1) * d.reshape(n, o, 1, 1, 1)  # [N, O, I, 1, 1]
        wm = weight.unsqueeze(0) * scale  # [N, O, I, k, k]
        y = F.conv2d(x, wm.reshape(n * o, i, k, k), padding=k // 2, groups=n)  # [1, N*O, H, W]
        return y.reshape(n, o, h, w_)
    if up != 2:
        raise ValueError(f"up must be 1 or 2, not {up}")
    if resample_filter is None:
        raise ValueError("up=2 needs a resample_filter")
    scale = styles.reshape(n, i, 1, 1, 1) * d.reshape(n, 1, o, 1, 1)  # [N, I, O, 1, 1]
    wt = weight.flip(dims=(2, 3)).transpose(0, 1).contiguous().unsqueeze(0) * scale  # [N, I, O, k, k], contiguous
    y = F.conv_transpose2d(x, wt.reshape(n * i, o, k, k), stride=2, groups=n)  # [1, N*O, 2H+k-2, 2W+k-2]
    fk = resample_filter.shape[0]
    p0, p1 = k // 2 + (fk + 1) // 2 - (k - 1), k // 2 + (fk - 2) // 2 - (k - 2)
    y = y.reshape(n, o, y.shape[2], y.shape[3])  # the blur's groups are O channels, not N*O (a slow path on CPU)
    return upfirdn2d(y, resample_filter, padding=(p0, p1, p0, p1), gain=4.0)  # [N, O, 2H, 2W]


class ModulatedConv2d(nn.Module):
    """Karras et al. 2020 eq. 1-3: style s = A(w) (bias init 1) scales the input maps, then demodulation."""

    resample_filter: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 3,
        demodulate: bool = True,
        up: int = 1,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.demodulate = demodulate
        self.up = up
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))  # [O, I, k, k]
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)  # [4]

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # [N, I, H, W], [N, w_dim] -> [N, O, H*up, W*up]
        styles = self.affine(w)  # [N, I]
        weight = self.weight * self.weight_gain
        return modulated_conv2d(x, weight, styles, self.demodulate, self.up, self.resample_filter)


class NoiseInjection(nn.Module):
    """x + b_c * n with n ~ N(0, 1) [N, 1, H, W] shared by the channels and a learned per-channel scale b (init 0)."""

    noise_const: Tensor

    def __init__(self, channels: int, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))  # [C]
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # [H, W], fixed at init

    def forward(
        self, x: Tensor, noise_mode: str = "random", generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:  # fmt: skip
        """``noise`` ``[N or 1, 1, H, W]``, when given, is used whatever the mode (training draws it for the global
        batch; projection optimises it)."""
        n, _, h, w = x.shape
        if noise is not None:
            return x + noise.to(x) * self.strength.reshape(1, -1, 1, 1)
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            noise = self.noise_const.to(x).expand(n, 1, h, w)  # [N, 1, H, W]
        elif noise_mode == "random":
            if generator is None:
                noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
            else:  # drawn where the generator lives, so a CPU generator also drives CUDA runs
                noise = torch.randn(n, 1, h, w, generator=generator, device=generator.device).to(x)
        else:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        return x + noise * self.strength.reshape(1, -1, 1, 1)


class ToRGB(nn.Module):
    """Karras et al. 2020 'skip' output branch: img = modulated 1x1 conv(x, A(w)) + b, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, w_dim, kernel_size=1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))  # [C_img]

    def forward(self, x: Tensor, w: Tensor) -> Tensor:  # [N, I, H, W], [N, w_dim] -> [N, C_img, H, W]
        y: Tensor = self.conv(x, w)
        return y + self.bias.reshape(1, -1, 1, 1)
