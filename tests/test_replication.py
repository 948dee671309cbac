"""The unit of replication: a case's repeats spread over worker processes, and compare says
which it had."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.records import CaseRecord, Repeat, RunRecord
from greenbench.run_compare import compare_runs
from greenbench.runner import CaseSpec, RunConfig, _spread, run_case
from tests.factories import window

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")
FAST = dict(min_duration_s=0.1, warmup_s=0.1, idle_s=0.0, interval_s=0.02,
            workload_files=[FILE])


def test_repeats_are_spread_as_evenly_as_they_go() -> None:
    assert _spread(7, 3) == [3, 2, 2]
    assert _spread(6, 1) == [6]
    assert _spread(2, 5) == [1, 1]


def test_processes_are_checked_against_the_repeats() -> None:
    with pytest.raises(UserError, match="--processes 4"):
        RunConfig(repeats=3, processes=4).check()


def test_a_case_over_three_processes_records_each_repeats_process() -> None:
    pids: set[int] = set()
    case = run_case(CaseSpec("spin", {"n": 2000, "mode": "sum"}),
                    RunConfig(repeats=5, processes=3, **FAST),
                    lambda e: pids.add(e.get("pid", 0)))
    assert case.status == "ok", case.error
    assert [r.process for r in case.repeats] == [0, 0, 1, 1, 2]
    assert all(r.metrics["energy_j"] for r in case.repeats)


def _case(values: list[float], processes: int) -> CaseRecord:
    repeats = [Repeat(steps=1, units=1, measurement=window("repeat", 1.0, v, "estimate"),
                      metrics={"energy_per_unit_j": v}, process=i % processes)
               for i, v in enumerate(values)]
    return CaseRecord("w", {}, "ok", repeats=repeats)


def _run(case: CaseRecord, run_id: str) -> RunRecord:
    return RunRecord(run_id, "2026-12-01T00:00:00+00:00", "complete", {"key": "m"}, {}, {},
                     [{"kind": "estimate"}], cases=[case])


@pytest.mark.parametrize(("processes", "fragment"), [
    (1, "repeats of one worker process per side are correlated"),
    (3, "repeats from 3 and 3 worker processes"),
])
def test_compare_says_what_its_repeats_were_replicated_over(processes: int,
                                                            fragment: str) -> None:
    base = _run(_case([1.0, 1.1, 0.9, 1.0, 1.05, 0.95], processes), "a")
    cur = _run(_case([2.0, 2.1, 1.9, 2.0, 2.05, 1.95], processes), "b")
    result = compare_runs(base, cur, allow_estimates=True)
    notes = " ".join(v.comparison.note or "" for v in result.verdicts if v.comparison)
    assert fragment in notes


def test_compare_says_how_many_non_finite_values_it_left_out() -> None:
    base = _run(_case([1.0, 1.1, 0.9, 1.0, 1.05, 0.95], 1), "a")
    cur = _run(_case([2.0, float("nan"), 1.9, float("inf"), 2.05, 1.95], 1), "b")
    result = compare_runs(base, cur, allow_estimates=True)
    notes = [v.comparison.note or "" for v in result.verdicts if v.comparison]
    assert any("2 non-finite value(s) left out" in n for n in notes)
