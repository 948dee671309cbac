"""Stand-in sensors that behave like the real ones, on a VirtualClock.

- :class:`SteppedCounter`: an energy counter that moves only every ``update_period_s`` (NVML's
  total energy updates every 20-100 ms, RAPL's every ~1 ms) and wraps at ``wrap_j`` (RAPL);
- :class:`PolledPower`: an instantaneous power reading, refreshed every ``update_period_s``;
- :class:`TickedCpu`: CPU-seconds of a process tree and of the machine that jump in 10 ms
  ticks, as the kernel counts them, fed by a test that says who is busy when.

Each knows the exact energy it should give over an interval, so tests assert joules, not
"about right".
"""

from __future__ import annotations

import math
from collections.abc import Callable

from greenbench.clock import VirtualClock
from greenbench.sensors.base import Sensor, SensorKind
from greenbench.sensors.cpu_time import CpuTimes

Power = Callable[[float], float]


def constant(watts: float) -> Power:
    return lambda _t: watts


class SteppedCounter(Sensor):
    """Cumulative joules of a steady or time-varying ``power``, published every
    ``update_period_s`` (the value stands still in between), wrapping at ``wrap_j``."""

    kind = SensorKind.COUNTER
    source = "standin"

    def __init__(self, clock: VirtualClock, domain: str, power: Power, *,
                 update_period_s: float = 0.1, wrap_j: float | None = None,
                 max_power_w: float | None = None, start_j: float = 0.0) -> None:
        self.clock, self.domain, self.power = clock, domain, power
        self.update_period_s = update_period_s
        self.wrap_j = wrap_j
        self.max_power_w = max_power_w
        self.t0 = clock.monotonic()
        self.start_j = start_j
        self.offset_j = 0.0  # set by a test to simulate a reset

    def true_energy(self, a: float, b: float, steps: int = 2000) -> float:
        """The energy drawn between monotonic times a and b (midpoint rule; exact for
        constant power)."""
        h = (b - a) / steps
        return sum(self.power(a + (i + 0.5) * h) for i in range(steps)) * h

    def published_at(self, t: float) -> float:
        """The last update time at or before t."""
        n = math.floor((t - self.t0) / self.update_period_s + 1e-9)
        return self.t0 + n * self.update_period_s

    def read_value(self) -> float:
        t = self.published_at(self.clock.monotonic())
        j = self.start_j + self.true_energy(self.t0, t, steps=max(1, int((t - self.t0) * 200)))
        j -= self.offset_j
        return j % self.wrap_j if self.wrap_j else j


class PolledPower(Sensor):
    kind = SensorKind.POWER
    source = "standin"

    def __init__(self, clock: VirtualClock, domain: str, power: Power,
                 update_period_s: float = 0.001) -> None:
        self.clock, self.domain, self.power = clock, domain, power
        self.update_period_s = update_period_s

    def read_value(self) -> float:
        t = self.clock.monotonic()
        return self.power(math.floor(t / self.update_period_s) * self.update_period_s)


class TickedCpu:
    """Busy CPU-seconds of 'us' (the measured tree) and of 'others' on a machine of
    ``cpus`` logical CPUs; loads are set by the test and integrated on virtual time. Reads
    are floored to 10 ms ticks, as /proc counts them."""

    TICK_S = 0.01

    def __init__(self, clock: VirtualClock, cpus: int = 2) -> None:
        self.clock, self.cpus = clock, cpus
        self.ours_cpus = 0.0    # CPUs' worth of work the measured tree does now
        self.others_cpus = 0.0  # CPUs' worth of work of other processes
        self._t = clock.monotonic()
        self._ours = 0.0
        self._others = 0.0
        self.t0 = self._t

    def _advance(self) -> None:
        t = self.clock.monotonic()
        self._ours += self.ours_cpus * (t - self._t)
        self._others += self.others_cpus * (t - self._t)
        self._t = t

    def set(self, ours: float | None = None, others: float | None = None) -> None:
        self._advance()
        if ours is not None:
            self.ours_cpus = ours
        if others is not None:
            self.others_cpus = others

    def _tick(self, x: float) -> float:
        return math.floor(x / self.TICK_S + 1e-9) * self.TICK_S

    def tree(self, _edge: bool) -> CpuTimes:
        self._advance()
        return CpuTimes(self._tick(self._ours), (self._t - self.t0) * self.cpus)

    def machine(self, _edge: bool) -> CpuTimes:
        self._advance()
        return CpuTimes(self._tick(self._ours + self._others), (self._t - self.t0) * self.cpus)
