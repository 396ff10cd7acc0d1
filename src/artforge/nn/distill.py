"""Collaborative distillation (Wang et al., CVPR 2020): a thin VGG student f' learns the teacher f
through linear embeddings, L_embed = mean_l ||E_l(f'_l(x)) - f_l(x)||^2 / ||f_l(x)||^2, so that
AdaIN can run in the student's feature space at 1/k^2 of the teacher's cost.

artforge starts the student from the teacher by filter pruning (keep each layer's k-th of filters
with the largest L1 norm, Li et al. 2017) and each E_l from the identity on the kept channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from artforge.nn.encoders import VGGEncoder


def student_of(teacher: VGGEncoder, width: int, last: str) -> tuple[VGGEncoder, dict[str, torch.Tensor]]:
    """A trainable ``teacher`` thinned ``width`` times, up to layer ``last``, initialised with the
    teacher's filters of largest L1 norm; also each conv's kept output channels (teacher indices)."""
    student = VGGEncoder(teacher.arch, teacher.preprocessing, teacher.pooling, width=width, last=last)
    kept: dict[str, torch.Tensor] = {}
    prev = torch.arange(3)
    with torch.no_grad():
        for name, conv in student.convs.items():
            assert isinstance(conv, nn.Conv2d)
            t = teacher.convs[name]
            assert isinstance(t, nn.Conv2d) and t.bias is not None and conv.bias is not None
            keep = t.weight.abs().sum((1, 2, 3)).topk(conv.out_channels).indices.sort().values
            conv.weight.copy_(t.weight[keep][:, prev])
            conv.bias.copy_(t.bias[keep])
            kept[name], prev = keep, keep
    return student.train().requires_grad_(True), kept


class Embeddings(nn.Module):
    """E_l: 1x1 convolutions from the student's channels to the teacher's at each distilled layer,
    initialised to put each kept channel back where the teacher has it (zero elsewhere)."""

    def __init__(
        self, student: VGGEncoder, teacher: VGGEncoder, layers: Sequence[str], kept: Mapping[str, torch.Tensor]
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        self.maps = nn.ModuleDict()
        for layer in self.layers:
            conv = "conv" + layer[4:]
            c_s, c_t = (_out_channels(enc, conv) for enc in (student, teacher))
            e = nn.Conv2d(c_s, c_t, 1)
            with torch.no_grad():
                e.weight.zero_()
                e.weight[kept[conv], torch.arange(c_s)] = 1.0
                assert e.bias is not None
                e.bias.zero_()
            self.maps[layer] = e

    def forward(self, feats: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: self.maps[k](feats[k]) for k in self.layers}


def _out_channels(encoder: VGGEncoder, conv: str) -> int:
    layer = encoder.convs[conv]
    assert isinstance(layer, nn.Conv2d)
    return layer.out_channels
