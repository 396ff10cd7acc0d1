"""The Johnson family: y = f_W(x), L = a L_content(f(x), x) + b L_style(f(x), s) + g L_tv (Johnson et al. 2016)."""

from __future__ import annotations

from torch import nn

from artforge.families.stylizer import NetSpec, StylizerFamily
from artforge.nn.transformer import TransformerNet


class Johnson(StylizerFamily):
    name = "johnson"
    description = "per-style feed-forward network (Johnson et al. 2016)"
    width = 16

    def build_net(self, spec: NetSpec) -> nn.Module:
        return TransformerNet(spec.width, spec.blocks, spec.skip)
