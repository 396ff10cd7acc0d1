"""``artforge data list|fetch`` and the one-line error of a standard data set that is not here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artforge.cli.main import main
from artforge.data import catalog, datasets


@pytest.fixture
def nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Debian data sets and an empty cache."""
    monkeypatch.setattr(catalog, "DATA_ROOT", tmp_path / "debian")
    monkeypatch.setattr(datasets, "DATA_ROOT", tmp_path / "debian")
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_data_list_prints_the_three_names(nothing: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("fashion-mnist", "mnist", "cifar10"):
        assert f"\n{name} " in f"\n{out}"
    assert "absent" in out and "run `artforge data fetch fashion-mnist`" in out
    assert main(["data", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["fashion-mnist", "mnist", "cifar10"] and not any(r["ready"] for r in rows)


def test_data_fetch_unknown_name_is_one_line(nothing: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch", "imagenet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown data set 'imagenet'" in err


def test_missing_fashion_mnist_says_to_fetch_it(
    nothing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--model", "dcgan", "--data", "fashion-mnist", "--out", str(tmp_path / "runs")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("artforge: error: fashion-mnist: no idx files in ") and err.count("\n") == 1
    assert "run `artforge data fetch fashion-mnist`" in err and "Traceback" not in err
