"""Checks of the values a page or an API call sends: each refusal is one line that names the field."""

from __future__ import annotations

from typing import Any

from artforge import api


def choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise api.ArtforgeError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def number(value: Any, lo: float, hi: float, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise api.ArtforgeError(f"{what} must be a number, not {value!r}") from None
    if not lo <= x <= hi:
        raise api.ArtforgeError(f"{what} must be in [{lo:g}, {hi:g}], not {x:g}")
    return x


def model_path(row: dict[str, Any]) -> dict[str, str]:
    """A trained model goes to the engine by its path (its name is only the studio's); a shipped one by name."""
    return {} if row.get("source") == "shipped" else {"model_path": str(row["path"])}
