"""The meter: samples every sensor on a background thread and measures named windows.

How energy is accounted (docs/methodology.md has the full argument):

- Each sensor keeps a running total of joules since the meter started. A counter adds the
  difference of its raw value since the last read, plus ``wrap_j`` when the raw value went down
  (a wrap); a power sensor adds the trapezoid between its last two reads; a sensor whose read is
  the mean power since the previous read (``averaging``) adds a backward rectangle, which is
  exact for it.
- A window reads every sensor at its two edges, on the caller's thread, after the
  synchronisation hook (``torch.cuda.synchronize()`` when CUDA is in use). Its energy is the
  difference of the running totals at the edges, so edges need no interpolation, any number of
  windows may be open at once, and the cost per sample does not grow with the run's length.
- The power trace kept for plots is downsampled when it grows past ``trace_limit`` points;
  totals never are.

Default interval, 0.1 s (10 Hz): NVML's power and energy values refresh every 20-100 ms, so a
faster poll reads mostly repeats; RAPL needs only to see every wrap (minutes apart even at
1 kW); utilisation-based estimates are exact at any interval. A sample costs a few sysfs or
NVML reads (tens of microseconds), well under 0.1% of a core at 10 Hz. 100 Hz is available
(``interval_s=0.01``) for short windows.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.measurement import DomainEnergy, Measurement
from greenbench.sensors.base import (
    Sensor,
    SensorKind,
    SensorReadError,
    counter_agrees,
    unwrap_delta_j,
)

DEFAULT_INTERVAL_S = 0.1
#: cross-checked counter and power integrals that disagree by more than this are flagged
CROSS_CHECK_TOLERANCE = 0.10
#: windows shorter than this many sensor updates are flagged as noisy
MIN_UPDATES_PER_WINDOW = 10


class Meter:
    """Samples sensors on a background thread; opens and closes measurement windows."""

    def __init__(
        self,
        sensors: Sequence[Sensor],
        interval_s: float = DEFAULT_INTERVAL_S,
        sync: Callable[[], None] | None = None,
        trace_limit: int = 20_000,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = _safe_interval(sensors, interval_s)
        self.sync = sync if sync is not None else cuda_sync
        self._channels = [_Channel(s) for s in sensors]
        self._checks = [_Channel(s.cross_check) for s in sensors if s.cross_check is not None]
        self._lock = threading.Lock()
        self._open: list[_WindowState] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.trace = Trace([s.domain for s in sensors], trace_limit)
        self.phase_results: list[Measurement] = []

    @property
    def sensors(self) -> list[Sensor]:
        return [c.sensor for c in self._channels]

    # -- sampling ---------------------------------------------------------------------------

    def start(self) -> Meter:
        if self._thread is not None:
            return self
        self._sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="greenbench-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        next_t = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_t - time.monotonic())):
            self._sample()
            next_t += self.interval_s
            now = time.monotonic()
            if next_t < now:  # fell behind (suspended, overloaded): skip, don't burst
                next_t = now + self.interval_s

    def _sample(self) -> float:
        with self._lock:
            t = time.monotonic()
            powers = [c.update() for c in self._channels]
            for c in self._checks:
                c.update()
            for w in self._open:
                w.observe(powers)
            self.trace.append(t, powers)
            return t

    # -- windows ----------------------------------------------------------------------------

    def begin(self, name: str) -> Window:
        """Open a window now (after the synchronisation hook)."""
        self.sync()
        with self._lock:
            for c in self._channels + self._checks:
                c.update()
            state = _WindowState(
                name=name,
                start_s=self._edge_time(),
                start_wall_s=time.time(),
                start_totals=[c.snapshot() for c in self._channels],
                start_checks=[c.snapshot() for c in self._checks],
                n=len(self._channels),
            )
            self._open.append(state)
        return Window(self, state)

    def end(self, window: Window) -> Measurement:
        """Close a window now (after the synchronisation hook) and return its Measurement."""
        self.sync()
        with self._lock:
            powers = [c.update() for c in self._channels]
            for c in self._checks:
                c.update()
            end_s = self._edge_time()
            state = window._state
            if state in self._open:
                self._open.remove(state)
                state.observe(powers)
            return self._measurement(state, end_s)

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """``with meter.window("step") as w: ...``; afterwards ``w.measurement`` is set."""
        w = self.begin(name)
        try:
            yield w
        finally:
            w.measurement = self.end(w)

    def idle(self, seconds: float, name: str = "idle") -> Measurement:
        """Idle power over ``seconds``: a window in which the caller only sleeps."""
        self.start()
        w = self.begin(name)
        time.sleep(seconds)
        return self.end(w)

    def _edge_time(self) -> float:
        """The window edge: when the edge reads happened (their mean), so that the duration
        and the energy span the same interval."""
        times = [c.last_t for c in self._channels if c.last_t is not None]
        return sum(times) / len(times) if times else time.monotonic()

    def live_power_w(self) -> dict[str, float | None]:
        """The latest power per domain (for progress displays)."""
        with self._lock:
            return {c.sensor.domain: c.last_power_w for c in self._channels}

    def _measurement(self, state: _WindowState, end_s: float) -> Measurement:
        duration = end_s - state.start_s
        domains = []
        checks = {id(c.sensor): (c, s0) for c, s0 in zip(self._checks, state.start_checks,
                                                       strict=True)}
        for i, c in enumerate(self._channels):
            s = c.sensor
            start = state.start_totals[i]
            end = c.snapshot()
            warnings: list[str] = []
            energy: float | None = None
            error = None
            failures = end.failures - start.failures
            if start.total_j is None or end.total_j is None:
                error = c.last_error or "no successful read"
            else:
                energy = end.total_j - start.total_j
                if failures:
                    warnings.append(f"{failures} failed read(s) bridged: {c.last_error}")
            if duration < MIN_UPDATES_PER_WINDOW * s.update_period_s:
                warnings.append(
                    f"window of {duration:.3g} s is shorter than {MIN_UPDATES_PER_WINDOW} "
                    f"updates of {s.domain} ({s.update_period_s:g} s each): noisy"
                )
            if (
                s.kind is SensorKind.COUNTER
                and energy == 0.0
                and duration > 2 * s.update_period_s
            ):
                warnings.append(f"the {s.domain} counter did not move in {duration:.3g} s")
            check_j = None
            if s.cross_check is not None and id(s.cross_check) in checks:
                cc, cs0 = checks[id(s.cross_check)]
                ce = cc.snapshot()
                if cs0.total_j is not None and ce.total_j is not None:
                    check_j = ce.total_j - cs0.total_j
                    if (
                        energy is not None
                        and duration >= MIN_UPDATES_PER_WINDOW * s.update_period_s
                        and not counter_agrees(energy, check_j, CROSS_CHECK_TOLERANCE)
                    ):
                        warnings.append(
                            f"{s.domain}: counter {energy:.4g} J and integrated power "
                            f"{check_j:.4g} J disagree by more than "
                            f"{CROSS_CHECK_TOLERANCE:.0%}"
                        )
            mean = energy / duration if energy is not None and duration > 0 else None
            peak = state.peaks[i]
            if mean is not None and (peak is None or mean > peak):
                peak = mean
            domains.append(
                DomainEnergy(
                    domain=s.domain,
                    energy_j=energy,
                    method=s.kind.value,
                    source=s.source,
                    mean_power_w=mean,
                    peak_power_w=peak,
                    samples=state.samples + 1,
                    resolution_j=s.resolution if s.kind is SensorKind.COUNTER else 0.0,
                    part_of=s.part_of,
                    cross_check_energy_j=check_j,
                    error=error,
                    warnings=warnings,
                )
            )
        m = Measurement(
            name=state.name,
            start_s=state.start_s,
            end_s=end_s,
            domains=domains,
            start_wall_s=state.start_wall_s,
        )
        if not domains:
            m.warnings.append("no sensor was available: nothing was measured")
        for d in domains:
            if d.error:
                m.warnings.append(f"{d.domain}: no energy ({d.error})")
        return m


class Window:
    """An open (or closed) window; ``measurement`` is set when it closes through ``window()``."""

    def __init__(self, meter: Meter, state: _WindowState) -> None:
        self.meter = meter
        self._state = state
        self.measurement: Measurement | None = None

    @property
    def name(self) -> str:
        return self._state.name

    def end(self) -> Measurement:
        self.measurement = self.meter.end(self)
        return self.measurement


@dataclass
class Trace:
    """Power over time per domain, downsampled by pairs past ``limit`` points (bounded memory)."""

    domains: list[str]
    limit: int = 20_000
    t_s: list[float] = field(default_factory=list)
    power_w: list[list[float | None]] = field(default_factory=list)

    def append(self, t: float, powers: Sequence[float | None]) -> None:
        self.t_s.append(t)
        self.power_w.append(list(powers))
        if len(self.t_s) > self.limit:
            self._halve()

    def _halve(self) -> None:
        # average neighbouring pairs: the trace keeps its shape and its area (energy)
        t, p = self.t_s, self.power_w
        self.t_s = [(t[i] + t[i + 1]) / 2 for i in range(0, len(t) - 1, 2)]
        self.power_w = [
            [_mean2(a, b) for a, b in zip(p[i], p[i + 1], strict=True)]
            for i in range(0, len(p) - 1, 2)
        ]

    def between(self, start_s: float, end_s: float) -> dict[str, Any]:
        """The samples inside [start_s, end_s], as compact columns."""
        idx = [i for i, t in enumerate(self.t_s) if start_s <= t <= end_s]
        return {
            "t_s": [round(self.t_s[i] - start_s, 4) for i in idx],
            "power_w": {
                d: [_round(self.power_w[i][j]) for i in idx] for j, d in enumerate(self.domains)
            },
        }


# -- the process-wide meter and the phase API -----------------------------------------------

_active: Meter | None = None


@contextlib.contextmanager
def activate(meter: Meter) -> Iterator[Meter]:
    """Make ``meter`` the one that :func:`phase` windows report to."""
    global _active
    previous, _active = _active, meter
    try:
        yield meter
    finally:
        _active = previous


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Measure a named part of a workload's step (``prefill``, ``decode``).

    A no-op when no meter is active; otherwise the phase's Measurement is appended to the
    active meter's ``phase_results``, which the runner sums per repeat.
    """
    meter = _active
    if meter is None:
        yield
        return
    w = meter.begin(f"phase:{name}")
    try:
        yield
    finally:
        meter.phase_results.append(meter.end(w))


_default: Meter | None = None


def default_meter() -> Meter:
    """A meter over every available sensor of this machine, started on first use."""
    global _default
    if _default is None:
        from greenbench.sensors.registry import available_sensors, probe_all

        _default = Meter(available_sensors(probe_all())).start()
    return _default


@contextlib.contextmanager
def measure(name: str = "measure", meter: Meter | None = None) -> Iterator[Window]:
    """``with greenbench.measure("step") as m: ...``; then ``m.measurement`` holds the result."""
    with (meter or default_meter()).window(name) as w:
        yield w


def cuda_sync() -> None:
    """Wait for queued CUDA work, if torch with CUDA is in use in this process."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    cuda = getattr(torch, "cuda", None)
    if cuda is not None and cuda.is_available() and cuda.is_initialized():
        cuda.synchronize()


# -- internals --------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    total_j: float | None
    failures: int


class _Channel:
    """One sensor's running total of joules since the meter started."""

    def __init__(self, sensor: Sensor) -> None:
        self.sensor = sensor
        self.total_j: float | None = None
        self.last_t: float | None = None
        self.last_value: float | None = None
        self.last_power_w: float | None = None
        self.failures = 0
        self.last_error: str | None = None

    def update(self) -> float | None:
        """Read the sensor and advance the total; returns the power in W (None if unknown)."""
        try:
            r = self.sensor.read()
        except SensorReadError as exc:
            self.failures += 1
            self.last_error = str(exc)
            return None
        s = self.sensor
        if self.last_t is None or self.last_value is None:
            self.total_j = 0.0
            power = r.value if s.kind is not SensorKind.COUNTER else None
        else:
            dt = r.t_s - self.last_t
            if s.kind is SensorKind.COUNTER:
                try:
                    delta = unwrap_delta_j(self.last_value, r.value, s.wrap_j or 0.0)
                except ValueError as exc:  # went backwards with no wrap range: a reset
                    self.failures += 1
                    self.last_error = f"{s.domain}: {exc}"
                    delta = 0.0
                energy = delta
                power = delta / dt if dt > 0 else self.last_power_w
            elif s.averaging:
                energy = r.value * dt
                power = r.value
            else:
                energy = 0.5 * (r.value + self.last_value) * dt
                power = r.value
            self.total_j = (self.total_j or 0.0) + energy
        self.last_t, self.last_value, self.last_power_w = r.t_s, r.value, power
        return power

    def snapshot(self) -> _Snapshot:
        return _Snapshot(self.total_j, self.failures)


@dataclass
class _WindowState:
    name: str
    start_s: float
    start_wall_s: float
    start_totals: list[_Snapshot]
    start_checks: list[_Snapshot]
    n: int
    samples: int = 0
    peaks: list[float | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.peaks = [None] * self.n

    def observe(self, powers: Sequence[float | None]) -> None:
        self.samples += 1
        for i, p in enumerate(powers):
            if p is not None and (self.peaks[i] is None or p > self.peaks[i]):  # type: ignore[operator]
                self.peaks[i] = p


def _safe_interval(sensors: Sequence[Sensor], interval_s: float) -> float:
    """Shorten the interval if a counter would otherwise wrap unseen between two reads."""
    bounds = [b for s in sensors if (b := s.max_poll_interval_s()) is not None]
    return min([interval_s, *bounds])


def _mean2(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return (a + b) / 2


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
