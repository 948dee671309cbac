"""The meter: samples every sensor on a background thread and measures named windows.

How energy is accounted (docs/methodology.md has the full argument):

- Each sensor keeps a running total of joules since the meter started. A counter adds the
  difference of its raw value since the last read, plus ``wrap_j`` when the raw value went
  down (a wrap); a power sensor adds the trapezoid between its last two reads. A model
  (:class:`~greenbench.sensors.base.ModelSensor`, the CPU estimate) is asked once per window
  for the energy between the inputs read at the window's two edges, exact for the model.
- A window reads every sensor at its two edges, on the caller's thread, after the
  synchronisation hook (every metered CUDA device). Its energy is the difference of the
  running totals at the edges, so edges need no interpolation, any number of windows may be
  open at once, and the cost per sample does not grow with the run's length.
- Powers (peaks, the trace, the live display) come from background samples only, never from
  an edge read, and a power derived from energy only over a span of at least the sensor's
  ``min_power_span_s`` (five updates of a counter).
- Which domains add up to a total is the caller's to say (``not_counted``: GPUs the work does
  not run on) and the constants': a constant model (RAM from its size) stays beside the total
  unless ``include_constants``.
- Whatever can make a figure short is flagged where it happens: a gap between reads longer than
  a counter's wrap-safe interval, a counter reset, a failed read bridged.

Default interval, 0.1 s (10 Hz): NVML's power and energy values refresh every 20-100 ms, so a
faster poll reads mostly repeats; RAPL needs only to see every wrap (minutes apart even at
1 kW); windows of a model are exact at any interval. 100 Hz is available (``interval_s=0.01``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.attribution import module_overlaps
from greenbench.clock import SYSTEM, Clock
from greenbench.measurement import DomainEnergy, Measurement
from greenbench.sensors.base import (
    ModelSensor,
    Sensor,
    SensorKind,
    SensorReadError,
    counter_agrees,
    unwrap_delta_j,
)
from greenbench.sensors.cpu_time import CpuTimes, LoadWitness, foreign_load_warning
from greenbench.units import fmt_duration, fmt_energy, fmt_power

DEFAULT_INTERVAL_S = 0.1
#: cross-checked counter and power integrals that disagree by more than this are flagged
CROSS_CHECK_TOLERANCE = 0.10
#: windows shorter than this many sensor updates are flagged as noisy
MIN_UPDATES_PER_WINDOW = 10
CONSTANT_NOT_COUNTED = "constant model: shown beside the total (--include-constants adds it)"


class Meter:
    """Samples sensors on a background thread; opens and closes measurement windows.

    ``not_counted`` maps a domain to the reason it is recorded but left out of totals (a GPU
    the case does not run on). ``clock`` is injectable: tests drive a VirtualClock and call
    :meth:`sample` themselves instead of starting the thread. ``witness`` reads the machine's
    and the measured tree's CPU time at edges to flag foreign load under machine-wide sensors
    (made by default when a measured CPU or DRAM sensor is in the total).
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        interval_s: float = DEFAULT_INTERVAL_S,
        sync: Callable[[], None] | None = None,
        trace_limit: int = 20_000,
        *,
        clock: Clock = SYSTEM,
        not_counted: Mapping[str, str] | None = None,
        include_constants: bool = False,
        witness: LoadWitness | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.requested_interval_s = interval_s
        self.interval_s = _safe_interval(sensors, interval_s)
        self.clock = clock
        self.not_counted = {**(not_counted or {})}
        for domain, why in module_overlaps(sensors).items():  # never added to what it contains
            self.not_counted.setdefault(domain, why)
        if not include_constants:
            for s in sensors:
                if s.constant:
                    self.not_counted.setdefault(s.domain, CONSTANT_NOT_COUNTED)
        gpus = [int(s.domain[4:]) for s in sensors
                if s.domain.startswith("gpu:") and s.domain[4:].isdigit()
                and s.domain not in self.not_counted]
        self.sync = sync if sync is not None else (lambda: cuda_sync(gpus))
        self._channels = [_Channel(s, clock) for s in sensors]
        self._checks = [_Channel(s.cross_check, clock) for s in sensors
                        if s.cross_check is not None]
        self._witness = witness if witness is not None else _default_witness(
            sensors, self.not_counted)
        self._lock = threading.Lock()
        self._open: list[_WindowState] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.trace = Trace([s.domain for s in sensors],
                           [s.min_power_span_s for s in sensors], trace_limit)
        self.phase_results: list[Measurement] = []

    @property
    def sensors(self) -> list[Sensor]:
        return [c.sensor for c in self._channels]

    def counted(self, sensor: Sensor) -> bool:
        """Whether ``sensor``'s domain adds to totals."""
        return sensor.part_of is None and sensor.domain not in self.not_counted

    # -- sampling ---------------------------------------------------------------------------

    def start(self) -> Meter:
        if self._thread is not None:
            return self
        self.sample()
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
        clock = self.clock
        next_t = clock.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_t - clock.monotonic())):
            self.sample()
            next_t += self.interval_s
            now = clock.monotonic()
            if next_t < now:  # fell behind (suspended, overloaded): skip, don't burst
                next_t = now + self.interval_s

    def sample(self) -> float:
        """Read every sensor now, as the background thread does; returns the time."""
        with self._lock:
            powers = [c.update(edge=False) for c in self._channels]
            checks = {id(c.sensor): c.update(edge=False) for c in self._checks}
            # a counter's peak comes from its cross-check's power reading when it has one
            for i, c in enumerate(self._channels):
                cc = c.sensor.cross_check
                if cc is not None and checks.get(id(cc)) is not None:
                    powers[i] = checks[id(cc)]
            for w in self._open:
                w.observe(powers)
            t = self.clock.monotonic()
            self.trace.append(t, [None if c.skipped else c.total_j for c in self._channels])
            return t

    # -- windows ----------------------------------------------------------------------------

    def begin(self, name: str) -> Window:
        """Open a window now (after the synchronisation hook)."""
        self.sync()
        with self._lock:
            for c in self._channels + self._checks:
                c.update(edge=True)
            state = _WindowState(
                name=name,
                start_s=self._edge_time(),
                start_wall_s=self.clock.wall(),
                start_totals=[c.snapshot() for c in self._channels],
                start_checks=[c.snapshot() for c in self._checks],
                start_witness=self._read_witness(),
                n=len(self._channels),
            )
            self._open.append(state)
        return Window(self, state)

    def end(self, window: Window) -> Measurement:
        """Close a window now (after the synchronisation hook) and return its Measurement."""
        self.sync()
        with self._lock:
            for c in self._channels + self._checks:
                c.update(edge=True)
            end_s = self._edge_time()
            state = window._state
            if state in self._open:
                self._open.remove(state)
            return self._measurement(state, end_s, self._read_witness())

    def split(self, window: Window, name: str) -> tuple[Measurement, Window]:
        """Close ``window`` and open the next one, ``name``, at the same edge (one read):
        windows that follow each other this way add up exactly to the span they tile."""
        self.sync()
        with self._lock:
            for c in self._channels + self._checks:
                c.update(edge=True)
            edge = self._edge_time()
            witness = self._read_witness()
            state = window._state
            if state in self._open:
                self._open.remove(state)
            done = self._measurement(state, edge, witness)
            following = _WindowState(
                name=name, start_s=edge, start_wall_s=self.clock.wall(),
                start_totals=[c.snapshot() for c in self._channels],
                start_checks=[c.snapshot() for c in self._checks],
                start_witness=witness, n=len(self._channels))
            self._open.append(following)
        return done, Window(self, following)

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """``with meter.window("step") as w: ...``; afterwards ``w.measurement`` is set."""
        w = self.begin(name)
        try:
            yield w
        finally:
            w.measurement = self.end(w)

    def idle(self, seconds: float, name: str = "idle") -> Measurement:
        """Idle power over ``seconds``: a window in which the caller only sleeps (on the
        meter's clock; a started meter samples meanwhile)."""
        w = self.begin(name)
        self.clock.sleep(seconds)
        return self.end(w)

    def _edge_time(self) -> float:
        """The window edge: when the edge reads happened (their mean), so that the duration
        and the energy span the same interval."""
        times = [c.last_t for c in self._channels if c.last_t is not None]
        return sum(times) / len(times) if times else self.clock.monotonic()

    def _read_witness(self) -> tuple[CpuTimes, CpuTimes] | None:
        if self._witness is None:
            return None
        try:
            return self._witness.read()
        except SensorReadError:
            return None

    def totals_j(self) -> dict[str, float | None]:
        """Energy per domain since the meter started, read now (J): wraps and resets already
        accounted for, so it never goes back while the meter runs; None for a domain that
        was never read."""
        with self._lock:
            for c in self._channels:
                c.update(edge=True)
            return {c.sensor.domain: c.total_j for c in self._channels}

    def live_power_w(self) -> dict[str, float | None]:
        """The latest power per domain (for progress displays)."""
        with self._lock:
            return {c.sensor.domain: c.last_power_w for c in self._channels}

    def _measurement(self, state: _WindowState, end_s: float,
                     end_witness: tuple[CpuTimes, CpuTimes] | None) -> Measurement:
        duration = end_s - state.start_s
        checks = {id(c.sensor): (c, s0) for c, s0 in zip(self._checks, state.start_checks,
                                                       strict=True)}
        domains = []
        for i, c in enumerate(self._channels):
            s = c.sensor
            energy, error, warnings = c.window_energy(state.start_totals[i], c.snapshot())
            if duration < MIN_UPDATES_PER_WINDOW * s.update_period_s:
                warnings.append(
                    f"window of {fmt_duration(duration)} is shorter than {MIN_UPDATES_PER_WINDOW} "
                    f"updates of {s.domain} ({s.update_period_s:g} s each): noisy"
                )
            if (
                s.kind is SensorKind.COUNTER
                and energy == 0.0
                and duration > 2 * s.update_period_s
            ):
                warnings.append(f"the {s.domain} counter did not move in {fmt_duration(duration)}")
            check_j = None
            if s.cross_check is not None and id(s.cross_check) in checks:
                cc, cs0 = checks[id(s.cross_check)]
                check_j, _, _ = cc.window_energy(cs0, cc.snapshot())
                if (
                    energy is not None and check_j is not None
                    and duration >= MIN_UPDATES_PER_WINDOW * s.update_period_s
                    and not counter_agrees(energy, check_j, CROSS_CHECK_TOLERANCE)
                ):
                    warnings.append(
                        f"{s.domain}: counter {fmt_energy(energy)} and integrated power "
                        f"{fmt_energy(check_j)} disagree by more than "
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
                    samples=state.samples,
                    resolution_j=s.resolution if s.kind is SensorKind.COUNTER else 0.0,
                    part_of=s.part_of,
                    cross_check_energy_j=check_j,
                    error=error,
                    warnings=warnings,
                    constant=s.constant,
                    not_counted=self.not_counted.get(s.domain),
                )
            )
        m = Measurement(
            name=state.name,
            start_s=state.start_s,
            end_s=end_s,
            domains=domains,
            start_wall_s=state.start_wall_s,
        )
        if not m.top_level():
            m.warnings.append("no sensor was available: nothing was measured")
        for d in domains:
            if d.error:
                m.warnings.append(f"{d.domain}: no energy ({d.error})")
        if state.start_witness is not None and end_witness is not None:
            foreign = foreign_load_warning(state.start_witness, end_witness)
            if foreign is not None:
                m.warnings.append(foreign)
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
    """Running energy per domain over time; powers are derived when the trace is read.

    Keeping cumulative joules, not powers, makes downsampling harmless: past ``limit`` points
    every other point is dropped (the first and the newest are always kept), and the energy
    between any two kept points is still exact. A power is the energy difference over the
    shortest span, back from each point, of at least that domain's ``spans_s``.
    """

    domains: list[str]
    spans_s: list[float]
    limit: int = 20_000
    t_s: list[float] = field(default_factory=list)
    total_j: list[list[float | None]] = field(default_factory=list)

    def append(self, t: float, totals: Sequence[float | None]) -> None:
        self.t_s.append(t)
        self.total_j.append(list(totals))
        if len(self.t_s) > self.limit:
            keep = [*range(0, len(self.t_s) - 1, 2), len(self.t_s) - 1]
            self.t_s = [self.t_s[i] for i in keep]
            self.total_j = [self.total_j[i] for i in keep]

    def between(self, start_s: float, end_s: float) -> dict[str, Any]:
        """Power at the samples inside [start_s, end_s], as compact columns."""
        idx = [i for i, t in enumerate(self.t_s) if start_s <= t <= end_s]
        power: dict[str, list[float | None]] = {}
        for j, domain in enumerate(self.domains):
            column: list[float | None] = []
            for i in idx:  # a point where the sensor was not read holds the last power
                p = self._power(i, j)
                column.append(_round(p) if p is not None or self.total_j[i][j] is not None
                              or not column else column[-1])
            power[domain] = column
        return {"t_s": [round(self.t_s[i] - start_s, 4) for i in idx], "power_w": power}

    def _power(self, i: int, j: int) -> float | None:
        end = self.total_j[i][j]
        if end is None:
            return None
        span = max(self.spans_s[j], 1e-9)
        k = i - 1
        while k >= 0 and (self.t_s[i] - self.t_s[k] < span or self.total_j[k][j] is None):
            k -= 1
        if k < 0 or (start := self.total_j[k][j]) is None:
            return None
        return (end - start) / (self.t_s[i] - self.t_s[k])


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


def cuda_sync(devices: Sequence[int] = ()) -> None:
    """Wait for queued work on every metered CUDA device (``devices``: framework indices), if
    torch with CUDA is in use in this process; with no device named, the current one."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_available() or not cuda.is_initialized():
        return
    targets: list[int | None] = [*devices] or [None]
    for index in targets:
        cuda.synchronize(index)


# -- internals --------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    t_s: float | None
    total_j: float | None
    state: Any
    failures: int
    gaps: int
    resets: int


class _Channel:
    """One sensor's running total of joules since the meter started, and what went wrong."""

    def __init__(self, sensor: Sensor, clock: Clock) -> None:
        self.sensor = sensor
        self.clock = clock
        self.model = isinstance(sensor, ModelSensor)
        self.total_j: float | None = None
        self.last_t: float | None = None
        self.last_value: Any = None
        self.last_power_w: float | None = None
        self._ref: tuple[float, float] | None = None  # (t, total) a derived power starts from
        self.failures = 0
        self.last_error: str | None = None
        self.gaps = 0
        self.last_gap: str | None = None
        self.resets = 0
        self.last_reset: str | None = None
        #: the last background sample did not read this sensor (too soon for a model)
        self.skipped = False

    def update(self, edge: bool) -> float | None:
        """Read the sensor and advance the total. Returns the power in W for a background
        sample (None when unknown, or for an edge read, which never yields a power)."""
        s = self.sensor
        if (not edge and self.model and self.last_t is not None
                and self.clock.monotonic() - self.last_t < s.min_power_span_s):
            # a model's window comes from its edges: background reads only feed the trace,
            # and more often than its power span they would only cost the measured process
            self.skipped = True
            return None
        self.skipped = False
        try:
            value = s.read_state(edge) if isinstance(s, ModelSensor) else s.read_value()
        except SensorReadError as exc:
            self.failures += 1
            self.last_error = str(exc)
            return None
        t = self.clock.monotonic()
        power: float | None = None
        if self.last_t is None:
            self.total_j = 0.0
        else:
            dt = t - self.last_t
            self._check_gap(dt)
            self.total_j = (self.total_j or 0.0) + self._energy(value, dt)
        if s.kind is SensorKind.POWER and not self.model:
            power = float(value)
        self.last_t, self.last_value = t, value
        if edge:
            return None
        if power is None:  # derived from energy, over a long enough span only
            if self._ref is None:
                self._ref = (t, self.total_j or 0.0)
            elif t - self._ref[0] >= s.min_power_span_s:
                power = ((self.total_j or 0.0) - self._ref[1]) / (t - self._ref[0])
                self._ref = (t, self.total_j or 0.0)
        if power is not None:
            self.last_power_w = power
        return power

    def _energy(self, value: Any, dt: float) -> float:
        s = self.sensor
        if isinstance(s, ModelSensor):
            return s.energy_j(self.last_value, value, dt)
        if s.kind is not SensorKind.COUNTER:
            return 0.5 * (float(value) + float(self.last_value)) * dt
        try:
            return unwrap_delta_j(self.last_value, value, s.wrap_j or 0.0)
        except ValueError:
            # went backwards with no wrap range: reset (driver reload). What it counted
            # since the reset is known; what it counted before, since the last read, is not.
            self.resets += 1
            self.last_reset = (
                f"the {s.domain} counter was reset ({self.last_value:.6g} -> {value:.6g} J) "
                f"within {fmt_duration(dt)}: counted from 0 after the reset, the energy "
                "before it in that interval is missing (a lower bound)"
            )
            return float(value)

    def _check_gap(self, dt: float) -> None:
        bound = self.sensor.max_poll_interval_s()
        # max_poll_interval_s is half the time a wrap needs at max_power_w; past twice it a
        # wrap can have gone unseen
        if bound is not None and dt > 2 * bound:
            self.gaps += 1
            self.last_gap = (
                f"{fmt_duration(dt)} between reads of {self.sensor.domain}: its counter can "
                f"wrap unseen in {fmt_duration(2 * bound)} at "
                f"{fmt_power(self.sensor.max_power_w)}, so the energy "
                f"may be short by a multiple of {self.sensor.wrap_j:.6g} J"
            )

    def snapshot(self) -> _Snapshot:
        return _Snapshot(self.last_t, self.total_j, self.last_value if self.model else None,
                         self.failures, self.gaps, self.resets)

    def window_energy(self, start: _Snapshot, end: _Snapshot
                      ) -> tuple[float | None, str | None, list[str]]:
        """(joules, error, warnings) between two snapshots of this channel."""
        warnings: list[str] = []
        if start.total_j is None or end.total_j is None:
            return None, self.last_error or "no successful read", warnings
        if self.model and start.t_s is not None and end.t_s is not None:
            assert isinstance(self.sensor, ModelSensor)
            energy = self.sensor.energy_j(start.state, end.state, end.t_s - start.t_s)
        else:
            energy = end.total_j - start.total_j
        if end.failures > start.failures:
            warnings.append(f"{end.failures - start.failures} failed read(s) bridged: "
                            f"{self.last_error}")
        if end.gaps > start.gaps:
            warnings.append(f"possible unseen counter wrap: {self.last_gap}")
        if end.resets > start.resets:
            warnings.append(str(self.last_reset))
        return energy, None, warnings


@dataclass
class _WindowState:
    name: str
    start_s: float
    start_wall_s: float
    start_totals: list[_Snapshot]
    start_checks: list[_Snapshot]
    start_witness: tuple[CpuTimes, CpuTimes] | None
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
    """The interval the sampling thread uses: no faster than any sensor in use can show
    something new (a CPU estimate is read at most every 0.1 s, a constant never: waking up
    at 100 Hz for them would only cost the measured process), and short enough that a
    counter cannot wrap unseen between two reads."""
    useful = min((s.useful_poll_s for s in sensors), default=interval_s)
    chosen = max(interval_s, useful) if useful != float("inf") else interval_s
    bounds = [b for s in sensors if (b := s.max_poll_interval_s()) is not None]
    return min([chosen, *bounds])


def _default_witness(sensors: Sequence[Sensor], not_counted: Mapping[str, str]
                     ) -> LoadWitness | None:
    """A load witness when a measured (not estimated) CPU or DRAM domain is in the total."""
    if not any(s.kind is not SensorKind.ESTIMATE and s.part_of is None
               and s.domain not in not_counted
               and s.domain.startswith(("cpu-package:", "dram:")) for s in sensors):
        return None
    try:
        return LoadWitness()
    except SensorReadError:
        return None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
