"""``artforge serve`` refuses, in one line, a network address without users, and reads its users."""

from __future__ import annotations

from pathlib import Path

import pytest

from artforge import api
from artforge.cli.main import main
from artforge.studio.settings import ServeOptions, check, is_loopback, parse_auth


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_auth(host: str) -> None:
    assert is_loopback(host)
    check(ServeOptions(host=host))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "studio.example.org"])
def test_a_network_address_without_auth_is_refused(host: str) -> None:
    with pytest.raises(api.ArtforgeError, match="--auth") as e:
        check(ServeOptions(host=host))
    assert "\n" not in str(e.value)
    check(ServeOptions(host=host, auth=(("ann", "pw"),)))
    check(ServeOptions(host=host, insecure=True))


def test_serve_refuses_in_one_line_before_starting(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("artforge: error: --host 0.0.0.0") and "--insecure" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d").exists()  # nothing created


def test_auth_pairs_and_file(tmp_path: Path) -> None:
    f = tmp_path / "users"
    f.write_text("# studio users\nbob:s3cret:with:colons\n\n")
    assert parse_auth(["ann:pw"], str(f)) == (("ann", "pw"), ("bob", "s3cret:with:colons"))
    for bad in (["ann"], [":pw"], ["ann:"], ["ann:a", "ann:b"]):
        with pytest.raises(api.ArtforgeError, match="--auth"):
            parse_auth(bad)
    with pytest.raises(api.ArtforgeError, match="cannot read"):
        parse_auth([], str(tmp_path / "missing"))
