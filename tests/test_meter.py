"""The meter: integration against analytic curves, counters with wraps, windows, failures."""

from __future__ import annotations

import math
import threading
import time

import pytest

from greenbench.meter import Meter, Trace, activate, phase
from greenbench.sensors.base import Sensor, SensorKind, SensorReadError

T0 = time.monotonic()


class SinePower(Sensor):
    """P(t) = base + amp * sin(2 pi t / period), with a known integral."""

    kind = SensorKind.POWER
    source = "synthetic"
    update_period_s = 0.001

    def __init__(self, domain: str = "gpu:0", base: float = 50.0, amp: float = 30.0,
                 period: float = 2.0) -> None:
        self.domain, self.base, self.amp, self.period = domain, base, amp, period

    def read_value(self) -> float:
        t = time.monotonic() - T0
        return self.base + self.amp * math.sin(2 * math.pi * t / self.period)

    def energy(self, a: float, b: float) -> float:
        w = 2 * math.pi / self.period
        a, b = a - T0, b - T0
        return self.base * (b - a) - self.amp / w * (math.cos(w * b) - math.cos(w * a))


class RampCounter(Sensor):
    """A counter at constant power that wraps every ``wrap_j`` joules."""

    kind = SensorKind.COUNTER
    source = "synthetic"
    update_period_s = 0.001

    def __init__(self, power_w: float, wrap_j: float, domain: str = "cpu-package:0") -> None:
        self.power_w, self.wrap_j, self.domain = power_w, wrap_j, domain
        self.max_power_w = 2 * power_w

    def read_value(self) -> float:
        return ((time.monotonic() - T0) * self.power_w) % self.wrap_j


class Flaky(Sensor):
    kind = SensorKind.POWER
    source = "synthetic"
    domain = "dram:0"

    def __init__(self) -> None:
        self.fail = False

    def read_value(self) -> float:
        if self.fail:
            raise SensorReadError("sysfs read failed: EIO")
        return 10.0


def test_power_integral_matches_analytic_curve_within_half_percent() -> None:
    sensor = SinePower()
    with Meter([sensor]) as meter:  # default interval
        w = meter.begin("sine")
        time.sleep(2.3)
        m = meter.end(w)
    expected = sensor.energy(m.start_s, m.end_s)
    got = m.domain("gpu:0").energy_j
    assert got is not None
    assert abs(got - expected) / expected < 0.005
    assert m.domain("gpu:0").method == "power"
    assert m.domain("gpu:0").peak_power_w == pytest.approx(80.0, abs=3.0)


def test_counter_wraps_inside_a_window_are_added_back() -> None:
    # 200 W wrapping at 50 J: four wraps a second; the meter must poll faster than that
    sensor = RampCounter(power_w=200.0, wrap_j=50.0)
    with Meter([sensor], interval_s=0.5) as meter:
        assert meter.interval_s <= 0.5 * 50.0 / sensor.max_power_w  # shortened for safety
        w = meter.begin("wraps")
        time.sleep(1.2)
        m = meter.end(w)
    d = m.domain("cpu-package:0")
    assert d.method == "counter"
    assert d.energy_j == pytest.approx(200.0 * m.duration_s, rel=0.01)


def test_windows_overlap_and_nest() -> None:
    sensor = SinePower(amp=0.0, base=100.0)
    with Meter([sensor], interval_s=0.02) as meter:
        outer = meter.begin("outer")
        time.sleep(0.3)
        with meter.window("inner") as inner:
            time.sleep(0.3)
        time.sleep(0.2)
        m_outer = meter.end(outer)
    assert inner.measurement is not None
    assert inner.measurement.energy_j == pytest.approx(100.0 * inner.measurement.duration_s,
                                                       rel=1e-4)
    assert m_outer.energy_j == pytest.approx(100.0 * m_outer.duration_s, rel=1e-4)
    assert m_outer.duration_s > inner.measurement.duration_s + 0.45


def test_failed_reads_are_never_zero() -> None:
    flaky = Flaky()
    flaky.fail = True
    with Meter([flaky], interval_s=0.02) as meter:
        w = meter.begin("broken")
        time.sleep(0.1)
        m = meter.end(w)
    d = m.domain("dram:0")
    assert d.energy_j is None
    assert "EIO" in (d.error or "")
    assert m.energy_j is None
    assert any("no energy" in w for w in m.warnings)


def test_failures_inside_a_window_are_bridged_and_reported() -> None:
    flaky = Flaky()
    with Meter([flaky], interval_s=0.02) as meter:
        w = meter.begin("gap")
        time.sleep(0.1)
        flaky.fail = True
        time.sleep(0.1)
        flaky.fail = False
        time.sleep(0.05)
        m = meter.end(w)
    d = m.domain("dram:0")
    assert d.energy_j == pytest.approx(10.0 * m.duration_s, rel=1e-4)
    assert any("failed read" in w for w in d.warnings)


def test_short_window_is_flagged_and_parts_are_not_double_counted() -> None:
    pkg = SinePower("cpu-package:0", base=40.0, amp=0.0)
    core = SinePower("cpu-core:0", base=30.0, amp=0.0)
    core.part_of = "cpu-package:0"
    core.update_period_s = 0.1
    with Meter([pkg, core], interval_s=0.05) as meter:
        w = meter.begin("short")
        time.sleep(0.2)
        m = meter.end(w)
    assert m.energy_j == pytest.approx(40.0 * m.duration_s, rel=1e-4)
    assert any("shorter than" in w for w in m.domain("cpu-core:0").warnings)
    assert not m.domain("cpu-package:0").warnings


def test_trace_memory_is_bounded_and_keeps_its_area() -> None:
    trace = Trace(["x"], limit=100)
    for i in range(1000):
        trace.append(float(i), [5.0 if i % 2 else 15.0])
    assert len(trace.t_s) <= 100
    mean = sum(p[0] for p in trace.power_w) / len(trace.power_w)
    assert mean == pytest.approx(10.0, rel=0.02)
    assert trace.t_s == sorted(trace.t_s)


def test_phase_reports_to_the_active_meter_only() -> None:
    with phase("prefill"):  # no meter: a no-op
        pass
    sensor = SinePower(amp=0.0, base=20.0)
    with Meter([sensor], interval_s=0.02) as meter, activate(meter):
        with phase("prefill"):
            time.sleep(0.05)
        with phase("decode"):
            time.sleep(0.05)
    names = [m.name for m in meter.phase_results]
    assert names == ["phase:prefill", "phase:decode"]
    assert all(m.energy_j and m.energy_j > 0 for m in meter.phase_results)


def test_sync_hook_runs_at_each_window_edge() -> None:
    calls: list[float] = []
    meter = Meter([SinePower()], interval_s=0.05, sync=lambda: calls.append(1.0))
    with meter, meter.window("w"):
        pass
    assert len(calls) == 2


def test_sampling_thread_is_safe_with_concurrent_windows() -> None:
    sensor = SinePower(amp=0.0, base=10.0)
    results = []
    with Meter([sensor], interval_s=0.005) as meter:
        def worker() -> None:
            for _ in range(20):
                with meter.window("t") as w:
                    time.sleep(0.002)
                results.append(w.measurement)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 80
    for m in results:
        assert m.energy_j == pytest.approx(10.0 * m.duration_s, rel=1e-4)


def test_a_counter_is_cross_checked_against_its_power_sensor() -> None:
    good = RampCounter(power_w=50.0, wrap_j=1e9, domain="gpu:0")
    good.update_period_s = 0.01
    good.cross_check = SinePower("gpu:0", base=50.0, amp=0.0)
    bad = RampCounter(power_w=50.0, wrap_j=1e9, domain="gpu:1")
    bad.update_period_s = 0.01
    bad.cross_check = SinePower("gpu:1", base=80.0, amp=0.0)  # disagrees by 60%
    with Meter([good, bad], interval_s=0.02) as meter:
        w = meter.begin("checked")
        time.sleep(0.4)
        m = meter.end(w)
    g, b = m.domain("gpu:0"), m.domain("gpu:1")
    assert g.cross_check_energy_j == pytest.approx(50.0 * m.duration_s, rel=0.02)
    assert not any("disagree" in w for w in g.warnings)
    assert any("disagree by more than 10%" in w for w in b.warnings)
    assert b.energy_j == pytest.approx(50.0 * m.duration_s, rel=0.02)  # the counter is kept


def test_a_counter_that_goes_back_without_a_wrap_range_is_a_failed_read() -> None:
    class Resetting(Sensor):
        kind = SensorKind.COUNTER
        source = "synthetic"
        domain = "gpu:0"
        values = iter([100.0, 101.0, 5.0, 6.0, 7.0] + [8.0] * 1000)

        def read_value(self) -> float:
            return next(self.values)

    with Meter([Resetting()], interval_s=10.0) as meter:  # reads only at the edges below
        w = meter.begin("reset")
        meter._sample()
        meter._sample()
        m = meter.end(w)
    d = m.domain("gpu:0")
    assert any("went down" in w for w in d.warnings)
    # start reads 100, the window opens at 101, then 5 (a reset: no energy), 6 and 7
    assert d.energy_j == pytest.approx(2.0)
