"""The data sets ``artforge data fetch`` can get: Fashion-MNIST, MNIST and CIFAR-10, by apt or by download.

A data set is ready when its files are in its Debian folder (``/usr/share/datasets/<name>/``), in
``<cache>/datasets/<name>/``, or in an older cache location that :mod:`artforge.data.datasets` still reads.
:func:`fetch` installs the Debian package when there is one and we may (root, or ``sudo -n``); otherwise it
downloads the official files (sha256-checked) into ``<cache>/datasets/<name>/``, which appears only when complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artforge.core.download import cache_dir, download
from artforge.core.errors import ArtforgeError
from artforge.data import cifar, idx

DATA_ROOT = Path("/usr/share/datasets")  # where Debian's dataset-* packages install


@dataclass(frozen=True)
class Remote:
    """One file of a data set: its name on disk, its sha256, and the URLs it is served from (tried in order)."""

    name: str
    sha256: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSource:
    """A fetchable data set: its files and, where Debian packages it, the package name."""

    name: str
    description: str
    files: tuple[Remote, ...]
    debian: str | None = None


IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")  # fmt: skip
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
# sha256 of the official .gz files as pinned by torchvision (prototype/datasets/_builtin/mnist.py, _CHECKSUMS) and
# tensorflow-datasets. Debian's dataset-fashion-mnist holds the same data recompressed (other bytes, same images).
FASHION_SHA256 = (
    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
)
MNIST_SHA256 = (
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
)

SOURCES: dict[str, DatasetSource] = {
    s.name: s
    for s in (
        DatasetSource(
            "fashion-mnist",
            "Fashion-MNIST (Xiao et al. 2017): 70000 28x28 grey clothing images in 10 classes, ~30 MB",
            tuple(Remote(f, h, (FASHION_URL + f,)) for f, h in zip(IDX_FILES, FASHION_SHA256, strict=True)),
            debian="dataset-fashion-mnist",
        ),
        DatasetSource(
            "mnist",
            "MNIST (LeCun et al. 1998): 70000 28x28 grey handwritten digits, ~11 MB",
            tuple(Remote(f, h, tuple(u + f for u in MNIST_URLS)) for f, h in zip(IDX_FILES, MNIST_SHA256, strict=True)),
        ),
        DatasetSource(
            "cifar10",
            "CIFAR-10 (Krizhevsky 2009): 60000 32x32 colour images in 10 classes, ~163 MB",
            (Remote(cifar.ARCHIVE, cifar.SHA256, (cifar.URL,)),),
        ),
    )
}


def _source(name: str) -> DatasetSource:
    if name not in SOURCES:
        raise ArtforgeError(f"unknown data set {name!r}; choose one of {', '.join(SOURCES)} (`artforge data list`)")
    return SOURCES[name]


def cache_path(name: str) -> Path:
    """Where a download of ``name`` lands: ``<cache>/datasets/<name>/``."""
    return cache_dir() / "datasets" / name


def _complete(folder: Path, name: str) -> bool:
    if name == "cifar10":
        return (folder / cifar.ARCHIVE).is_file() or (folder / cifar.BATCH_DIR).is_dir()
    return all(idx.find_file(folder, s, w) is not None for s in ("train", "test") for w in ("images", "labels"))


def locate(name: str) -> Path | None:
    """The folder holding a complete copy of ``name`` (Debian's, the cache's, or the older cache location), or None."""
    _source(name)
    legacy = cache_dir() if name == "cifar10" else cache_dir() / name
    for folder in (DATA_ROOT / name, cache_path(name), legacy):
        if folder.is_dir() and _complete(folder, name):
            return folder
    return None


def _by_hand(src: DatasetSource) -> str:
    files = ", ".join(f.name for f in src.files)
    apt = f"run `sudo apt-get install {src.debian}`, or " if src.debian else ""
    return f"{apt}put {files} (from {src.files[0].urls[0].rsplit('/', 1)[0]}/) in {cache_path(src.name)}"


def _how(src: DatasetSource) -> str:
    return f"run `artforge data fetch {src.name}`, or {_by_hand(src).removeprefix('run ')}"


def list_datasets() -> list[dict[str, Any]]:
    """``[{name, description, ready, path, debian, how}]``; ``path``: the folder found (None when absent);
    ``how``: where it is, or how to get it."""
    rows: list[dict[str, Any]] = []
    for src in SOURCES.values():
        where = locate(src.name)
        rows.append(
            {
                "name": src.name,
                "description": src.description,
                "ready": where is not None,
                "path": str(where) if where else None,
                "debian": src.debian,
                "how": f"in {where}" if where else _how(src),
            }
        )
    return rows


# ---------------------------------------------------------------- apt


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` non-interactively (tests replace this)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def _apt_prefix() -> list[str] | None:
    """The command prefix for apt-get: ``[]`` as root, ``sudo -n env DEBIAN_FRONTEND=...`` when sudo needs no
    password, None when apt-get cannot be run as root."""
    if shutil.which("apt-get") is None:
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo") is not None and _run(["sudo", "-n", "true"]).returncode == 0:
        return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    return None


def _last_line(text: str) -> str:
    lines = [" ".join(s.split()) for s in text.splitlines() if s.strip()]
    return lines[-1] if lines else "no output"


def _apt_install(package: str, prefix: list[str]) -> str | None:
    """Install ``package``; None on success, else apt's last error line. ``apt-get update`` runs only when the
    package lists lack it."""
    install = [*prefix, "apt-get", "install", "-y", "-q", package]
    r = _run(install)
    if r.returncode != 0 and ("Unable to locate package" in r.stderr or "no installation candidate" in r.stderr):
        up = _run([*prefix, "apt-get", "update", "-q"])
        if up.returncode != 0:
            return f"apt-get update failed: {_last_line(up.stderr or up.stdout)}"
        r = _run(install)
    return None if r.returncode == 0 else f"apt-get install {package} failed: {_last_line(r.stderr or r.stdout)}"


# ---------------------------------------------------------------- download


def _download_all(src: DatasetSource, progress: bool) -> Path:
    """Every file into ``<cache>/datasets/.<name>.part/`` (kept across failures, so a retry resumes), then into
    place. Raises :class:`ArtforgeError` (one line) on the first file no URL serves with the right sha256."""
    final = cache_path(src.name)
    part = final.parent / f".{src.name}.part"
    try:
        part.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArtforgeError(f"cannot write to {final.parent} ({e.strerror or e})") from None
    for f in src.files:
        if (part / f.name).is_file():
            continue  # finished (and checked) by an earlier, interrupted fetch
        errors: list[str] = []
        for url in f.urls:
            try:
                tmp = download(url, f.sha256, part, progress)
            except ArtforgeError as e:
                errors.append(str(e).removesuffix("; offline?"))
                continue
            except OSError as e:
                raise ArtforgeError(f"cannot write to {part} ({e.strerror or e})") from None
            os.chmod(tmp, 0o644)
            os.replace(tmp, part / f.name)
            break
        else:
            if not any(part.iterdir()):
                part.rmdir()  # nothing to resume from
            raise ArtforgeError("; ".join(errors))
    if final.is_dir():  # e.g. the user put some of the files there: add ours beside them
        for f in src.files:
            if not (final / f.name).exists():
                os.replace(part / f.name, final / f.name)
        shutil.rmtree(part, ignore_errors=True)
    else:
        os.replace(part, final)
    return final


def fetch(name: str, progress: bool = True) -> Path:
    """The folder holding ``name``: at once if present, else installed with apt (Debian package, as root or with
    passwordless sudo), else downloaded into ``<cache>/datasets/<name>/`` with a progress bar and sha256 checks."""
    src = _source(name)
    found = locate(name)
    if found is not None:
        return found
    tried: list[str] = []
    if src.debian:
        prefix = _apt_prefix()
        if prefix is None:
            tried.append(f"cannot run apt-get as root for {src.debian} (not root, no passwordless sudo)")
        else:
            if progress:
                print(f"installing {src.debian} with apt-get ...", file=sys.stderr)
            failed = _apt_install(src.debian, prefix)
            if failed is None and _complete(DATA_ROOT / name, name):
                return DATA_ROOT / name
            tried.append(failed or f"{src.debian} installed, but {DATA_ROOT / name} lacks the files")
    try:
        return _download_all(src, progress)
    except ArtforgeError as e:
        tried.append(str(e))
    failed = "; ".join(tried)
    offline = "offline? " if "could not download" in failed else ""
    raise ArtforgeError(f"{name}: {failed}; {offline}{_by_hand(src)}")
