"""ADA (Karras et al. 2020, "Training GANs with Limited Data"): adaptive discriminator augmentation, pure PyTorch.

``AugmentPipe`` is the paper's 'bgc' pipeline (blit, general geometry, colour); ``ada_update`` is the p controller;
``parse_augment`` reads the ``--augment`` option. Random draws come from a ``torch.Generator`` when one is given,
so a run that saves the generator state resumes bit-exactly.
"""

from __future__ import annotations

from artforge.nn.augment.ada import AUGMENT_HELP, ada_update, parse_augment
from artforge.nn.augment.pipe import AugmentParams, AugmentPipe

__all__ = ["AUGMENT_HELP", "AugmentParams", "AugmentPipe", "ada_update", "parse_augment"]
