"""Ctrl-C during training: the first SIGINT asks for a stop, a second aborts, and the previous handler
comes back afterwards. Real signals, sent to this process."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from artforge.train.stop import StopFlag


@pytest.fixture
def own_handler() -> Iterator[list[int]]:
    """A SIGINT handler of our own in place of pytest's, to see that it comes back; counts its calls."""
    calls: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        calls.append(signum)

    original = signal.signal(signal.SIGINT, handler)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGINT, original)


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_first_ctrl_c_asks_for_a_stop_and_the_second_aborts(own_handler: list[int]) -> None:
    previous = signal.getsignal(signal.SIGINT)
    flag = StopFlag()
    with pytest.raises(KeyboardInterrupt):
        with flag.installed() as same:
            assert same is flag and not flag.requested
            _ctrl_c()
            assert flag.requested  # the loop stops at the next step boundary
            _ctrl_c()  # raises KeyboardInterrupt
            pytest.fail("a second Ctrl-C must abort")
    assert signal.getsignal(signal.SIGINT) is previous  # restored on the way out of the abort
    assert own_handler == []  # our handler saw neither signal
    _ctrl_c()
    assert own_handler == [signal.SIGINT]  # and it is the one that answers now


def test_the_previous_handler_is_restored_after_a_clean_exit(own_handler: list[int]) -> None:
    previous = signal.getsignal(signal.SIGINT)
    flag = StopFlag()
    with flag.installed():
        assert signal.getsignal(signal.SIGINT) is not previous
        _ctrl_c()
    assert flag.requested
    assert signal.getsignal(signal.SIGINT) is previous
    _ctrl_c()
    assert own_handler == [signal.SIGINT] and flag.requested


def test_outside_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def worker() -> None:
        with StopFlag().installed() as flag:
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(flag.requested)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [before, False]
    assert signal.getsignal(signal.SIGINT) is before
