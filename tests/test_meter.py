"""The meter on virtual time: exact joules from stand-in sensors that behave like real ones."""

from __future__ import annotations

import math
import sys
import threading
import types

import pytest

from greenbench.attribution import not_counted
from greenbench.clock import VirtualClock
from greenbench.meter import CONSTANT_NOT_COUNTED, Meter, Trace, activate, cuda_sync, phase
from greenbench.sensors.base import Sensor, SensorKind, SensorReadError
from greenbench.sensors.cpu_time import LoadWitness
from greenbench.sensors.estimate import CpuEstimateSensor, RamEstimateSensor, resolve_cpu_tdp
from tests.standins import PolledPower, SteppedCounter, TickedCpu, constant

TDP_W = 100.0


def run(clock: VirtualClock, meter: Meter, seconds: float, every: float = 0.1,
        jitter: float = 0.0) -> None:
    """Advance virtual time by ``seconds``, sampling like the background thread."""
    end = clock.monotonic() + seconds
    k = 0
    while clock.monotonic() + every + 1e-12 < end:
        clock.advance(every + (jitter if k % 2 else -jitter))
        meter.sample()
        k += 1
    clock.advance(max(0.0, end - clock.monotonic()))


def cpu_estimate(reader: object, cpus: int = 2, scope: str = "process") -> CpuEstimateSensor:
    tdp = resolve_cpu_tdp(TDP_W, environ={}, model_name="x", logical_cpus=cpus, sockets=1,
                          hypervisor=False)
    return CpuEstimateSensor(tdp, scope, reader=reader)  # type: ignore[arg-type]


def machine_w(load: float) -> float:
    """CodeCarbon's machine curve, the machine scope's model."""
    return TDP_W * (0.1 + 0.9 * load**3)


def share_w(load: float) -> float:
    """The process scope's model: TDP / CPUs per busy CPU-second."""
    return TDP_W * load


# -- integration ----------------------------------------------------------------------------


def test_polled_power_integral_matches_the_analytic_curve() -> None:
    clock = VirtualClock()
    t0 = clock.monotonic()
    sensor = PolledPower(clock, "gpu:0", lambda t: 50 + 30 * math.sin(2 * math.pi * (t - t0) / 2))
    meter = Meter([sensor], clock=clock)
    meter.sample()
    w = meter.begin("sine")
    run(clock, meter, 2.3, every=0.01)
    m = meter.end(w)
    omega = math.pi
    a, b = m.start_s - t0, m.end_s - t0
    expected = 50 * (b - a) - 30 / omega * (math.cos(omega * b) - math.cos(omega * a))
    assert m.domain("gpu:0").energy_j == pytest.approx(expected, rel=1e-3)
    assert m.domain("gpu:0").peak_power_w == pytest.approx(80.0, abs=0.1)


def test_a_rapl_like_counter_wrapping_inside_a_window_is_added_back() -> None:
    clock = VirtualClock()
    sensor = SteppedCounter(clock, "cpu-package:0", constant(200.0), update_period_s=0.001,
                            wrap_j=50.0, max_power_w=400.0)
    meter = Meter([sensor], interval_s=0.5, clock=clock)
    assert meter.interval_s == pytest.approx(0.5 * 50.0 / 400.0)  # shortened for safety
    meter.sample()
    w = meter.begin("wraps")
    run(clock, meter, 1.2, every=meter.interval_s)
    m = meter.end(w)
    d = m.domain("cpu-package:0")
    assert d.energy_j == pytest.approx(200.0 * 1.2, abs=200.0 * 0.002)  # within one update
    assert not d.warnings


def test_windows_overlap_and_nest() -> None:
    clock = VirtualClock()
    meter = Meter([PolledPower(clock, "gpu:0", constant(100.0))], clock=clock)
    meter.sample()
    outer = meter.begin("outer")
    run(clock, meter, 0.3)
    with meter.window("inner") as inner:
        run(clock, meter, 0.3)
    run(clock, meter, 0.2)
    m_outer = meter.end(outer)
    assert inner.measurement is not None
    assert inner.measurement.energy_j == pytest.approx(30.0)
    assert m_outer.energy_j == pytest.approx(80.0)


# -- 1. device attribution -----------------------------------------------------------------


def test_a_case_on_cuda0_is_not_charged_for_the_other_gpus_of_the_node() -> None:
    clock = VirtualClock()
    gpus = [SteppedCounter(clock, f"gpu:{i}", constant(300.0 if i == 0 else 60.0))
            for i in range(8)]
    cpu = SteppedCounter(clock, "cpu-package:0", constant(100.0), update_period_s=0.001,
                         wrap_j=262143.0, max_power_w=500.0)
    sensors: list[Sensor] = [cpu, *gpus]
    meter = Meter(sensors, clock=clock, sync=lambda: None, witness=None,
                  not_counted=not_counted([s.domain for s in sensors], "cuda:0"))
    meter.sample()
    w = meter.begin("case")
    run(clock, meter, 2.0)
    m = meter.end(w)
    assert m.energy_j == pytest.approx(300.0 * 2.0 + 100.0 * 2.0, rel=0.06)
    beside = {d.domain: d for d in m.beside()}
    assert sorted(beside) == [f"gpu:{i}" for i in range(1, 8)]
    assert all(d.energy_j == pytest.approx(120.0, rel=0.06) for d in beside.values())
    assert all("not attributed" in (d.not_counted or "") for d in beside.values())


def test_a_multi_gpu_case_owns_each_of_its_gpus() -> None:
    left_out = not_counted(["gpu:0", "gpu:1", "gpu:2", "cpu-package:0"], "cuda:0,1")
    assert sorted(left_out) == ["gpu:2"]
    assert sorted(not_counted(["gpu:0", "gpu:1"], "cpu")) == ["gpu:0", "gpu:1"]
    assert not not_counted(["gpu:0"], "cuda")


def test_the_sync_hook_waits_on_every_metered_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int | None] = []
    cuda = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                 synchronize=synced.append)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    clock = VirtualClock()
    sensors = [PolledPower(clock, f"gpu:{i}", constant(10.0)) for i in range(4)]
    meter = Meter(sensors, clock=clock,
                  not_counted=not_counted([s.domain for s in sensors], "cuda:1,3"))
    with meter.window("w"):
        pass
    assert synced == [1, 3, 1, 3]
    synced.clear()
    cuda_sync()
    assert synced == [None]  # nothing named: the current device


# -- 2. constants beside measured totals ---------------------------------------------------


def test_a_constant_ram_model_stays_beside_a_measured_rapl_total() -> None:
    clock = VirtualClock()
    package = SteppedCounter(clock, "cpu-package:0", constant(150.0), update_period_s=0.001,
                             wrap_j=65532.0, max_power_w=500.0)
    ram = RamEstimateSensor(512 * 2**30)  # 192 W on a 512 GiB server
    meter = Meter([package, ram], clock=clock, witness=None)
    meter.sample()
    w = meter.begin("case")
    run(clock, meter, 1.0)
    m = meter.end(w)
    assert m.energy_j == pytest.approx(150.0, abs=0.2)
    assert m.method == "counter" and not m.is_estimate
    assert m.constant_j == pytest.approx(192.0)
    assert m.domain("dram:0").not_counted == CONSTANT_NOT_COUNTED
    assert m.to_dict()["estimate"] is False

    asked = Meter([package, ram], clock=clock, witness=None, include_constants=True)
    asked.sample()
    w = asked.begin("case")
    run(clock, asked, 1.0)
    m = asked.end(w)
    assert m.energy_j == pytest.approx(150.0 + 192.0, abs=0.2)
    assert m.is_estimate and m.constant_j is None


# -- 3. the estimate of a window comes from its own edges -----------------------------------


def test_a_busy_window_after_idle_gets_exactly_the_models_energy() -> None:
    clock = VirtualClock()
    cpu = TickedCpu(clock, cpus=2)
    meter = Meter([cpu_estimate(cpu.tree)], clock=clock)
    meter.sample()
    run(clock, meter, 1.0, jitter=0.013)  # idle, sampled at uneven times
    cpu.set(ours=2.0)
    busy = meter.begin("busy")
    run(clock, meter, 0.5, jitter=0.013)
    cpu.set(ours=0.0)
    m_busy = meter.end(busy)
    idle = meter.begin("idle")
    run(clock, meter, 0.5, jitter=0.013)
    m_idle = meter.end(idle)
    # exact for the model, up to one 10 ms tick of CPU time at each edge
    assert m_busy.energy_j == pytest.approx(share_w(1.0) * 0.5, rel=0.02)
    assert m_idle.energy_j == pytest.approx(share_w(0.0) * 0.5, abs=TDP_W * 0.01 / 2)
    assert m_busy.domain("cpu-package:0").method == "estimate"


def test_split_windows_tile_their_span_exactly_and_join_back_into_it() -> None:
    """Consecutive windows opened at the edge that closed the last (Meter.split) add up to
    the span, for a counter, polled power and the CPU model alike; joined, they are it."""
    from greenbench.measurement import Measurement

    clock = VirtualClock()
    cpu = TickedCpu(clock, cpus=2)
    sensors = [SteppedCounter(clock, "gpu:0", lambda t: 200.0 + 50.0 * math.sin(t)),
               PolledPower(clock, "gpu:1", constant(80.0)), cpu_estimate(cpu.tree)]
    meter = Meter(sensors, clock=clock)
    meter.sample()
    span = meter.begin("span")
    w = meter.begin("part 1")
    parts = []
    for load in (2.0, 0.5, 1.0):
        cpu.set(ours=load)
        run(clock, meter, 0.73, jitter=0.011)
        m, w = meter.split(w, f"part {len(parts) + 2}")
        parts.append(m)
    parts.append(meter.end(w))
    whole = meter.end(span)
    for d in whole.domains:
        got = sum(p.domain(d.domain).energy_j or 0.0 for p in parts)
        assert got == pytest.approx(d.energy_j, rel=1e-12), d.domain
    joined = Measurement.joined(parts, "span")
    assert joined.energy_j == pytest.approx(whole.energy_j, rel=1e-12)
    assert joined.duration_s == pytest.approx(whole.duration_s)


def test_the_process_estimate_does_not_follow_a_busy_neighbour() -> None:
    clock = VirtualClock()
    cpu = TickedCpu(clock, cpus=2)
    ours = Meter([cpu_estimate(cpu.tree)], clock=clock)
    theirs = Meter([cpu_estimate(cpu.machine, scope="machine")], clock=clock)
    cpu.set(ours=0.5)
    results = []
    for neighbour in (0.0, 1.5):
        cpu.set(others=neighbour)
        wa, wb = ours.begin("ours"), theirs.begin("machine")
        run(clock, ours, 2.0)
        results.append((ours.end(wa).energy_j, theirs.end(wb).energy_j))
    (quiet_ours, quiet_machine), (busy_ours, busy_machine) = results
    assert quiet_ours == pytest.approx(busy_ours, rel=0.01)
    assert quiet_ours == pytest.approx(share_w(0.25) * 2.0, rel=0.02)
    assert quiet_machine == pytest.approx(machine_w(0.25) * 2.0, rel=0.02)
    assert busy_machine == pytest.approx(machine_w(1.0) * 2.0, rel=0.02)  # charged the TDP


def test_the_process_estimate_of_the_same_work_does_not_grow_when_it_waits() -> None:
    # one CPU-second of work, alone (1 s at one CPU) and time-sliced beside a neighbour
    # (2 s at half a CPU): the same energy, because only the work's CPU time counts
    clock = VirtualClock()
    cpu = TickedCpu(clock, cpus=2)
    meter = Meter([cpu_estimate(cpu.tree)], clock=clock)
    energies = []
    for share, seconds in ((1.0, 1.0), (0.5, 2.0)):
        cpu.set(ours=share)
        with meter.window("work") as w:
            run(clock, meter, seconds)
        assert w.measurement is not None
        energies.append(w.measurement.energy_j)
    assert energies[0] == pytest.approx(energies[1], rel=0.01)
    assert energies[0] == pytest.approx(TDP_W / 2 * 1.0, rel=0.02)


def test_foreign_load_under_a_machine_wide_sensor_is_flagged() -> None:
    clock = VirtualClock()
    cpu = TickedCpu(clock, cpus=2)
    package = SteppedCounter(clock, "cpu-package:0", constant(80.0), update_period_s=0.001,
                             wrap_j=262143.0, max_power_w=500.0)
    meter = Meter([package], clock=clock, witness=LoadWitness(cpu.machine, cpu.tree))
    cpu.set(ours=1.0)
    with meter.window("quiet") as quiet:
        run(clock, meter, 1.0)
    cpu.set(others=0.8)
    with meter.window("shared") as shared:
        run(clock, meter, 1.0)
    assert quiet.measurement is not None and shared.measurement is not None
    assert not any("foreign" in w for w in quiet.measurement.warnings)
    assert any("foreign load: other processes used 40%" in w
               for w in shared.measurement.warnings)


# -- 4. counter-derived power ----------------------------------------------------------------


def test_counter_power_does_not_spike_at_window_edges() -> None:
    clock = VirtualClock()
    gpu = SteppedCounter(clock, "gpu:0", constant(300.0), update_period_s=0.1)
    meter = Meter([gpu], clock=clock)
    meter.sample()
    t_start = clock.monotonic()
    measurements = []
    for _ in range(20):  # windows opened and closed a millisecond from a sample
        clock.advance(0.0995)
        w = meter.begin("edge")
        clock.advance(0.001)
        meter.sample()
        run(clock, meter, 0.7, jitter=0.004)
        measurements.append(meter.end(w))
    peaks = [m.domain("gpu:0").peak_power_w or 0.0 for m in measurements]
    trace = meter.trace.between(t_start, clock.monotonic())
    points = [p for p in trace["power_w"]["gpu:0"] if p is not None]
    assert max(peaks) <= 300.0 * 1.25
    assert points and max(points) <= 300.0 * 1.25 and min(points) >= 300.0 * 0.75


# -- 7. silent losses made loud --------------------------------------------------------------


def test_a_sampler_gap_longer_than_the_wrap_safe_interval_is_flagged() -> None:
    clock = VirtualClock()
    # AMD-like: 65.5 kJ range at 280 W wraps in about 4 minutes
    package = SteppedCounter(clock, "cpu-package:0", constant(250.0), update_period_s=0.001,
                             wrap_j=65532.0, max_power_w=280.0)
    meter = Meter([package], clock=clock, witness=None)
    w = meter.begin("suspended")
    clock.advance(300.0)  # the sampler fell behind (suspended VM, overloaded host)
    m = meter.end(w)
    assert any("possible unseen counter wrap" in x for x in m.domain("cpu-package:0").warnings)


def test_a_counter_reset_is_flagged_as_a_lower_bound() -> None:
    clock = VirtualClock()
    gpu = SteppedCounter(clock, "gpu:0", constant(100.0), update_period_s=0.01,
                         start_j=5000.0)
    meter = Meter([gpu], clock=clock)
    meter.sample()
    w = meter.begin("reset")
    run(clock, meter, 1.0)
    gpu.offset_j = gpu.read_value()  # the driver reloads: the counter starts again at 0
    run(clock, meter, 1.0)
    m = meter.end(w)
    d = m.domain("gpu:0")
    assert any("was reset" in x and "lower bound" in x for x in d.warnings)
    # the interval with the reset counts from 0 after it: at most one sample short
    assert 200.0 - 100.0 * 0.1 - 1e-6 <= (d.energy_j or 0.0) <= 200.0 + 1e-6


def test_trace_downsampling_keeps_the_newest_sample_and_the_energy() -> None:
    trace = Trace(["x"], [0.0], limit=100)
    total = 0.0
    for i in range(1001):
        trace.append(float(i), [total])
        total += 5.0 if i % 2 else 15.0
    assert len(trace.t_s) <= 100
    assert trace.t_s[-1] == 1000.0 and trace.t_s[0] == 0.0
    first, last = trace.total_j[0][0], trace.total_j[-1][0]
    assert first is not None and last is not None
    assert last - first == pytest.approx(10.0 * 1000.0)


def test_failed_reads_are_never_zero_and_gaps_are_bridged_with_a_warning() -> None:
    clock = VirtualClock()

    class Flaky(PolledPower):
        fail = False

        def read_value(self) -> float:
            if self.fail:
                raise SensorReadError("sysfs read failed: EIO")
            return super().read_value()

    flaky = Flaky(clock, "gpu:0", constant(10.0))
    meter = Meter([flaky], clock=clock)
    flaky.fail = True
    w = meter.begin("broken")
    run(clock, meter, 0.5)
    m = meter.end(w)
    assert m.energy_j is None and "EIO" in (m.domain("gpu:0").error or "")
    flaky.fail = False
    w = meter.begin("gap")
    flaky.fail = True
    run(clock, meter, 0.3)
    flaky.fail = False
    m = meter.end(w)
    assert m.energy_j == pytest.approx(3.0)
    assert any("failed read" in x for x in m.domain("gpu:0").warnings)


# -- windows, phases, threads ----------------------------------------------------------------


def test_short_window_is_flagged_and_parts_are_not_double_counted() -> None:
    clock = VirtualClock()
    pkg = PolledPower(clock, "cpu-package:0", constant(40.0))
    core = PolledPower(clock, "cpu-core:0", constant(30.0), update_period_s=0.1)
    core.part_of = "cpu-package:0"
    meter = Meter([pkg, core], clock=clock, witness=None)
    w = meter.begin("short")
    run(clock, meter, 0.2, every=0.05)
    m = meter.end(w)
    assert m.energy_j == pytest.approx(8.0)
    assert any("shorter than" in x for x in m.domain("cpu-core:0").warnings)
    assert not m.domain("cpu-package:0").warnings


def test_a_counter_is_cross_checked_against_its_power_sensor() -> None:
    clock = VirtualClock()
    good = SteppedCounter(clock, "gpu:0", constant(50.0), update_period_s=0.01)
    good.cross_check = PolledPower(clock, "gpu:0", constant(50.0))
    bad = SteppedCounter(clock, "gpu:1", constant(50.0), update_period_s=0.01)
    bad.cross_check = PolledPower(clock, "gpu:1", constant(80.0))  # disagrees by 60%
    meter = Meter([good, bad], clock=clock)
    meter.sample()
    w = meter.begin("checked")
    run(clock, meter, 2.0)
    m = meter.end(w)
    g, b = m.domain("gpu:0"), m.domain("gpu:1")
    assert g.cross_check_energy_j == pytest.approx(100.0)
    assert not any("disagree" in x for x in g.warnings)
    assert any("disagree by more than 10%" in x for x in b.warnings)
    assert b.energy_j == pytest.approx(100.0, abs=0.5)  # the counter is kept
    assert b.peak_power_w == pytest.approx(80.0)  # peaks come from the power reading


def test_phase_reports_to_the_active_meter_only() -> None:
    with phase("prefill"):  # no meter: a no-op
        pass
    clock = VirtualClock()
    meter = Meter([PolledPower(clock, "gpu:0", constant(20.0))], clock=clock)
    with activate(meter):
        with phase("prefill"):
            clock.advance(0.05)
        with phase("decode"):
            clock.advance(0.1)
    assert [m.name for m in meter.phase_results] == ["phase:prefill", "phase:decode"]
    assert [m.energy_j for m in meter.phase_results] == pytest.approx([1.0, 2.0])


def test_sampling_thread_is_safe_with_concurrent_windows() -> None:
    class Steady(Sensor):
        kind = SensorKind.POWER
        source = "synthetic"
        domain = "gpu:0"

        def read_value(self) -> float:
            return 10.0

    results = []
    with Meter([Steady()], interval_s=0.005) as meter:
        def worker() -> None:
            for _ in range(20):
                with meter.window("t") as w:
                    pass
                results.append(w.measurement)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 80
    for m in results:
        assert m is not None and m.energy_j == pytest.approx(10.0 * m.duration_s, rel=1e-6)


def test_the_meter_never_polls_faster_than_its_sensors_can_show_something_new() -> None:
    clock = VirtualClock()
    cpu = TickedCpu(clock)
    estimate_only = Meter([cpu_estimate(cpu.tree), RamEstimateSensor(2**30)],
                          interval_s=0.01, clock=clock)
    assert estimate_only.requested_interval_s == 0.01
    assert estimate_only.interval_s == pytest.approx(0.1)  # the model is read every 0.1 s
    rapl = SteppedCounter(clock, "cpu-package:0", constant(50.0), update_period_s=0.001,
                          wrap_j=262143.0, max_power_w=500.0)
    with_counter = Meter([rapl, RamEstimateSensor(2**30)], interval_s=0.01, clock=clock)
    assert with_counter.interval_s == pytest.approx(0.01)  # RAPL moves every millisecond
