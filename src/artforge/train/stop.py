"""Ctrl-C during training: the first SIGINT asks the loop to stop at the next step, a second one aborts."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class StopFlag:
    """First Ctrl-C (SIGINT) asks the loop to stop at the next step boundary; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        try:
            previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C is not ours to catch
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
