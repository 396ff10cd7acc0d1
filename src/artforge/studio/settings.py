"""How ``artforge serve`` runs: host, port, data dir, users and limits, with the rule that a non-loopback
address needs ``--auth`` (or an explicit ``--insecure``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from artforge import api

DEFAULT_DATA_DIR = "~/.local/share/artforge/studio"


@dataclass(frozen=True)
class ServeOptions:
    """Everything the studio needs to start; ``auth`` holds (user, password) pairs, empty for one local user."""

    host: str = "127.0.0.1"
    port: int = 7860
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR).expanduser())
    runs: Path = Path("runs")  # trained runs: generators for Generate, stylisers for Instant
    auth: tuple[tuple[str, str], ...] = ()
    max_upload_mb: float = 20.0
    heavy_workers: int = 1
    light_workers: int = 1
    insecure: bool = False
    instant_precision: str = "auto"  # auto (bf16 where native, else fp32) | fp32 | bf16

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check(opts: ServeOptions) -> None:
    """Refuse, in one line, what would expose the studio or cannot work."""
    if not is_loopback(opts.host) and not opts.auth and not opts.insecure:
        raise api.ArtforgeError(
            f"--host {opts.host} would let anyone on the network use the studio: add --auth USER:PASS "
            "(or --auth-file), or --insecure if you really mean it"
        )
    if not 0 < opts.port < 65536:
        raise api.ArtforgeError(f"--port {opts.port}: must be 1-65535")
    if opts.max_upload_mb <= 0:
        raise api.ArtforgeError("--max-upload-mb must be positive")
    if opts.instant_precision not in ("auto", "fp32", "bf16"):
        raise api.ArtforgeError("--instant-precision: auto, fp32 or bf16")
    if opts.heavy_workers < 1:
        raise api.ArtforgeError("--heavy-workers must be at least 1")


def parse_auth(pairs: list[str], auth_file: str | None = None) -> tuple[tuple[str, str], ...]:
    """``USER:PASS`` strings, and the lines of ``auth_file`` (blank lines and ``#`` comments skipped)."""
    lines = list(pairs)
    if auth_file is not None:
        try:
            text = Path(auth_file).expanduser().read_text(encoding="utf-8")
        except OSError as e:
            raise api.ArtforgeError(f"--auth-file {auth_file}: cannot read it ({e.strerror or e})") from None
        lines += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    users: dict[str, str] = {}
    for item in lines:
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise api.ArtforgeError(f"--auth: {user.strip() or item[:20]!r} is not USER:PASS")
        if user.strip() in users:
            raise api.ArtforgeError(f"--auth: user {user.strip()!r} is given twice")
        users[user.strip()] = password
    return tuple(users.items())
