"""The Config mixin: dataclass configs are the single source of truth, saved as JSON; unknown keys are an error."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from artforge.core.atomic import atomic_write_text
from artforge.core.errors import ArtforgeError

C = TypeVar("C", bound="Config")


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type hint built from None, bool, int, float, str, list[...], unions."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


class Config:
    """Mixin for dataclass configs: ``to_dict`` / ``from_dict`` / ``save`` / ``load``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Build from JSON-like data; unknown keys and wrongly typed values are errors."""
        if not isinstance(data, dict):
            raise ArtforgeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ArtforgeError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
        for key, value in data.items():
            if not _fits(value, hints[key]):
                raise ArtforgeError(f"{cls.__name__}: {key}={value!r} is not a valid {hints[key]}")
        return cls(**data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as JSON atomically (temp file + rename)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls: type[C], path: str | os.PathLike[str]) -> C:
        return cls.from_dict(json.loads(Path(path).read_text()))
