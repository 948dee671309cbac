"""The measuring protocol, one for the runner's workers and the pytest fixture:

calibrate -> warm up -> settle -> idle -> repeats -> per-step metrics

- **Calibrate**: time doubling batches of steps, each closed by the device sync (so queued GPU
  work is in the time, not launches alone), until a batch lasts BATCH_MIN_S; the step time is
  that batch's time over its own size.
- **Warm up**: batches of the calibrated size until the per-step times of the last
  STABLE_BATCHES agree within STABLE_SPREAD of their median, or the warm-up limit passes, and
  at least ``min_warmup_batches``. The steps per repeat come from the *median* of the last
  batches, so one hiccup does not set them.
- **Settle**: wait ``settle_s`` before the idle baseline: GPU power readings are averages that
  lag by up to a second after load, so an idle measured at once reads high (and net energy
  low). The rule: the longest ``settle_s`` of the sensors in the total (1 s for GPUs, 0 for
  counters and models that do not lag).
- **Idle**: a window in which the process only sleeps, with the workload's state loaded. Its
  length, unless the plan fixes one: that of the shortest repeat (``min_repeat_s``, already
  lengthened for the slowest sensor in the total), so the baseline subtracted from every
  repeat is read at the resolution of the repeats themselves, and a 1 ms counter does not
  idle for as long as a 100 ms one needs.
- **Repeats**: each one window of ``steps`` steps; a repeat that ends shorter than the
  minimum (the machine got faster) runs on in small batches until long enough, unless the
  steps are fixed. Figures are per step, so repeats of unequal steps compare.
- **GPUs**: where polled power is the measurement, repeats of at least 5 s and 32 steps, each
  after a random pause and a discarded rise time (greenbench.polled_power, Yang et al.,
  SC'24); around each repeat, who else used a measured GPU (greenbench.gpu_share); the case is
  flagged where a counter disagreed with its polled cross-check.

Every decision that sets how many steps run (end calibration, end warm-up, the steps per
repeat, top a repeat up) goes through ``agree``: the value itself on one process; in a
distributed job rank 0's value, so that every rank runs the same steps (a step of DDP training
is a collective, and ranks that disagreed would wait on each other for ever).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenbench import gpu_share
from greenbench.measurement import Measurement
from greenbench.meter import CROSS_CHECK_TOLERANCE, MIN_UPDATES_PER_WINDOW, Meter
from greenbench.polled_power import CITATION, PartTimeMitigation, cross_check_flags, mitigation
from greenbench.units import fmt_power

#: warm-up ends early once the last this-many batches agree within STABLE_SPREAD
STABLE_BATCHES = 3
STABLE_SPREAD = 0.05
#: a calibration batch lasts at least this long, so its timing is not clock noise
BATCH_MIN_S = 0.05
#: a repeat that ran short goes on in batches of this share of its steps
TOP_UP_SHARE = 0.25


@dataclass
class Plan:
    repeats: int
    min_repeat_s: float
    warmup_s: float
    #: 0: no idle baseline; None: as long as the shortest repeat (see the module docstring)
    idle_s: float | None = 0.0
    #: None: the longest settle_s of the meter's counted sensors
    settle_s: float | None = None
    #: fixed steps per repeat (the workload's whole task, pytest's iterations); None: calibrate
    steps: int | None = None
    min_warmup_batches: int = 1


@dataclass
class Result:
    step_s: float
    steps: int
    warmup: Measurement
    idle: Measurement | None
    repeats: list[tuple[Measurement, int]]
    settle_s: float
    flags: list[str] = field(default_factory=list)


Step = Callable[[], object]
#: a decision or value -> the one every process of the job acts on (rank 0's)
Agree = Callable[[object], object]
Hook = Callable[[str, int], None]
#: called after each repeat with its measurement, its steps and the idle baseline
AfterRepeat = Callable[[Measurement, int, "Measurement | None"], None]


class Protocol:
    """Runs :class:`Plan` with ``meter`` (its clock and its device sync)."""

    def __init__(self, meter: Meter, plan: Plan, agree: Agree = lambda value: value) -> None:
        self.meter = meter
        self.plan = plan
        self.clock = meter.clock
        self.agree = agree

    def min_repeat_s(self) -> tuple[float, list[str]]:
        """The shortest repeat: the plan's, or longer for the slowest sensor in the total, or
        for polled GPU power's minimum window (greenbench.polled_power)."""
        slowest = max((s.update_period_s for s in self.meter.sensors if self.meter.counted(s)),
                      default=0.0)
        needed = MIN_UPDATES_PER_WINDOW * slowest
        polled = mitigation(self.meter.sensors, self.meter.counted)
        if polled is not None and polled[0].min_window_s > max(needed, self.plan.min_repeat_s):
            return polled[0].min_window_s, [
                f"repeats lengthened to {polled[0].min_window_s:g} s for polled power on "
                f"{', '.join(polled[1])} (part-time readings, {CITATION})"]
        if needed > self.plan.min_repeat_s:
            return needed, [f"repeats lengthened to {needed:g} s for the slowest sensor"]
        return self.plan.min_repeat_s, []

    def settle_s(self) -> float:
        if self.plan.settle_s is not None:
            return self.plan.settle_s
        return max((s.settle_s for s in self.meter.sensors if self.meter.counted(s)),
                   default=0.0)

    def run(self, step: Step, on_phase: Hook = lambda name, i: None,
            before_repeat: Callable[[], None] = lambda: None,
            after_repeat: AfterRepeat = lambda m, steps, idle: None) -> Result:
        min_s, flags = self.min_repeat_s()
        rounds = Rounds(self)
        on_phase("warmup", 0)
        w = self.meter.begin("warmup")
        if self.plan.steps is None:
            steps, step_s = self.warm_up(step, min_s)
            steps = rounds.steps(steps)
        else:
            steps = self.plan.steps
            step_s = self.timed(step, steps) / steps
        warmup = self.meter.end(w)
        settle = self.settle_s()
        idle = None
        idle_s = min_s if self.plan.idle_s is None else self.plan.idle_s
        if idle_s > 0:
            on_phase("settle", 0)
            self.clock.sleep(settle)
            on_phase("idle", 0)
            idle = self.meter.idle(idle_s)
        repeats = []
        for i in range(self.plan.repeats):
            def before(number: int = i + 1) -> None:
                before_repeat()
                on_phase("repeat", number)

            m, done = rounds.measure(step, steps, step_s, min_s, f"repeat {i + 1}", before)
            repeats.append((m, done))
            after_repeat(m, done, idle)
        flags += rounds.flags(fixed_steps=self.plan.steps is not None)
        if idle is not None and (idle_w := idle.mean_power_w) is not None:
            powers = [p for m, _ in repeats if (p := m.mean_power_w) is not None]
            if powers and idle_w > statistics.median(powers):
                flags.append(f"idle baseline ({fmt_power(idle_w)}) above the repeats' power "
                             f"({fmt_power(statistics.median(powers))}): lengthen --idle or "
                             "the settle time")
        return Result(step_s, steps, warmup, idle, repeats, settle, flags)

    def calibrate(self, step: Step) -> tuple[int, float]:
        """(batch size, seconds per step): doubling, synced batches until one lasts
        BATCH_MIN_S or the warm-up limit passes."""
        start = self.clock.monotonic()
        batch = 1
        while True:
            elapsed = self.timed(step, batch)
            if self.agree(elapsed >= BATCH_MIN_S
                          or self.clock.monotonic() - start >= self.plan.warmup_s):
                return batch, elapsed / batch
            batch *= 2

    def warm_up(self, step: Step, min_s: float) -> tuple[int, float]:
        """Calibrate, then batches until stable or the limit; (steps per repeat, step s)."""
        start = self.clock.monotonic()
        batch, step_s = self.calibrate(step)
        per_step = [step_s]
        while self.agree(self.clock.monotonic() - start < self.plan.warmup_s or (
            len(per_step) < self.plan.min_warmup_batches
        )):
            per_step.append(self.timed(step, batch) / batch)
            recent = per_step[-STABLE_BATCHES:]
            mid = statistics.median(recent)
            if self.agree(len(recent) == STABLE_BATCHES
                          and len(per_step) >= self.plan.min_warmup_batches
                          and max(recent) - min(recent) <= STABLE_SPREAD * mid):
                break
        step_s = statistics.median(per_step[-STABLE_BATCHES:])
        # a hair under, so that float noise (0.5 / 0.010000001) does not add a step
        steps = max(1, math.ceil(min_s / step_s - 1e-9)) if step_s > 0 else batch
        agreed = self.agree([steps, step_s])
        return int(agreed[0]), float(agreed[1])  # type: ignore[index]

    def repeat(self, step: Step, steps: int, min_s: float, name: str
               ) -> tuple[Measurement, int]:
        """One measured repeat; (its measurement, the steps it ran)."""
        w = self.meter.begin(name)
        t0 = self.clock.monotonic()
        done = 0
        batch = steps
        try:
            while True:
                for _ in range(batch):
                    step()
                done += batch
                if self.plan.steps is not None:
                    break
                self.meter.sync()
                if self.agree(self.clock.monotonic() - t0 >= min_s * (1 - 1e-9)):
                    break
                batch = max(1, int(steps * TOP_UP_SHARE))
        finally:
            # close the window even when a step raises: an open window would stay in the meter
            m = self.meter.end(w)
        return m, done

    #: the random pauses before repeats on the polled-power path (a test may seed its own)
    rng = random.Random()

    def rise(self, step: Step, polled: PartTimeMitigation, step_s: float) -> None:
        """Before a repeat on polled power: a random pause (its sampled slices then fall at
        another phase of the work), then the rise time run and discarded. Its steps are agreed
        (rank 0's count in a job), so every rank runs as many."""
        self.clock.sleep(self.rng.uniform(0.0, polled.max_delay_s))
        n = max(1, math.ceil(polled.rise_s / step_s - 1e-9)) if step_s > 0 else 1
        self.timed(step, int(self.agree(n)))  # type: ignore[call-overload]

    def timed(self, step: Step, n: int) -> float:
        """Seconds for ``n`` steps, the device sync included."""
        t0 = self.clock.monotonic()
        for _ in range(n):
            step()
        self.meter.sync()
        return self.clock.monotonic() - t0


class Rounds:
    """What the protocol does around each measured repeat: on the polled-power path, a random
    pause and a discarded rise before it (greenbench.polled_power); around it, who else used
    a measured GPU (greenbench.gpu_share); after the last, the case flags both give, and the
    counter's cross-check against polled power. :meth:`Protocol.run` measures its repeats
    through it, and so does the pytest fixture, whose rounds make their own arguments."""

    def __init__(self, protocol: Protocol) -> None:
        meter = protocol.meter
        self.protocol = protocol
        self.polled = mitigation(meter.sensors, meter.counted)
        # In a job every rank acts on rank 0's mitigation (or none): a rank whose own GPU
        # reads otherwise still runs the same rise and step minimum, so that ranks running a
        # collective step never wait on each other. One process: its own.
        agreed: Any = protocol.agree(None if self.polled is None else self.polled[0].to_dict())
        self.acted_on = None if agreed is None else PartTimeMitigation(**agreed)
        self.watches = gpu_share.watches(meter.sensors, meter.counted, protocol.clock)
        self.uses: list[gpu_share.GpuUse] = []
        self.measurements: list[Measurement] = []

    def steps(self, calibrated: int) -> int:
        """Steps per repeat: the calibrated ones, at least the polled path's minimum."""
        policy = self.acted_on
        return calibrated if policy is None else max(calibrated, policy.min_steps)

    def measure(self, step: Step, steps: int, step_s: float, min_s: float, name: str,
                before: Callable[[], None] = lambda: None, rise_step: Step | None = None
                ) -> tuple[Measurement, int]:
        """One repeat (:meth:`Protocol.repeat`) with what goes around it; ``before`` runs
        after the rise, just before the window opens. The rise runs ``rise_step`` (default
        ``step``): a step whose arguments are made afresh for each call, so the repeat's own
        arguments are not used up before it."""
        if self.acted_on is not None:
            self.protocol.rise(rise_step or step, self.acted_on, step_s)
        before()
        since = [(watch, watch.begin()) for watch in self.watches]
        m, done = self.protocol.repeat(step, steps, min_s, name)
        self.uses += [u for watch, t in since if (u := watch.end(t, m)) is not None]
        self.measurements.append(m)
        return m, done

    def flags(self, fixed_steps: bool) -> list[str]:
        flags = [] if self.polled is None else [
            self.polled[0].describe(self.polled[1], fixed_steps)]
        flags += cross_check_flags(self.measurements, CROSS_CHECK_TOLERANCE)
        return flags + gpu_share.share_flags(self.uses, len(self.measurements))
