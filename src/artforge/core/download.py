"""Downloads and the cache: ``$ARTFORGE_CACHE``, sha256 of files, URL -> file with a progress bar and a checksum."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from artforge.core.errors import ArtforgeError


def cache_dir() -> Path:
    """``$ARTFORGE_CACHE``, else ``$XDG_CACHE_HOME/artforge``, else ``~/.cache/artforge``."""
    if os.environ.get("ARTFORGE_CACHE"):
        return Path(os.environ["ARTFORGE_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "artforge"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, sha256: str, dest_dir: Path, progress: bool, hint: str = "") -> Path:
    """``url`` into a temporary file in ``dest_dir`` (created), with a progress bar; the file is kept only if its
    sha256 matches. ``hint``: what to do when offline, appended to the one-line error."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:
            total = int(resp.headers.get("Content-Length", 0)) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:  # HTTPException: a cut-off transfer
        os.unlink(tmp)
        raise ArtforgeError(f"could not download {url} ({e}); offline?" + (f" {hint}" if hint else "")) from None
    except BaseException:  # Ctrl-C: no half file is left behind
        os.unlink(tmp)
        raise
    if sha256_file(Path(tmp)) != sha256:
        os.unlink(tmp)
        raise ArtforgeError(f"the download of {url} is corrupt (sha256 mismatch); try again")
    return Path(tmp)
