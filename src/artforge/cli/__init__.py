"""``artforge`` command line: parses arguments and calls :mod:`artforge.api`."""

from artforge.cli.main import main

__all__ = ["main"]
