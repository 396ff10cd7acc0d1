"""Device choice: ``auto`` is CUDA when present, else the CPU; everything runs on the CPU."""

from __future__ import annotations

import torch

from artforge.core.errors import ArtforgeError


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA if present, else CPU; ``cuda[:N]`` without a GPU is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ArtforgeError(f"--device {name}: no CUDA GPU is available; use --device cpu")
    return torch.device(name)
