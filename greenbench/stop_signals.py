"""SIGTERM and SIGHUP stop greenbench the way Ctrl-C does.

A closed terminal (SIGHUP) or a job scheduler's stop (SIGTERM) would otherwise end greenbench
on the spot: the run left ``running``, the worker's case abandoned. Within ``stop_signals()``
either signal raises ``Stopped`` (a KeyboardInterrupt) where the program is, so everything
that already handles Ctrl-C (stop the worker, keep finished cases, mark the run interrupted)
handles it too. A repeat of the signal while stopping is ignored, so cleanup runs to its end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """greenbench was asked to stop by ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopState:
    """Which signal stopped the block, if any: an exit status of 128 + N says so."""

    signum: int | None = None

    def exit_code(self, default: int) -> int:
        return default if self.signum is None else 128 + self.signum


@contextmanager
def stop_signals() -> Iterator[StopState]:
    """Turn SIGTERM and SIGHUP into ``Stopped`` for the block (main thread only; elsewhere
    signals cannot be caught and the block runs unchanged)."""
    state = StopState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if state.signum is None:
            state.signum = signum
            raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield state
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
