"""The ``energy_benchmark`` fixture: a function's energy per call, over calibrated rounds.

    def test_tokenize(energy_benchmark):
        tokens = energy_benchmark(tokenize, TEXT)          # returns tokenize(TEXT)

    @pytest.mark.greenbench(max_energy_j=2.0, units=512, unit="tokens")
    def test_generate(energy_benchmark):
        energy_benchmark.pedantic(generate, args=(prompt,), rounds=9, warmup_rounds=2)

How a benchmark runs: by :mod:`greenbench.protocol`, the runner's protocol too.

1. **Calibration and warm-up**: calls are timed in doubling batches (each closed by the device
   sync) and then in batches of that size until their per-call times agree, for at least
   ``warmup_rounds`` batches; the calls per round (``iterations``) are the shortest round
   over the *median* per-call time of the last batches. The shortest round is ``min_time``
   seconds and at least :data:`greenbench.meter.MIN_UPDATES_PER_WINDOW` updates of the
   slowest sensor in the total (10 ms for the CPU estimate, 100 ms for NVML).
2. **Rounds**: each round is one meter window around ``iterations`` calls, and a few more
   when the machine got faster and the round would otherwise end too soon for the sensors
   (not when ``iterations`` is given); every figure is *per call* (``energy_j`` in J per call,
   ``time_s`` in s per call, ``power_w`` the round's mean power in W, ``energy_per_unit_j``
   in J per unit). Rounds are the repeats the statistics and the gate work on.
3. **Attribution**: a benchmark is charged for the host's CPU (the CPU time of this process
   tree when estimated) and the GPUs of its device (``--greenbench-device`` or the marker's
   ``device``), never for other GPUs.

Budgets (``max_energy_j=...`` and friends on the marker) are checked against the *median*
over the rounds; a budget exceeded fails the test with the measured value and the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from greenbench.pytest_energy.settings import BUDGETS, Measuring, check_keywords

if TYPE_CHECKING:
    from greenbench.pytest_energy.session import SessionMeter
    from greenbench.records import CaseRecord
    from greenbench.stats import Summary


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
        if self.case is None:
            raise RuntimeError("energy_benchmark has not measured anything yet")
        if metric not in self.case.summary:
            raise KeyError(f"no {metric!r} measured; have {', '.join(self.case.summary)}")
        return self.case.summary[metric]

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
        from greenbench.protocol import Plan, Protocol, Rounds
        from greenbench.pytest_energy import turns
        from greenbench.pytest_energy.results import case_identity
        from greenbench.records import CaseRecord, Repeat, Warmup
        from greenbench.runner import summarize_case
        from greenbench.worker import per_step_metrics

        sensing = self._meter()
        meter = sensing.meter_for(m.device)
        plan = Plan(repeats=m.rounds, min_repeat_s=m.min_time_s,
                    warmup_s=m.warmup_rounds * m.min_time_s, steps=m.iterations,
                    min_warmup_batches=m.warmup_rounds)
        protocol = Protocol(meter, plan)
        min_round_s, flags = protocol.min_repeat_s()
        rounds = Rounds(protocol)
        call = _Call(fn)

        turns.begin(self.nodeid, "setup")  # under `greenbench gate`: one revision at a time
        if m.iterations is None:
            call.args, call.kwargs = make_args()
            iterations, step_s = protocol.warm_up(call, min_round_s)
            iterations = rounds.steps(iterations)
            call_s: float | None = step_s
            if teardown is not None:
                teardown(*call.args, **call.kwargs)
        else:
            iterations, spent = m.iterations, 0.0
            for _ in range(m.warmup_rounds):  # rounds as measured ones, unmeasured
                call.args, call.kwargs = make_args()
                spent += protocol.timed(call, iterations)
                if teardown is not None:
                    teardown(*call.args, **call.kwargs)
            call_s = spent / (iterations * m.warmup_rounds) if m.warmup_rounds else None
        turns.end()

        def fresh_call() -> None:  # a rise step (polled GPU power) with arguments of its own
            args, kwargs = make_args()
            fn(*args, **kwargs)
            if teardown is not None:
                teardown(*args, **kwargs)

        repeats = []
        warnings: list[str] = []
        for i in range(m.rounds):
            turns.begin(self.nodeid, f"round {i + 1}")
            call.args, call.kwargs = make_args()
            measurement, calls = rounds.measure(call, iterations, call_s or 0.0, min_round_s,
                                                f"round {i + 1}", rise_step=fresh_call)
            if teardown is not None:
                teardown(*call.args, **call.kwargs)
            turns.end()
            warnings += [w for w in measurement.warnings if w not in warnings]
            warnings += [w for d in measurement.domains for w in d.warnings
                         if w not in warnings]
            repeats.append(Repeat(
                steps=calls,
                units=calls * m.units,
                measurement=measurement,
                metrics=per_step_metrics(measurement, sensing.idle, calls, m.units,
                                         None, {}, []),
            ))

        workload, params = case_identity(self.nodeid)
        case = CaseRecord(
            workload=workload, params=params, status="ok", unit=m.unit,
            units_per_step=m.units, repeats=repeats,
            idle=sensing.idle,
            warmup=Warmup(step_s=call_s, steps_per_repeat=iterations, rounds=m.warmup_rounds,
                          min_repeat_s=min_round_s),
            flags=[f.replace("repeats", "rounds") for f in
                   flags + rounds.flags(fixed_steps=m.iterations is not None)]
            + [_shorten(w) for w in warnings[:3]],
        )
        summarize_case(case)
        self.case = case
        failures = budget_failures(_medians(case), m, estimate=sensing.estimate,
                                   basis=f"median of {m.rounds} rounds")
        self._record(self.nodeid, case, failures)
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
        return call.result


class _Call:
    """One call of the benchmarked function with the current round's arguments; keeps the
    last result to hand back to the test."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.result: Any = None

    def __call__(self) -> None:
        self.result = self.fn(*self.args, **self.kwargs)


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
    return {key: (s.median if (s := case.summary.get(key)) else None)
            for key, _, _, _ in BUDGETS.values()}


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
