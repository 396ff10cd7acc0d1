"""TrainConfig: RUN/config.json round trips and is read strictly (the Config mixin on the real config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artforge.core.errors import ArtforgeError
from artforge.families.config import TrainConfig


def test_a_run_config_round_trips_through_config_json(tmp_path: Path) -> None:
    cfg = TrainConfig.from_dict(
        {"model": "vae", "resolution": 28, "kimg": 2, "betas": [0.9, 0.999], "style": ["a.jpg"], "lr": None}
    )
    assert cfg.kimg == 2 and cfg.betas == [0.9, 0.999] and cfg.lr is None  # an int is a fine float
    cfg.save(tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text()) == cfg.to_dict()
    assert TrainConfig.load(tmp_path / "config.json") == cfg
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


@pytest.mark.parametrize(
    "data",
    [{"modle": "vae"}, {"batch": "64"}, {"batch": True}, {"mirror": 1}, {"betas": [0.5, "0.9"]}, {"style": "a.jpg"},
     {"model": None}, {"kimg": None}],
)  # fmt: skip
def test_a_misspelt_or_mistyped_key_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ArtforgeError, match="^TrainConfig: "):
        TrainConfig.from_dict(data)
