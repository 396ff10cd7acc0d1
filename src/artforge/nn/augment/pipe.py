"""ADA (Karras et al. 2020, "Training GANs with Limited Data"): the 'bgc' pipeline, one draw per image.

Each transform is applied to each image independently with probability ``multiplier * p``; ``p`` is a buffer that
the trainer moves (``ada_update``) or fixes. The geometric transforms (blit: x-flip, quarter turns, integer
translation; general: isotropic scale, rotation, anisotropic scale, fractional translation) compose into one 3x3
matrix per image and one resampling; the colour transforms (brightness, contrast, luma flip, hue, saturation)
into one 4x4 matrix per image. Strengths are the paper's (stylegan2-ada-pytorch defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from artforge.nn.augment import matrices as m
from artforge.nn.augment.resample import blit, recolor, resample

XINT_MAX = 0.125  # integer translation: uniform in +-0.125 of the image size, rounded to whole pixels
SCALE_STD = 0.2  # isotropic scale 2^N(0, 0.2^2)
ROTATE_MAX = 1.0  # rotation: uniform over the full circle
ANISO_STD = 0.2  # anisotropic scale 2^N(0, 0.2^2) in x, its inverse in y
XFRAC_STD = 0.125  # fractional translation N(0, 0.125^2) of the image size
BRIGHTNESS_STD = 0.2  # brightness N(0, 0.2^2) added to [-1, 1] images
CONTRAST_STD = 0.5  # contrast 2^N(0, 0.5^2)
HUE_MAX = 1.0  # hue rotation: uniform over the full circle
SATURATION_STD = 1.0  # saturation 2^N(0, 1)

GENERAL = ("scale", "rotate", "aniso", "xfrac")  # the transforms that need filtering (not whole-pixel moves)


@dataclass
class AugmentParams:
    """One draw for a batch: the matrices to apply and which transforms each image got."""

    geom: Tensor  # [N, 3, 3] centred output pixel position -> input position read (the inverse transform)
    color: Tensor  # [N, 4, 4] homogeneous RGB in [-1, 1] -> augmented RGB
    applied: dict[str, Tensor]  # transform name -> [N] bool: chosen for this image (probability multiplier * p)


class _Draws:
    """Random numbers from ``generator`` (on its device) or the global RNG, delivered on ``device``."""

    def __init__(self, n: int, device: torch.device, generator: torch.Generator | None) -> None:
        self.n, self.device, self.generator = n, device, generator
        self.source = generator.device if generator is not None else device

    def uniform(self, *shape: int) -> Tensor:
        return torch.rand((self.n, *shape), generator=self.generator, device=self.source).to(self.device)

    def normal(self, *shape: int) -> Tensor:
        return torch.randn((self.n, *shape), generator=self.generator, device=self.source).to(self.device)


class AugmentPipe(nn.Module):
    """ADA 'bgc' augmentation (Karras et al. 2020): x -> colour(C) o warp(G) x, each transform with prob. mult * p.

    The multipliers are 1 (on) or 0 (off) per transform, as in the official code; ``p`` starts at 0 (identity).
    """

    p: Tensor

    def __init__(
        self,
        xflip: float = 1.0,
        rotate90: float = 1.0,
        xint: float = 1.0,
        scale: float = 1.0,
        rotate: float = 1.0,
        aniso: float = 1.0,
        xfrac: float = 1.0,
        brightness: float = 1.0,
        contrast: float = 1.0,
        lumaflip: float = 1.0,
        hue: float = 1.0,
        saturation: float = 1.0,
    ) -> None:
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.mult = {
            "xflip": float(xflip), "rotate90": float(rotate90), "xint": float(xint), "scale": float(scale),
            "rotate": float(rotate), "aniso": float(aniso), "xfrac": float(xfrac), "brightness": float(brightness),
            "contrast": float(contrast), "lumaflip": float(lumaflip), "hue": float(hue),
            "saturation": float(saturation),
        }  # fmt: skip

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in self.mult.items() if v != 1.0) or "bgc"

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """x [N, C, H, W] in [-1, 1], C = 1 or 3 -> augmented [N, C, H, W] in x's dtype; differentiable in x."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"AugmentPipe takes [N, 1 or 3, H, W] images, not {list(x.shape)}")
        n, c, h, w = x.shape
        return self.transform(x, self.sample(n, c, h, w, device=x.device, generator=generator))

    def sample(
        self,
        n: int,
        channels: int,
        height: int,
        width: int,
        device: torch.device | None = None,
        generator: torch.Generator | None = None,
    ) -> AugmentParams:
        """Draw the transforms for a batch of n images; every random number comes from ``generator`` if given."""
        device = self.p.device if device is None else torch.device(device)
        with torch.autocast(device_type=device.type, enabled=False):  # float32 matrices, also under AMP
            return self._sample(n, channels, height, width, device, generator)

    def _sample(
        self, n: int, channels: int, height: int, width: int, device: torch.device, generator: torch.Generator | None
    ) -> AugmentParams:
        rng = _Draws(n, device, generator)
        p = self.p.detach().to(device=device, dtype=torch.float32)
        applied: dict[str, Tensor] = {}

        def chosen(name: str, prob: Tensor | None = None) -> Tensor:
            """[N] bool: u < multiplier * p, one uniform per image (drawn after the transform's own values)."""
            return rng.uniform() < (self.mult[name] * p if prob is None else prob)

        zero, one = torch.zeros(n, device=device), torch.ones(n, device=device)
        g = torch.eye(3, device=device).expand(n, 3, 3)  # composed as g @ T^-1: the inverse of T_k ... T_1
        if self.mult["xflip"] > 0:
            flip = torch.floor(rng.uniform() * 2)
            applied["xflip"] = chosen("xflip")
            g = g @ m.scale2d(torch.where(applied["xflip"], 1 - 2 * flip, one), one)
        if self.mult["rotate90"] > 0:
            quarter = torch.floor(rng.uniform() * 4).long()
            applied["rotate90"] = chosen("rotate90")
            quarter = torch.where(applied["rotate90"], quarter, 0)
            cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=device)[quarter]  # exact quarter turns
            sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=device)[quarter]
            g = g @ m.rotate2d(cos, -sin)
        if self.mult["xint"] > 0:
            t = (rng.uniform(2) * 2 - 1) * XINT_MAX
            applied["xint"] = chosen("xint")
            t = torch.where(applied["xint"][:, None], t, 0.0)
            g = g @ m.translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height))
        if self.mult["scale"] > 0:
            s = torch.exp2(rng.normal() * SCALE_STD)
            applied["scale"] = chosen("scale")
            s = torch.where(applied["scale"], s, one)
            g = g @ m.scale2d(1 / s, 1 / s)
        # two rotations, around the anisotropic scale, each with p_rot so that P(either) = multiplier * p
        p_rot = 1 - torch.sqrt(torch.clamp(1 - self.mult["rotate"] * p, 0, 1))
        turns: list[Tensor] = []
        for stage in ("pre", "post"):
            if self.mult["rotate"] > 0:
                theta = (rng.uniform() * 2 - 1) * math.pi * ROTATE_MAX
                on = chosen("rotate", p_rot)
                turns.append(on)
                theta = torch.where(on, theta, zero)
                g = g @ m.rotate2d(torch.cos(theta), -torch.sin(theta))
            if stage == "pre" and self.mult["aniso"] > 0:
                s = torch.exp2(rng.normal() * ANISO_STD)
                applied["aniso"] = chosen("aniso")
                s = torch.where(applied["aniso"], s, one)
                g = g @ m.scale2d(1 / s, s)
        if turns:
            applied["rotate"] = turns[0] | turns[1]
        if self.mult["xfrac"] > 0:
            t = rng.normal(2) * XFRAC_STD
            applied["xfrac"] = chosen("xfrac")
            t = torch.where(applied["xfrac"][:, None], t, 0.0)
            g = g @ m.translate2d(-t[:, 0] * width, -t[:, 1] * height)

        cm = torch.eye(4, device=device).expand(n, 4, 4)  # composed as T_k ... T_1
        if self.mult["brightness"] > 0:
            b = rng.normal() * BRIGHTNESS_STD
            applied["brightness"] = chosen("brightness")
            cm = m.translate3d(torch.where(applied["brightness"], b, zero)) @ cm
        if self.mult["contrast"] > 0:
            s = torch.exp2(rng.normal() * CONTRAST_STD)
            applied["contrast"] = chosen("contrast")
            cm = m.scale3d(torch.where(applied["contrast"], s, one)) @ cm
        if self.mult["lumaflip"] > 0:
            flip = torch.floor(rng.uniform() * 2)
            applied["lumaflip"] = chosen("lumaflip")
            cm = m.luma_flip3d(torch.where(applied["lumaflip"], flip, zero)) @ cm
        if self.mult["hue"] > 0 and channels == 3:  # a grey image lies on the hue axis: nothing to do
            theta = (rng.uniform() * 2 - 1) * math.pi * HUE_MAX
            applied["hue"] = chosen("hue")
            cm = m.hue_rotate3d(torch.where(applied["hue"], theta, zero)) @ cm
        if self.mult["saturation"] > 0 and channels == 3:
            s = torch.exp2(rng.normal() * SATURATION_STD)
            applied["saturation"] = chosen("saturation")
            cm = m.saturate3d(torch.where(applied["saturation"], s, one)) @ cm
        return AugmentParams(geom=g, color=cm, applied=applied)

    def transform(self, x: Tensor, params: AugmentParams) -> Tensor:
        """Warp, then recolour: x [N, C, H, W] -> [N, C, H, W] in x's dtype. Untouched images come back exactly."""
        n = x.shape[0]
        none = torch.zeros(n, dtype=torch.bool, device=x.device)
        general = none
        for name in GENERAL:
            general = general | params.applied.get(name, none)
        moved = (params.geom != torch.eye(3, device=x.device)).flatten(1).any(dim=1)  # [N]
        recoloured = (params.color != torch.eye(4, device=x.device)).flatten(1).any(dim=1)
        if not bool((moved | recoloured).any()):
            return x
        with torch.autocast(device_type=x.device.type, enabled=False):  # matrix maths in float32, also under AMP
            out = x.float()
            pixels = (moved & ~general).nonzero().flatten()  # whole-pixel moves only: exact
            if pixels.numel():
                out = out.index_copy(0, pixels, blit(out.index_select(0, pixels), params.geom[pixels]))
            warped = general.nonzero().flatten()
            if warped.numel():
                out = out.index_copy(0, warped, resample(out.index_select(0, warped), params.geom[warped]))
            if bool(recoloured.any()):
                out = recolor(out, params.color)
        return out.to(x.dtype)
