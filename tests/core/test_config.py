"""The Config mixin: from_dict is strict (unknown keys, wrong types, None where not optional, non-objects
are one-line ArtforgeErrors), ints pass for floats, and save/load is a JSON round trip."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from artforge.core.config import Config
from artforge.core.errors import ArtforgeError


@dataclass
class Tiny(Config):
    n: int = 1
    lr: float = 0.5
    name: str = "x"
    flag: bool = False
    sizes: list[int] = field(default_factory=lambda: [1, 2])
    style: str | None = None
    blend: list[float] | None = None


def test_defaults_and_every_field_round_trip_through_a_dict() -> None:
    assert Tiny.from_dict({}) == Tiny()
    full = {"n": 3, "lr": 0.25, "name": "y", "flag": True, "sizes": [], "style": "s.jpg", "blend": [0.5, 0.5]}
    cfg = Tiny.from_dict(full)
    assert cfg == Tiny(3, 0.25, "y", True, [], "s.jpg", [0.5, 0.5])
    assert cfg.to_dict() == full


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nn": 1}, "unknown key(s) nn"),
        ({"n": 1, "zeta": 0, "alpha": 0}, "unknown key(s) alpha, zeta"),
        ({"n": True}, "n=True is not a valid"),  # bool is an int subclass in Python, not in a config
        ({"n": 2.0}, "n=2.0 is not a valid"),
        ({"n": "2"}, "n='2' is not a valid"),
        ({"lr": "0.1"}, "lr='0.1' is not a valid"),
        ({"lr": False}, "lr=False is not a valid"),
        ({"name": 3}, "name=3 is not a valid"),
        ({"flag": 1}, "flag=1 is not a valid"),
        ({"sizes": [1, "2"]}, "sizes=[1, '2'] is not a valid"),
        ({"sizes": [1, 2.5]}, "sizes=[1, 2.5] is not a valid"),
        ({"sizes": 3}, "sizes=3 is not a valid"),
        ({"sizes": None}, "sizes=None is not a valid"),
        ({"name": None}, "name=None is not a valid"),
        ({"n": None}, "n=None is not a valid"),
        ({"blend": [0.5, "a"]}, "blend=[0.5, 'a'] is not a valid"),
        ({"style": ["a.jpg"]}, "style=['a.jpg'] is not a valid"),
    ],
)
def test_bad_values_are_one_line_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ArtforgeError) as info:
        Tiny.from_dict(data)
    text = str(info.value)
    assert text.startswith("Tiny: ") and message in text and "\n" not in text


@pytest.mark.parametrize("data", [[], "n=1", None, 3, [("n", 1)]])
def test_anything_but_an_object_is_refused(data: Any) -> None:
    with pytest.raises(ArtforgeError, match=f"Tiny: expected a JSON object, got {type(data).__name__}"):
        Tiny.from_dict(data)


def test_ints_are_accepted_for_floats_and_none_for_optionals() -> None:
    assert Tiny.from_dict({"lr": 1}).lr == 1
    assert Tiny.from_dict({"blend": [1, 0.5]}).blend == [1, 0.5]
    assert Tiny.from_dict({"style": None, "blend": None}) == Tiny()


def test_save_and_load_are_a_json_round_trip(tmp_path: Path) -> None:
    cfg = Tiny(n=7, lr=0.125, name="ü", flag=True, sizes=[3], style=None, blend=[0.25, 0.75])
    path = tmp_path / "config.json"
    cfg.save(path)
    assert json.loads(path.read_text()) == cfg.to_dict()
    assert Tiny.load(path) == cfg
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # written atomically, no temp file left
    path.write_text(json.dumps({**cfg.to_dict(), "extra": 1}))
    with pytest.raises(ArtforgeError, match="unknown key"):
        Tiny.load(path)
