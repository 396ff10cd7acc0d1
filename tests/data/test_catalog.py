"""``artforge data``'s catalog: already here, apt (mocked), download from a local HTTP server, and the errors."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artforge.core.errors import ArtforgeError
from artforge.data import catalog
from artforge.data.catalog import IDX_FILES, DatasetSource, Remote
from artforge.data.datasets import open_dataset


class _Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                hits.append(self.path.lstrip("/"))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    """Tiny valid idx files (5 train, 3 test images of 4x4) served over HTTP on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 4, 4), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8)
        for what, a in (("images-idx3", images), ("labels-idx1", labels)):
            header = struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
            (root / f"{split}-{what}-ubyte.gz").write_bytes(gzip.compress(header + a.tobytes(), mtime=0))
    s = _Server(root)
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Debian folder, an empty cache, no apt; the cache is returned."""
    monkeypatch.setattr(catalog, "DATA_ROOT", tmp_path / "debian")
    monkeypatch.setenv("ARTFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(catalog, "_apt_prefix", lambda: None)
    return tmp_path / "cache"


def _served(server: _Server, *bases: str, sha: dict[str, str] | None = None, debian: str | None = None) -> None:
    """Point the ``mnist`` (or, with ``debian``, ``fashion-mnist``) entry at the server's files."""
    sums = {f: hashlib.sha256((server.root / f).read_bytes()).hexdigest() for f in IDX_FILES} | (sha or {})
    files = tuple(Remote(f, sums[f], tuple(b + f for b in bases)) for f in IDX_FILES)
    name = "fashion-mnist" if debian else "mnist"
    catalog.SOURCES[name] = DatasetSource(name, "tiny", files, debian=debian)


@pytest.fixture(autouse=True)
def _restore_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "SOURCES", dict(catalog.SOURCES))  # _served edits a copy


def test_catalog_names_and_checksums_are_well_formed() -> None:
    assert list(catalog.SOURCES) == ["fashion-mnist", "mnist", "cifar10"]
    for src in catalog.SOURCES.values():
        for f in src.files:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.urls
    assert catalog.SOURCES["fashion-mnist"].debian == "dataset-fashion-mnist"
    assert catalog.SOURCES["mnist"].debian is None and catalog.SOURCES["cifar10"].debian is None


def test_download_route_lands_complete_and_loads(empty: Path, server: _Server) -> None:
    dead = "http://127.0.0.1:9/"  # the discard port: refused, so the mirror after it is tried
    _served(server, dead, server.url)
    assert not catalog.list_datasets()[1]["ready"]
    where = catalog.fetch("mnist", progress=False)
    assert where == empty / "datasets" / "mnist"
    assert sorted(p.name for p in where.iterdir()) == sorted(IDX_FILES)
    assert not (empty / "datasets" / ".mnist.part").exists()
    assert all((where / f).stat().st_mode & 0o444 == 0o444 for f in IDX_FILES)  # readable, not mkstemp's 0600
    ds = open_dataset("mnist", split="test")  # datasets finds the cache copy
    assert (len(ds), ds.resolution) == (3, 4)
    row = catalog.list_datasets()[1]
    assert row["ready"] and row["path"] == str(where)
    server.hits.clear()
    assert catalog.fetch("mnist", progress=False) == where and server.hits == []  # present: nothing fetched


def test_an_interrupted_download_resumes(empty: Path, server: _Server) -> None:
    _served(server, server.url)
    part = empty / "datasets" / ".mnist.part"
    part.mkdir(parents=True)
    (part / IDX_FILES[0]).write_bytes((server.root / IDX_FILES[0]).read_bytes())  # finished before Ctrl-C
    where = catalog.fetch("mnist", progress=False)
    assert sorted(server.hits) == sorted(IDX_FILES[1:])  # only the missing files are downloaded
    assert len(open_dataset("mnist")) == 5 and where == empty / "datasets" / "mnist"


def test_sha256_mismatch_keeps_nothing(empty: Path, server: _Server) -> None:
    _served(server, server.url, sha={IDX_FILES[1]: "0" * 64})
    with pytest.raises(ArtforgeError, match="sha256 mismatch") as err:
        catalog.fetch("mnist", progress=False)
    assert "\n" not in str(err.value) and "offline?" not in str(err.value)
    assert not (empty / "datasets" / "mnist").exists()
    left = sorted(p.name for p in (empty / "datasets" / ".mnist.part").iterdir())
    assert left == [IDX_FILES[0]]  # the verified first file, to resume from; no partial download


def test_unknown_name() -> None:
    for call in (catalog.fetch, catalog.locate):
        with pytest.raises(ArtforgeError, match="unknown data set 'imagenet'; choose one of fashion-mnist") as e:
            call("imagenet")
        assert "\n" not in str(e.value)


def test_neither_apt_nor_download_says_what_to_do(empty: Path, server: _Server) -> None:
    _served(server, "http://127.0.0.1:9/", debian="dataset-fashion-mnist")
    with pytest.raises(ArtforgeError) as err:
        catalog.fetch("fashion-mnist", progress=False)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("fashion-mnist: cannot run apt-get as root")
    assert "could not download http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert "run `sudo apt-get install dataset-fashion-mnist`" in msg
    assert f"t10k-labels-idx1-ubyte.gz (from http://127.0.0.1:9/) in {empty / 'datasets' / 'fashion-mnist'}" in msg
    assert not (empty / "datasets" / ".fashion-mnist.part").exists()


def test_present_data_is_not_fetched_again(empty: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("must not run or download")

    monkeypatch.setattr(catalog, "_run", no)
    monkeypatch.setattr(catalog, "download", no)
    debian = tmp_path / "debian" / "fashion-mnist"
    debian.mkdir(parents=True)
    for f in IDX_FILES:
        (debian / f).write_bytes(b"")
    assert catalog.fetch("fashion-mnist") == debian
    legacy = empty / "cifar-10-python.tar.gz"  # where `open_dataset("cifar10")` has always saved it
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"")
    assert catalog.fetch("cifar10") == empty
    assert [r["ready"] for r in catalog.list_datasets()] == [True, False, True]


def test_apt_route_updates_lists_only_when_needed(empty: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    debian = empty.parent / "debian" / "fashion-mnist"

    def fake_run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        if cmd[-1] == "dataset-fashion-mnist" and len(calls) == 1:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package dataset-fashion-mnist\n")
        if cmd[-1] == "dataset-fashion-mnist":
            debian.mkdir(parents=True)
            for f in IDX_FILES:
                (debian / f).write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(catalog, "_run", fake_run)
    monkeypatch.setattr(catalog, "_apt_prefix", lambda: [])
    assert catalog.fetch("fashion-mnist", progress=False) == debian
    install = ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]
    assert calls == [install, ["apt-get", "update", "-q"], install]
    calls.clear()
    assert catalog.fetch("fashion-mnist", progress=False) == debian and calls == []


def test_failed_apt_falls_back_to_the_download(empty: Path, server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    _served(server, server.url, debian="dataset-fashion-mnist")
    calls: list[list[str]] = []

    def broken(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 100, "", "E: Could not get lock /var/lib/dpkg/lock\n")

    monkeypatch.setattr(catalog, "_run", broken)
    monkeypatch.setattr(catalog, "_apt_prefix", lambda: ["sudo", "-n"])
    assert catalog.fetch("fashion-mnist", progress=False) == empty / "datasets" / "fashion-mnist"
    assert calls == [["sudo", "-n", "apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]]  # no update
