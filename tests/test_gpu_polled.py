"""Polled GPU power: the part-time-power mitigations (Yang et al., SC'24) and the counter's
per-repeat cross-check, on the pynvml stand-in and virtual time."""

from __future__ import annotations

import random

import pytest

from greenbench.clock import VirtualClock
from greenbench.meter import Meter
from greenbench.protocol import Plan, Protocol
from greenbench.sensors import nvml
from greenbench.sensors.base import SensorKind
from tests.factories import make_case, make_run
from tests.fake_pynvml import FakeGpu, PartTimeLoad, install, make_pynvml

A100 = "NVIDIA A100-SXM4-80GB"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delenv(nvml.METHOD_ENV, raising=False)


def gpu_sensor(monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu):
    install(monkeypatch, make_pynvml([gpu]))
    [found] = [p for p in nvml.probe() if p.domain == "gpu:0"]
    assert found.sensor is not None
    return found.sensor


class Steps:
    """A step of ``step_s`` virtual seconds; the meter samples every 0.1 s meanwhile, as its
    background thread would."""

    def __init__(self, clock: VirtualClock, meter: Meter, step_s: float) -> None:
        self.clock, self.meter, self.step_s = clock, meter, step_s
        self.next_sample = clock.monotonic() + 0.1
        self.calls = 0
        self.starts: list[float] = []

    def __call__(self) -> None:
        self.starts.append(self.clock.monotonic())
        end = self.clock.monotonic() + self.step_s
        while self.next_sample <= end:
            self.clock.advance(max(0.0, self.next_sample - self.clock.monotonic()))
            self.meter.sample()
            self.next_sample += 0.1
        self.clock.advance(max(0.0, end - self.clock.monotonic()))
        self.calls += 1


def steady_gpu(monkeypatch: pytest.MonkeyPatch, clock: VirtualClock, counter: bool = False):
    """The sensor of an A100 drawing a steady 300 W, with its energy counter or (by default)
    polled power only."""
    gpu = FakeGpu(name=A100) if counter else FakeGpu(name=A100, energy_mj=None)
    gpu.load = steady(clock)
    return gpu_sensor(monkeypatch, gpu)


def bare_meter(clock: VirtualClock, sensor) -> Meter:
    """A meter of ``sensor`` alone on ``clock``: no device sync, no load witness."""
    return Meter([sensor], clock=clock, sync=lambda: None, witness=None)


def run(clock: VirtualClock, sensor, step_s: float, plan: Plan, seed: int = 7):
    meter = bare_meter(clock, sensor)
    protocol = Protocol(meter, plan)
    protocol.rng = random.Random(seed)
    step = Steps(clock, meter, step_s)
    return protocol.run(step), step


def steady(clock: VirtualClock, watts: float = 300.0, **kw) -> PartTimeLoad:
    return PartTimeLoad(clock, lambda _t: watts, **kw)


def phase_locked(clock: VirtualClock, **kw) -> PartTimeLoad:
    """400 W for 75 ms of every 100 ms, 100 W in the 25 ms NVML samples: the polled value
    reads 100 W while the GPU draws 325 W on average."""
    t0 = clock.monotonic()
    return PartTimeLoad(clock, lambda t: 400.0 if (t - t0) % 0.1 < 0.075 else 100.0, **kw)


# --- which path, and what it records ---------------------------------------------------------


def test_a_gpu_without_the_counter_is_polled_with_the_part_time_mitigations(monkeypatch):
    sensor = gpu_sensor(monkeypatch, FakeGpu(name=A100, energy_mj=None))

    assert sensor.kind is SensorKind.POWER
    assert sensor.part_time is not None
    assert "25 ms of each 100 ms" in sensor.part_time.reading
    assert sensor.part_time.why == "this GPU has no total-energy counter"
    recorded = sensor.info()["polled_power"]
    assert (recorded["min_window_s"], recorded["min_steps"]) == (5.0, 32)
    assert (recorded["max_delay_s"], recorded["rise_s"]) == (0.1, 1.0)


def test_a_model_not_known_to_sample_part_time_says_its_coverage_is_unknown(monkeypatch):
    sensor = gpu_sensor(monkeypatch, FakeGpu(name="Tesla K80", energy_mj=None))

    assert sensor.part_time is not None
    assert sensor.part_time.reading.startswith("unknown share")


def test_polling_can_be_forced_where_the_gpu_has_the_counter(monkeypatch):
    monkeypatch.setenv(nvml.METHOD_ENV, "power")
    sensor = gpu_sensor(monkeypatch, FakeGpu(name=A100))

    assert sensor.kind is SensorKind.POWER
    assert sensor.part_time is not None
    assert sensor.part_time.why == "GREENBENCH_NVML_METHOD=power asked for polled power"


def test_the_counter_is_preferred_and_its_cross_check_gets_no_mitigations(monkeypatch):
    sensor = gpu_sensor(monkeypatch, FakeGpu(name=A100))

    assert sensor.kind is SensorKind.COUNTER
    assert sensor.cross_check is not None and sensor.cross_check.part_time is None
    assert "polled_power" not in sensor.info()
    assert "polled_power" not in sensor.cross_check.info()


# --- the protocol on the polled path -----------------------------------------------------------


def test_polled_repeats_last_five_seconds_with_random_pauses_and_the_rise_discarded(
        monkeypatch):
    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock)

    result, step = run(clock, sensor, 0.01, Plan(repeats=4, min_repeat_s=0.5, warmup_s=0.3))

    windows = [m for m, _ in result.repeats]
    assert all(m.duration_s >= 5.0 - 1e-9 for m in windows)
    assert all(done >= 500 for _, done in result.repeats)
    gaps = [b.start_s - a.end_s for a, b in zip(windows, windows[1:], strict=False)]
    pauses = [gap - 1.0 for gap in gaps]  # each gap: the pause, then 1 s of rise steps
    assert all(0.0 <= p < 0.1 + 1e-6 for p in pauses)
    assert len({round(p, 6) for p in pauses}) == len(pauses)  # random, not one fixed delay
    # between repeats the rise steps ran (1 s of 10 ms steps), in no window
    for a, b in zip(windows, windows[1:], strict=False):
        assert sum(a.end_s < t < b.start_s for t in step.starts) == 100
    [applied] = [f for f in result.flags if f.startswith("polled power on gpu:0")]
    assert "25 ms of each 100 ms" in applied and "Yang et al., SC'24" in applied
    assert "at least 5 s and 32 steps" in applied and "random pause of 0-100 ms" in applied
    assert "1 s of rise time run and discarded" in applied


def test_polled_repeats_run_at_least_32_steps_however_long_a_step(monkeypatch):
    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock)

    result, _ = run(clock, sensor, 0.5, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1))

    assert [done for _, done in result.repeats] == [32, 32]  # 5 s alone would be 10 steps


def test_fixed_steps_say_the_step_minimum_cannot_apply(monkeypatch):
    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock)

    result, _ = run(clock, sensor, 0.2, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1,
                                             steps=1))

    [applied] = [f for f in result.flags if f.startswith("polled power on gpu:0")]
    assert "the 32-step minimum cannot apply: the case's steps are fixed" in applied


def test_the_counter_path_runs_no_polled_mitigations(monkeypatch):
    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock, counter=True)

    result, _ = run(clock, sensor, 0.01, Plan(repeats=3, min_repeat_s=0.5, warmup_s=0.3))

    assert not any(f.startswith("polled power") for f in result.flags)
    windows = [m for m, _ in result.repeats]
    assert all(m.duration_s < 1.5 for m in windows)  # 10 updates, not 5 s
    assert all(b.start_s - a.end_s < 0.01 for a, b in zip(windows, windows[1:], strict=False))


# --- the counter against integrated polled power, per repeat ---------------------------------


def test_counter_and_polled_power_agree_on_a_steady_load(monkeypatch):
    clock = VirtualClock()
    gpu = FakeGpu(name=A100)
    gpu.load = steady(clock, energy_periods_s=(0.02, 0.05, 0.1))
    sensor = gpu_sensor(monkeypatch, gpu)

    result, _ = run(clock, sensor, 0.01, Plan(repeats=3, min_repeat_s=2.0, warmup_s=0.3))

    for m, _ in result.repeats:
        d = m.domain("gpu:0")
        assert d.method == "counter"
        assert d.energy_j == pytest.approx(gpu.load.true_j(m.start_s, m.end_s), rel=0.03)
        assert d.energy_j / d.cross_check_energy_j == pytest.approx(1.0, abs=0.03)
    assert not any("disagree" in f for f in result.flags)


def test_a_load_the_part_time_samples_miss_is_flagged_per_repeat(monkeypatch):
    clock = VirtualClock()
    gpu = FakeGpu(name=A100)
    gpu.load = phase_locked(clock, energy_periods_s=(0.02, 0.05, 0.1))
    sensor = gpu_sensor(monkeypatch, gpu)

    result, _ = run(clock, sensor, 0.01, Plan(repeats=3, min_repeat_s=2.0, warmup_s=0.3))

    for m, _ in result.repeats:
        d = m.domain("gpu:0")
        # the counter is right (to its 20-100 ms steps); polled power saw 100 W of 325 W
        assert d.energy_j == pytest.approx(gpu.load.true_j(m.start_s, m.end_s), rel=0.06)
        assert d.energy_j / d.cross_check_energy_j == pytest.approx(3.25, rel=0.06)
        assert any("disagree by more than 10%" in w for w in d.warnings)
    [flag] = [f for f in result.flags if "disagree" in f]
    assert flag.startswith("gpu:0: the energy counter and integrated polled power disagree by "
                           "more than 10% in 3 of 3 repeats (counter/polled 3.")
    assert flag.endswith("the counter is used: a counter that stands still or runs wrong (AMD "
                         "SMI on some parts), or polled power that sees only part of each update "
                         "(Yang et al., SC'24), explains it")


def test_results_show_prints_the_cross_check_and_mitigation_notes(monkeypatch, capsys, tmp_path):
    from greenbench.store import Store
    from tests.cli_runner import run_cli

    clock = VirtualClock()
    gpu = FakeGpu(name=A100)
    gpu.load = phase_locked(clock)
    sensor = gpu_sensor(monkeypatch, gpu)
    result, _ = run(clock, sensor, 0.01, Plan(repeats=2, min_repeat_s=2.0, warmup_s=0.3))
    record = make_run()
    record.cases = [make_case()]
    record.cases[0].flags = list(result.flags)  # as the worker stores them
    store = tmp_path / "runs.sqlite"
    with Store(store) as s:
        s.begin_run(record)

    shown = run_cli(capsys, "results", "show", "latest", "--store", str(store))

    assert shown.code == 0
    text = " ".join(shown.out.split())
    assert "gpu:0: the energy counter and integrated polled power disagree by more than 10% " \
           "in 2 of 2 repeats" in text


def test_greenbench_sensors_says_what_the_polled_path_does(monkeypatch, capsys):
    from tests.cli_runner import run_cli

    install(monkeypatch, make_pynvml([FakeGpu(name=A100, energy_mj=None)]))
    monkeypatch.setenv("COLUMNS", "200")

    shown = run_cli(capsys, "sensors")

    assert "polled power (this GPU has no total-energy counter): one reading covers about " \
           "25 ms of each 100 ms (A100/H100 class); repeats of at least 5 s and 32 steps, " \
           "random pauses and the rise time discarded (Yang et al., SC'24)" \
        in " ".join(shown.out.split())


def test_an_amd_gpu_without_the_accumulator_gets_the_same_mitigations(monkeypatch):
    from greenbench.sensors import amdgpu
    from tests.fake_amdsmi import FakeAmdGpu, make_amdsmi
    from tests.fake_amdsmi import install as install_amd

    install_amd(monkeypatch, make_amdsmi([FakeAmdGpu(energy_ticks=None)]))
    [found] = amdgpu.probe()
    clock = VirtualClock()
    sensor = found.sensor

    result, _ = run(clock, sensor, 0.01, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1))

    assert sensor.part_time is not None and "polled_power" in sensor.info()
    assert all(m.duration_s >= 5.0 - 1e-9 for m, _ in result.repeats)
    [applied] = [f for f in result.flags if f.startswith("polled power on gpu:0")]
    assert "this GPU has no energy accumulator" in applied


def test_every_rank_of_a_job_runs_the_rise_steps_rank_0_counted(monkeypatch):
    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock)
    meter = bare_meter(clock, sensor)

    def rank_0s(value: object) -> object:  # rank 0 counted 7 rise steps; decisions pass
        return 7 if type(value) is int else value

    protocol = Protocol(meter, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1), agree=rank_0s)
    step = Steps(clock, meter, 0.01)
    result = protocol.run(step)

    (a, _), (b, _) = result.repeats
    assert sum(a.end_s < t < b.start_s for t in step.starts) == 7


def test_a_rank_whose_gpu_has_the_counter_runs_rank_0s_polled_rise_and_steps(monkeypatch):
    """Rank 0 reads polled power, this rank a counter: it still runs the rise before each
    repeat and the 32-step minimum, so the ranks' collective steps line up."""
    from greenbench.polled_power import PartTimeMitigation

    clock = VirtualClock()
    # this rank: the energy counter, no mitigation of its own
    sensor = steady_gpu(monkeypatch, clock, counter=True)
    meter = bare_meter(clock, sensor)
    rank_0 = PartTimeMitigation(reading="25 ms of each 100 ms", why="no counter").to_dict()

    def rank_0s(value: object) -> object:
        if value is None:  # the mitigation asked: rank 0's
            return rank_0
        return value

    step = Steps(clock, meter, 0.5)
    result = Protocol(meter, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1),
                      agree=rank_0s).run(step)

    (a, _), (b, _) = result.repeats
    assert [done for _, done in result.repeats] == [32, 32]
    assert sum(a.end_s < t < b.start_s for t in step.starts) == 2  # 1 s of 0.5 s steps
    assert not any(f.startswith("polled power") for f in result.flags)  # not its own reading


def phase_trial(monkeypatch, mitigate: bool, seed: int) -> list[float]:
    """Polled energy over true energy per repeat, for 100 ms steps that draw 400 W for their
    first 30 ms and 100 W after (190 W on average; 50 W between steps)."""
    import bisect

    clock = VirtualClock()
    gpu = FakeGpu(name=A100, energy_mj=None)
    sensor = gpu_sensor(monkeypatch, gpu)
    if not mitigate:
        sensor.part_time = None  # as before the mitigations
    meter = bare_meter(clock, sensor)
    step = Steps(clock, meter, 0.1)

    def watts(t: float) -> float:
        i = bisect.bisect_right(step.starts, t) - 1
        if i < 0 or t >= step.starts[i] + 0.1:
            return 50.0
        return 400.0 if t - step.starts[i] < 0.03 else 100.0

    gpu.load = PartTimeLoad(clock, watts)
    protocol = Protocol(meter, Plan(repeats=6, min_repeat_s=0.5, warmup_s=0.5))
    protocol.rng = random.Random(seed)
    result = protocol.run(step)
    return [m.domain("gpu:0").energy_j / gpu.load.true_j(m.start_s, m.end_s)
            for m, _ in result.repeats]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_pauses_turn_a_hidden_phase_bias_into_visible_spread(monkeypatch, seed):
    # without the pauses every repeat samples the same slice of the step: 47% low, and the
    # repeats agree, so no CV shows it
    before = phase_trial(monkeypatch, mitigate=False, seed=seed)
    assert max(before) - min(before) < 1e-6
    assert before[0] == pytest.approx(100 / 190, rel=0.01)
    # with them the repeats sample different slices: they straddle the truth, and their mean
    # is within 10% of it
    after = phase_trial(monkeypatch, mitigate=True, seed=seed)
    assert min(after) < 1.0 < max(after)
    assert sum(after) / len(after) == pytest.approx(1.0, abs=0.1)


def test_the_minimum_window_is_part_of_the_shortest_repeat_every_caller_asks_for(monkeypatch):
    # the pytest fixture runs warm_up and repeat itself: it asks min_repeat_s
    clock = VirtualClock()
    sensor = gpu_sensor(monkeypatch, FakeGpu(name=A100, energy_mj=None))
    meter = bare_meter(clock, sensor)

    shortest, flags = Protocol(meter, Plan(repeats=2, min_repeat_s=0.5, warmup_s=0.1)
                               ).min_repeat_s()

    assert shortest == 5.0
    assert flags == ["repeats lengthened to 5 s for polled power on gpu:0 (part-time readings, "
                     "Yang et al., SC'24)"]


def test_the_cross_check_flag_counts_only_repeats_that_hold_the_domain():
    from greenbench.measurement import DomainEnergy, Measurement
    from greenbench.polled_power import cross_check_flags

    def window(domains):
        return Measurement("r", 0.0, 2.0, domains)

    off = DomainEnergy("gpu:0", 50.0, "counter", "nvml", 25.0, None, 20,
                       cross_check_energy_j=100.0)
    flags = cross_check_flags([window([off]), window([])], 0.10)

    assert flags[0].startswith("gpu:0: the energy counter and integrated polled power disagree "
                               "by more than 10% in 1 of 2 repeats (counter/polled "
                               "0.500-0.500)")


# --- the pytest fixture takes the same path ----------------------------------------------------


class _Session:
    """What the fixture asks of its session: the meter for its device, the idle, the tier."""

    def __init__(self, meter: Meter) -> None:
        self.meter, self.idle, self.estimate = meter, None, False

    def meter_for(self, device: str | None) -> Meter:
        return self.meter


def _fixture_on_polled_power(monkeypatch):
    from greenbench.pytest_energy.fixture import EnergyBenchmark
    from greenbench.pytest_energy.settings import Measuring

    clock = VirtualClock()
    sensor = steady_gpu(monkeypatch, clock)
    meter = bare_meter(clock, sensor)
    records: list = []
    bench = EnergyBenchmark("test_x.py::test_gpu", Measuring(rounds=3, min_time_s=0.5),
                            disabled=False, meter=lambda: _Session(meter),
                            record=lambda nodeid, case, failures: records.append(case))
    return bench, Steps(clock, meter, 0.01), records


def test_the_pytest_fixture_runs_the_polled_path_as_the_runner_does(monkeypatch):
    bench, stepping, records = _fixture_on_polled_power(monkeypatch)

    bench(stepping)

    [case] = records
    assert all(r.measurement.duration_s >= 5.0 - 1e-9 for r in case.repeats)
    [applied] = [f for f in case.flags if f.startswith("polled power on gpu:0")]
    assert "random pause of 0-100 ms" in applied and "rise time run and discarded" in applied
    windows = [r.measurement for r in case.repeats]
    for a, b in zip(windows, windows[1:], strict=False):  # 1 s of 10 ms rise steps between
        assert sum(a.end_s < t < b.start_s for t in stepping.starts) == 100


def test_the_fixtures_rise_steps_never_use_up_a_rounds_own_arguments(monkeypatch):
    bench, stepping, records = _fixture_on_polled_power(monkeypatch)
    made: list[int] = []
    used: list[int] = []

    def setup():
        made.append(len(made))
        return (made[-1],), {}

    def fn(token: int) -> None:
        assert token not in used, "a round's arguments were used up before it"
        used.append(token)
        stepping()

    bench.pedantic(fn, setup=setup, iterations=1)

    [case] = records
    assert [r.steps for r in case.repeats] == [1, 1, 1]
    assert len(used) == len(set(used)) > 3 * 100  # each rise call made its own arguments
