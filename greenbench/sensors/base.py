"""What every sensor is: a domain, a kind, a probe that can say why not, and timestamped reads.

A sensor reads one *domain* (``cpu-package:0``, ``dram:0``, ``gpu:1``). Its *kind* says how its
values become energy:

- ``counter``: cumulative joules (RAPL ``energy_uj``, NVML total energy); energy is a difference,
  with wraparound added back when the sensor declares a ``wrap_j``;
- ``power``: instantaneous watts, integrated over time (trapezoid rule);
- ``estimate``: a model's figure, always labelled as an estimate. A :class:`ModelSensor` (the
  CPU estimate) reads the model's *inputs* (cumulative CPU seconds), so that the energy of a
  window comes from the inputs' change between the window's own edges, exact for the model
  however the samples fall; a constant model (RAM power from its size) is a plain power
  sensor with ``constant = True``, reported beside measured totals rather than inside them.

Backends never raise at import time and never crash a probe: an absent sensor is a
:class:`Probe` with ``sensor=None`` and a reason and a remedy.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from greenbench.clock import SYSTEM, Clock


class SensorKind(str, Enum):
    COUNTER = "counter"
    POWER = "power"
    ESTIMATE = "estimate"


class SensorReadError(RuntimeError):
    """A read failed. Never replaced by 0: the meter records the failure against the domain."""


@dataclass(frozen=True)
class Reading:
    """One timestamped value: joules (counter) or watts (power, estimate)."""

    t_s: float
    value: float


class Sensor(ABC):
    """One readable domain.

    Subclasses set the class or instance attributes below and implement :meth:`read_value`.
    """

    #: domain name, e.g. ``cpu-package:0``
    domain: str
    kind: SensorKind
    #: where the value comes from, e.g. ``rapl``, ``nvml``, ``estimate:cpu-tdp``
    source: str
    #: how often the underlying value changes, in seconds (RAPL ~1 ms, NVML 20-100 ms)
    update_period_s: float = 0.001
    #: smallest step of the value: joules for counters, watts for power
    resolution: float = 0.0
    #: for counters: the value at which the raw counter wraps back to 0, in joules
    wrap_j: float | None = None
    #: for counters: the highest power the wrap guarantee assumes, in watts
    max_power_w: float | None = None
    #: name of a domain this one is already counted in (``cpu-core:0`` is inside
    #: ``cpu-package:0``); such domains are reported but left out of totals
    part_of: str | None = None
    #: an independent power sensor for the same domain; the meter integrates it beside this
    #: counter and warns when the two disagree (AMD SMI counters are wrong on some parts)
    cross_check: Sensor | None = None
    #: a constant model (no input follows the work): reported beside totals, not inside them
    constant: bool = False
    #: how long readings lag after load stops (GPU power is a moving average): the protocol
    #: waits this long before an idle baseline
    settle_s: float = 0.0

    def read(self, clock: Clock = SYSTEM) -> Reading:
        """Read now; raises :class:`SensorReadError` on failure."""
        value = self.read_value()
        return Reading(clock.monotonic(), value)

    @abstractmethod
    def read_value(self) -> float:
        """Joules (counter) or watts (power, estimate)."""

    def info(self) -> dict[str, Any]:
        """Facts worth storing with a result (device name, driver, power limit, model inputs)."""
        return {}

    @property
    def min_power_span_s(self) -> float:
        """Shortest interval over which a power may be derived from this sensor's energy.

        A counter that updates every ``update_period_s`` read over one period shows 0 or 2
        updates as easily as 1: over five periods the derived power is within 20 %. A
        difference over the millisecond between a window's edge read and the next sample is
        not a power reading at all (it once showed 16 kW for a steady 300 W GPU).
        """
        return 5 * self.update_period_s if self.kind is SensorKind.COUNTER else 0.0

    @property
    def useful_poll_s(self) -> float:
        """Polling faster than this reads nothing new: the value's update period; never for
        a constant."""
        return float("inf") if self.constant else self.update_period_s

    def max_poll_interval_s(self) -> float | None:
        """Longest poll interval that still sees every wrap of a counter at ``max_power_w``.

        Between two reads at most ``max_power_w * dt`` joules accumulate; a wrap is seen (the
        raw value goes down) as long as that is less than ``wrap_j``. Half of that bound is
        returned, for margin.
        """
        if self.kind is not SensorKind.COUNTER or not self.wrap_j or not self.max_power_w:
            return None
        return 0.5 * self.wrap_j / self.max_power_w

    def describe(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "kind": self.kind.value,
            "source": self.source,
            "update_period_s": self.update_period_s,
            "resolution": self.resolution,
            "wrap_j": self.wrap_j,
            "part_of": self.part_of,
            "info": self.info(),
        }


class ModelSensor(Sensor):
    """An estimate computed from cumulative inputs: ``read_state`` returns them, and
    ``energy_j(before, after, dt_s)`` is the model's energy between two such states.

    The meter keeps each window's edge states and asks the model once per window, so a
    window's figure is exact for the model: no sample-and-hold of a mean value, no edge read
    reaching back an interval. Background samples only feed the power trace and peaks, with
    powers over spans of at least ``power_span_s`` (CPU time moves in 10 ms ticks).
    """

    kind = SensorKind.ESTIMATE
    power_span_s: float = 0.1

    @abstractmethod
    def read_state(self, edge: bool) -> Any:
        """The model's cumulative inputs now; ``edge`` is True at a window's edge (read with
        full care), False for a background sample (may be cheaper)."""

    @abstractmethod
    def energy_j(self, before: Any, after: Any, dt_s: float) -> float:
        """The model's energy, joules, between two states ``dt_s`` seconds apart."""

    def read_value(self) -> float:
        raise TypeError(f"{type(self).__name__} is read through read_state")

    @property
    def min_power_span_s(self) -> float:
        return self.power_span_s

    @property
    def useful_poll_s(self) -> float:
        return self.power_span_s  # its windows come from their edges; samples feed the trace


def unwrap_delta_j(previous_j: float, current_j: float, wrap_j: float) -> float:
    """Energy in joules between two raw counter reads, adding ``wrap_j`` once if it wrapped.

    Assumes at most one wrap between the reads (the poll interval guarantees it). The hardware
    counter really wraps one energy unit (15-61 uJ) after ``wrap_j``; that error is below the
    counter's resolution.
    """
    if current_j >= previous_j:
        return current_j - previous_j
    if wrap_j <= 0:
        raise ValueError(f"counter went down ({previous_j} -> {current_j} J) with no wrap range")
    return current_j + wrap_j - previous_j


def counter_agrees(counter_j: float, power_integral_j: float, tolerance: float = 0.1) -> bool:
    """Whether an energy counter's reading matches power integrated over the same window.

    Both arguments are joules for one window: ``counter_j`` the difference of the counter,
    ``power_integral_j`` the cross-check power sensor's samples integrated over time. They agree
    when they differ by at most ``tolerance`` (a fraction, 0.1 = 10 %) of the power integral.

    The power integral is the reference because the counter is the suspect: AMD SMI's counter
    stands still or runs wrong on some parts. The default is loose because the power figure may be
    a moving average (lagging at the window edges) and is sampled, not accumulated; on NVIDIA the
    two agree within about 1 % over long windows. A counter that went backwards (negative), a
    non-finite value, or a counter that moved while the integral is zero never agrees; two zeros do.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if not (math.isfinite(counter_j) and math.isfinite(power_integral_j)) or counter_j < 0:
        return False
    return abs(counter_j - power_integral_j) <= tolerance * abs(power_integral_j)


@dataclass
class Probe:
    """The answer to "can this machine read domain X?", with the sensor when it can."""

    domain: str
    source: str
    kind: SensorKind
    sensor: Sensor | None = None
    reason: str = ""
    remedy: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.sensor is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "domain": self.domain,
            "source": self.source,
            "kind": self.kind.value,
            "available": self.available,
            "reason": self.reason,
            "remedy": self.remedy,
        }
        if self.sensor is not None:
            d["update_period_s"] = self.sensor.update_period_s
            d["resolution"] = self.sensor.resolution
            d["part_of"] = self.sensor.part_of
            d["info"] = self.sensor.info()
        if self.details:
            d["details"] = self.details
        return d


def device_facts(probes: list[Probe]) -> list[dict[str, Any]]:
    """What each probed device says about itself (name, driver, power limit, ...), measurable
    or not (a MIG-partitioned GPU still has a name), for a machine's description."""
    facts: list[dict[str, Any]] = []
    for found in probes:
        if found.sensor is not None:
            facts.append({"domain": found.domain, **found.sensor.info()})
        elif "gpu" in found.details:
            facts.append({"domain": found.domain, **found.details["gpu"]})
    return facts
