"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), config F, pure PyTorch.

No custom CUDA ops and no JIT: FIR resampling, modulated convolution and the bias + leaky ReLU are plain torch ops,
so the networks run (and export) anywhere, on CPU, CUDA and under bf16 autocast.
"""

from artforge.nn.stylegan2.discriminator import (
    Discriminator,
    DiscriminatorBlock,
    DiscriminatorEpilogue,
    MinibatchStd,
    mbstd_group_size,
)
from artforge.nn.stylegan2.generator import (
    Generator,
    MappingNetwork,
    SynthesisBlock,
    SynthesisLayer,
    SynthesisNetwork,
    channels_at,
    normalize_2nd_moment,
)
from artforge.nn.stylegan2.layers import (
    Conv2d,
    FullyConnected,
    ModulatedConv2d,
    NoiseInjection,
    ToRGB,
    demodulation,
    downsample2d,
    fir_filter,
    modulated_conv2d,
    upfirdn2d,
    upsample2d,
)

__all__ = [
    "Conv2d",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "FullyConnected",
    "Generator",
    "MappingNetwork",
    "MinibatchStd",
    "ModulatedConv2d",
    "NoiseInjection",
    "SynthesisBlock",
    "SynthesisLayer",
    "SynthesisNetwork",
    "ToRGB",
    "channels_at",
    "demodulation",
    "downsample2d",
    "fir_filter",
    "mbstd_group_size",
    "modulated_conv2d",
    "normalize_2nd_moment",
    "upfirdn2d",
    "upsample2d",
]
