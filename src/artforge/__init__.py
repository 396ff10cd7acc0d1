"""artforge: neural style transfer and generative image models on PyTorch.

``import artforge`` is cheap and has no side effects; torch loads on first use of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ArtforgeError", "StylizeConfig", "stylize"]

if TYPE_CHECKING:
    from artforge.api import StylizeConfig, stylize
    from artforge.core.errors import ArtforgeError


def __getattr__(name: str) -> Any:
    if name == "stylize":
        from artforge.api import stylize

        return stylize
    if name == "StylizeConfig":
        from artforge.api import StylizeConfig

        return StylizeConfig
    if name == "ArtforgeError":
        from artforge.core.errors import ArtforgeError

        return ArtforgeError
    raise AttributeError(f"module 'artforge' has no attribute {name!r}")
