"""The ``energy_benchmark`` fixture: a function's energy per call, over calibrated rounds.

    def test_tokenize(energy_benchmark):
        tokens = energy_benchmark(tokenize, TEXT)          # returns tokenize(TEXT)

    @pytest.mark.greenbench(max_energy_j=2.0, units=512, unit="tokens")
    def test_generate(energy_benchmark):
        energy_benchmark.pedantic(generate, args=(prompt,), rounds=9, warmup_rounds=2)

How a benchmark runs:

1. **Calibration**: calls are timed in doubling batches until a batch lasts a quarter of the
   shortest round; the calls per round (``iterations``) are then chosen so that a round lasts
   at least ``min_time`` seconds *and* :data:`greenbench.meter.MIN_UPDATES_PER_WINDOW`
   updates of the slowest sensor in use (a round shorter than that reads mostly sensor
   granularity: 10 ms for the CPU estimate, 100 ms for NVML).
2. **Warm-up** rounds, not measured. The first one also re-checks the calibration: when it
   ran shorter than a round must, the calls per round go up.
3. **Rounds**: each round is one meter window around ``iterations`` calls (and a few more
   when the machine got faster since calibration and the round would otherwise end too soon
   for the sensors; not when ``iterations`` is given); its energy and time are divided by
   the calls, so every figure is *per call* (``energy_j`` in J per call,
   ``time_s`` in s per call, ``power_w`` the round's mean power in W, ``energy_per_unit_j``
   in J per unit). Rounds are the repeats the statistics and the gate work on.

Budgets (``max_energy_j=...`` and friends on the marker) are checked against the *median*
over the rounds; a budget exceeded fails the test with the measured value and the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from greenbench.pytest_energy.settings import BUDGETS, Measuring, check_keywords

if TYPE_CHECKING:
    from greenbench.pytest_energy.session import SessionMeter
    from greenbench.records import CaseRecord
    from greenbench.stats import Summary

#: calibration stops once a batch of calls lasts this share of the shortest round
CALIBRATION_SHARE = 0.25
#: a warm-up round shorter than this share of the shortest round re-calibrates
RECALIBRATE_BELOW = 0.9

ArgsMaker = Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]


class EnergyBenchmark:
    """Measures one function per test; see the module docstring.

    Set ``units`` (units per call: tokens, samples, queries) and ``unit`` (its name) before
    calling to get ``energy_per_unit_j``; ``pedantic(..., units=, unit=)`` does the same.
    After the call, ``case`` holds the record (every round) and :meth:`stats` a metric's
    summary; ``disabled`` is True under ``--greenbench-disable`` (the function then runs once,
    unmeasured).
    """

    def __init__(
        self,
        nodeid: str,
        measuring: Measuring,
        *,
        disabled: bool,
        meter: Callable[[], SessionMeter],
        record: Callable[[str, CaseRecord, list[str]], None],
    ) -> None:
        self.nodeid = nodeid
        self.disabled = disabled
        self.units: float = measuring.units
        self.unit: str = measuring.unit
        self.case: CaseRecord | None = None
        self._measuring = measuring
        self._meter = meter
        self._record = record
        self._used = False

    # -- the public calls ---------------------------------------------------------------------

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Measure ``fn(*args, **kwargs)``; returns the result of its last call."""
        return self._run(fn, lambda: (args, kwargs), None, {})

    def pedantic(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        setup: Callable[[], Any] | None = None,
        teardown: Callable[..., Any] | None = None,
        rounds: int | None = None,
        warmup_rounds: int | None = None,
        iterations: int | None = None,
        min_time: float | None = None,
        units: float | None = None,
        unit: str | None = None,
    ) -> Any:
        """Measure with full control.

        ``setup()`` runs before each round, outside the measured window; it may return
        ``(args, kwargs)`` for every call of that round. ``teardown(*args, **kwargs)`` runs
        after each round, also unmeasured. ``iterations`` fixes the calls per round (default:
        calibrated; 1 when there is a ``setup``). ``min_time`` is the shortest round in
        seconds; ``units``/``unit`` as the attributes of the same names.
        """
        overrides = check_keywords(
            {"rounds": rounds, "warmup_rounds": warmup_rounds, "iterations": iterations,
             "min_time": min_time, "units": units, "unit": unit},
            "energy_benchmark.pedantic",
        )
        if setup is not None and iterations is None:
            overrides["iterations"] = 1  # setup prepares one call's input, as in pytest-benchmark
        kwargs = dict(kwargs or {})

        def make_args() -> tuple[tuple[Any, ...], dict[str, Any]]:
            if setup is None:
                return args, kwargs
            made = setup()
            if made is None:
                return args, kwargs
            if args or kwargs:
                raise TypeError("energy_benchmark.pedantic: setup returned arguments, so "
                                "args/kwargs must not be given too")
            return tuple(made[0]), dict(made[1])

        return self._run(fn, make_args, teardown, overrides)

    def stats(self, metric: str = "energy_j") -> Summary:
        """The summary (median, 95% CI, CV) of a per-call metric over the rounds."""
        from greenbench.stats import Summary

        if self.case is None:
            raise RuntimeError("energy_benchmark has not measured anything yet")
        if metric not in self.case.summary:
            raise KeyError(f"no {metric!r} measured; have {', '.join(self.case.summary)}")
        return Summary.from_dict(self.case.summary[metric])

    # -- measuring ----------------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[..., Any],
        make_args: ArgsMaker,
        teardown: Callable[..., Any] | None,
        overrides: dict[str, Any],
    ) -> Any:
        if self._used:
            raise RuntimeError("energy_benchmark measures one function per test; it was "
                               "already used in this test")
        self._used = True
        attrs = check_keywords({"units": self.units, "unit": self.unit}, "energy_benchmark")
        m = self._measuring.merged({**attrs, **overrides})
        if self.disabled:
            args, kwargs = make_args()
            result = fn(*args, **kwargs)
            if teardown is not None:
                teardown(*args, **kwargs)
            return result
        return self._measure(fn, make_args, teardown, m)

    def _measure(
        self,
        fn: Callable[..., Any],
        make_args: ArgsMaker,
        teardown: Callable[..., Any] | None,
        m: Measuring,
    ) -> Any:
        from greenbench.pytest_energy import turns
        from greenbench.pytest_energy.results import case_identity
        from greenbench.records import CaseRecord, Repeat
        from greenbench.runner import summarize_case
        from greenbench.worker import per_step_metrics

        sensing = self._meter()
        meter = sensing.meter
        min_round_s = max(m.min_time_s, sensing.min_round_s)
        flags: list[str] = []
        if min_round_s > m.min_time_s:
            flags.append(f"rounds lengthened to {min_round_s:g} s for the slowest sensor")

        iterations = m.iterations
        call_s: float | None = None
        turns.begin(self.nodeid, "setup")  # under `greenbench gate`: one revision at a time
        if iterations is None:
            args, kwargs = make_args()
            iterations, call_s = calibrate(lambda: fn(*args, **kwargs), min_round_s)
            if teardown is not None:
                teardown(*args, **kwargs)

        for _ in range(m.warmup_rounds):
            args, kwargs = make_args()
            t0 = time.perf_counter()
            for _ in range(iterations):
                fn(*args, **kwargs)
            elapsed = time.perf_counter() - t0
            if teardown is not None:
                teardown(*args, **kwargs)
            call_s = elapsed / iterations
            if m.iterations is None and elapsed < RECALIBRATE_BELOW * min_round_s:
                # the calibration batches ran slower than steady state (first calls, or a
                # busier machine): take the warm-up round's own pace
                iterations = max(iterations + 1,
                                 math.ceil(iterations * min_round_s / max(elapsed, 1e-9)))

        turns.end()
        result: Any = None
        repeats = []
        warnings: list[str] = []
        extra = max(1, iterations // 4)
        for i in range(m.rounds):
            turns.begin(self.nodeid, f"round {i + 1}")
            args, kwargs = make_args()
            calls = 0
            window = meter.begin(f"round {i + 1}")
            try:
                t0 = time.perf_counter()
                batch = iterations
                while True:
                    for _ in range(batch):
                        result = fn(*args, **kwargs)
                    calls += batch
                    # a machine that got faster since calibration (another process stopped)
                    # would end the round too soon for the sensors: call on until it is long
                    # enough; the figures are per call, so rounds of unequal calls compare
                    if m.iterations is not None or time.perf_counter() - t0 >= min_round_s:
                        break
                    batch = extra
            finally:
                # close the window even when fn raises: an open window would stay in the meter
                measurement = meter.end(window)
            if teardown is not None:
                teardown(*args, **kwargs)
            turns.end()
            warnings += [w for w in measurement.warnings if w not in warnings]
            warnings += [w for d in measurement.domains for w in d.warnings
                         if w not in warnings]
            repeats.append(Repeat(
                steps=calls,
                units=calls * m.units,
                measurement=measurement.to_dict(),
                metrics=per_step_metrics(measurement, sensing.idle, calls, m.units,
                                         None, {}, []),
            ))

        workload, params = case_identity(self.nodeid)
        case = CaseRecord(
            workload=workload, params=params, status="ok", unit=m.unit,
            units_per_step=m.units, repeats=repeats,
            idle=sensing.idle.to_dict() if sensing.idle is not None else None,
            warmup={"rounds": m.warmup_rounds, "iterations": iterations, "call_s": call_s,
                    "min_round_s": min_round_s},
            flags=flags + [_shorten(w) for w in warnings[:3]],
        )
        summarize_case(case)
        self.case = case
        failures = budget_failures(_medians(case), m, estimate=sensing.estimate,
                                   basis=f"median of {m.rounds} rounds")
        self._record(self.nodeid, case, failures)
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        return result


def calibrate(call: Callable[[], Any], min_round_s: float) -> tuple[int, float]:
    """(calls per round, seconds per call): time doubling batches of ``call`` until one lasts
    :data:`CALIBRATION_SHARE` of ``min_round_s``, then size a round to ``min_round_s``."""
    batch = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        elapsed = time.perf_counter() - t0
        if elapsed >= CALIBRATION_SHARE * min_round_s or batch >= 2**40:
            break
        # jump close to the target rather than only doubling, but never more than 10x at
        # once: the first call is often the slowest (imports, caches), so it misleads
        guess = CALIBRATION_SHARE * min_round_s / max(elapsed, 1e-9) * batch
        batch = int(min(max(2 * batch, guess), 10 * batch))
    call_s = elapsed / batch
    if call_s <= 0:  # a clock that did not move: the batch itself is the best guess
        return batch, call_s
    return max(1, math.ceil(min_round_s / call_s)), call_s


def budget_failures(
    values: dict[str, float | None],
    m: Measuring,
    *,
    estimate: bool,
    basis: str,
) -> list[str]:
    """One line per budget exceeded: the measured value, the budget, how it was measured."""
    lines = []
    kind = "ESTIMATED" if estimate else "measured"
    for keyword, limit in m.budgets.items():
        key, what, unit, per = BUDGETS[keyword]
        value = values.get(key)
        per = per.format(unit=m.unit)
        if value is None:
            lines.append(f"greenbench budget not checked: no {what} was measured "
                         f"({keyword}={limit:g} {unit})")
        elif value > limit:
            lines.append(f"greenbench budget exceeded: {what} {value:.4g} {unit}{per} > "
                         f"{keyword}={limit:g} {unit} ({basis}, {kind})")
    return lines


def _medians(case: CaseRecord) -> dict[str, float | None]:
    return {key: (s.get("median") if (s := case.summary.get(key)) else None)
            for key, _, _, _ in BUDGETS.values()}


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
