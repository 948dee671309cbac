"""The measuring protocol on virtual time: steps that take known seconds, sensors that lag."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from greenbench.clock import VirtualClock
from greenbench.meter import Meter
from greenbench.protocol import Plan, Protocol
from tests.standins import PolledPower, SteppedCounter, constant


class Workload:
    """A step that takes ``seconds(i)`` of virtual time (i: the step's index)."""

    def __init__(self, clock: VirtualClock, seconds: Callable[[int], float]) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def __call__(self) -> None:
        self.clock.advance(self.seconds(self.calls))
        self.calls += 1


def meter_on(clock: VirtualClock, *sensors: object, sync: Callable[[], None] | None = None
             ) -> Meter:
    chosen = list(sensors) or [PolledPower(clock, "cpu-package:0", constant(10.0))]
    return Meter(chosen, clock=clock, sync=sync or (lambda: None), witness=None)  # type: ignore[arg-type]


def test_steps_per_repeat_come_from_the_median_not_from_one_hiccup() -> None:
    clock = VirtualClock()
    # 10 ms steps, but one step of the warm-up's later batches takes 400 ms (a page fault
    # storm, another process): the old rule took the last batch alone
    hiccup = 150
    step = Workload(clock, lambda i: 0.4 if i == hiccup else 0.01)
    plan = Plan(repeats=3, min_repeat_s=0.5, warmup_s=1.0)
    steps, step_s = Protocol(meter_on(clock), plan).warm_up(step, 0.5)
    assert step_s == pytest.approx(0.01)
    assert steps == 50


def test_a_warm_up_limit_passing_mid_calibration_does_not_halve_the_step_time() -> None:
    clock = VirtualClock()
    step = Workload(clock, lambda i: 0.03)  # 30 ms steps, shorter than one timed batch
    plan = Plan(repeats=2, min_repeat_s=0.3, warmup_s=0.05)
    steps, step_s = Protocol(meter_on(clock), plan).warm_up(step, 0.3)
    assert step_s == pytest.approx(0.03)  # the old worker doubled the batch, then divided
    assert steps == 10


def test_the_device_sync_is_inside_every_timing() -> None:
    clock = VirtualClock()
    queued = [0]

    def launch() -> None:  # returns at once; the device works 20 ms per step afterwards
        queued[0] += 1

    def sync() -> None:
        clock.advance(0.02 * queued[0])
        queued[0] = 0

    meter = meter_on(clock, sync=sync)
    steps, step_s = Protocol(meter, Plan(repeats=1, min_repeat_s=0.4, warmup_s=0.5)
                             ).warm_up(launch, 0.4)
    assert step_s == pytest.approx(0.02)
    assert steps == 20


def test_every_repeat_lasts_at_least_the_minimum_even_when_the_machine_gets_faster() -> None:
    clock = VirtualClock()
    fast = [False]
    step = Workload(clock, lambda i: 0.005 if fast[0] else 0.01)
    meter = meter_on(clock)
    protocol = Protocol(meter, Plan(repeats=4, min_repeat_s=0.5, warmup_s=0.5))

    def after(m: object, steps: int, idle: object) -> None:
        fast[0] = True  # a neighbour stopped after the first repeat

    result = protocol.run(step, after_repeat=after)
    durations = [m.duration_s for m, _ in result.repeats]
    assert all(d >= 0.5 - 1e-9 for d in durations)
    assert [n for _, n in result.repeats][0] == 50 and result.repeats[1][1] > 50


def test_fixed_steps_are_never_topped_up() -> None:
    clock = VirtualClock()
    step = Workload(clock, lambda i: 0.01)
    result = Protocol(meter_on(clock), Plan(repeats=2, min_repeat_s=1.0, warmup_s=0.1,
                                            steps=3)).run(step)
    assert [n for _, n in result.repeats] == [3, 3]


class LaggingGpu(PolledPower):
    """A GPU whose power reading is an average that decays for a second after load
    (exponential, time constant 0.2 s) towards 60 W idle from 300 W busy."""

    settle_s = 1.0

    def __init__(self, clock: VirtualClock) -> None:
        self.busy_until = -math.inf
        super().__init__(clock, "gpu:0", self.power)

    def power(self, t: float) -> float:
        if t <= self.busy_until:
            return 300.0
        return 60.0 + 240.0 * math.exp(-(t - self.busy_until) / 0.2)


def test_idle_is_taken_after_the_settle_time_of_a_lagging_gpu() -> None:
    clock = VirtualClock()
    gpu = LaggingGpu(clock)

    def step() -> None:
        clock.advance(0.01)
        gpu.busy_until = clock.monotonic()

    def sampled_sleep(seconds: float) -> None:  # the meter's thread, on virtual time
        end = clock.monotonic() + seconds
        while clock.monotonic() < end - 1e-12:
            clock.advance(min(0.01, end - clock.monotonic()))
            meter.sample()

    meter = meter_on(clock, gpu)
    clock.sleep = sampled_sleep  # type: ignore[method-assign]
    plan = Plan(repeats=1, min_repeat_s=0.2, warmup_s=0.3, idle_s=0.5)
    settled = Protocol(meter, plan).run(step)
    assert settled.settle_s == 1.0
    assert settled.idle is not None and settled.idle.mean_power_w is not None
    assert settled.idle.mean_power_w == pytest.approx(60.0, abs=1.0)
    # without settling, the idle baseline reads the decaying average: far too high
    unsettled = Protocol(meter, Plan(repeats=1, min_repeat_s=0.2, warmup_s=0.3, idle_s=0.5,
                                     settle_s=0.0)).run(step)
    assert unsettled.idle is not None and (unsettled.idle.mean_power_w or 0) > 100.0


def test_an_idle_baseline_above_the_repeats_power_is_flagged() -> None:
    clock = VirtualClock()
    load = [0.0]
    gpu = SteppedCounter(clock, "gpu:0", lambda t: 50.0 + load[0], update_period_s=0.001)

    def step() -> None:
        clock.advance(0.01)

    meter = meter_on(clock, gpu)
    # idle reads 50 W, the repeats 50 W less a little: a baseline that is not an idle
    original = meter.idle

    def busy_idle(seconds: float, name: str = "idle"):  # type: ignore[no-untyped-def]
        load[0] = 40.0
        try:
            return original(seconds, name)
        finally:
            load[0] = 0.0

    meter.idle = busy_idle  # type: ignore[method-assign]
    result = Protocol(meter, Plan(repeats=2, min_repeat_s=0.2, warmup_s=0.2, idle_s=0.3)
                      ).run(step)
    assert any("idle baseline" in f and "above the repeats' power" in f for f in result.flags)


def test_repeats_are_lengthened_for_the_slowest_counted_sensor_only() -> None:
    clock = VirtualClock()
    counted = SteppedCounter(clock, "gpu:0", constant(100.0), update_period_s=0.1)
    other = SteppedCounter(clock, "gpu:1", constant(100.0), update_period_s=0.5)
    meter = Meter([counted, other], clock=clock, sync=lambda: None,
                  not_counted={"gpu:1": "not attributed"})
    min_s, flags = Protocol(meter, Plan(repeats=1, min_repeat_s=0.2, warmup_s=0.1)
                            ).min_repeat_s()
    assert min_s == pytest.approx(1.0) and flags


@pytest.mark.parametrize(("update_period_s", "min_repeat_s", "idle_s"), [
    (0.001, 0.5, 0.5),  # a RAPL-like counter: the idle window is the shortest repeat
    (0.1, 0.5, 1.0),    # an NVML-like counter: both lengthened to 10 of its updates
])
def test_an_automatic_idle_lasts_as_long_as_the_shortest_repeat(
        update_period_s: float, min_repeat_s: float, idle_s: float) -> None:
    clock = VirtualClock()
    sensor = SteppedCounter(clock, "cpu-package:0", constant(20.0),
                            update_period_s=update_period_s)
    meter = meter_on(clock, sensor)
    result = Protocol(meter, Plan(repeats=2, min_repeat_s=min_repeat_s, warmup_s=0.1,
                                  idle_s=None)).run(Workload(clock, lambda i: 0.01))
    assert result.idle is not None
    assert result.idle.duration_s == pytest.approx(idle_s, abs=update_period_s)
    assert result.idle.energy_j == pytest.approx(20.0 * idle_s, rel=0.05)
    assert all(m.duration_s >= idle_s * (1 - 1e-9) for m, _ in result.repeats)


def test_an_idle_of_zero_takes_no_baseline_and_no_settle() -> None:
    clock = VirtualClock()
    result = Protocol(meter_on(clock), Plan(repeats=1, min_repeat_s=0.2, warmup_s=0.1,
                                            idle_s=0.0)).run(Workload(clock, lambda i: 0.01))
    assert result.idle is None
