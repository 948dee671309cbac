"""The clock every measurement uses, injectable so that the instrument is tested on virtual time.

:class:`SystemClock` is the real one: monotonic seconds for intervals (never goes back, unaffected
by NTP), Unix seconds for wall time, and a real sleep. :class:`VirtualClock` is the tests' clock:
time moves only when a test (or a stand-in sensor, or the code under test through ``sleep``)
advances it, so a test can say exactly how many joules a window must hold.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds for intervals; only differences mean anything."""

    def wall(self) -> float:
        """Unix seconds, for time-varying carbon intensity and records."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class VirtualClock:
    """Time that moves only when told: ``advance(s)`` or ``sleep(s)`` (which advances)."""

    def __init__(self, start_s: float = 1000.0, wall_s: float = 1.7e9) -> None:
        self._t = start_s
        self._wall_offset = wall_s - start_s
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def wall(self) -> float:
        return self.monotonic() + self._wall_offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        with self._lock:
            self._t += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))


SYSTEM = SystemClock()
