"""Quality figures that cannot change between repeats are computed once per case."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenbench.runner import CaseSpec, RunConfig, run_case

WORKLOADS = '''
from pathlib import Path

from greenbench import Param, Workload

CALLS = Path({calls!r})


class Scored(Workload):
    name = "scored"
    quality_metric = "error"
    params = (Param("fixed", int, 1),)

    def step(self, state):
        sum(range(2000))

    def quality(self, state):
        with CALLS.open("a") as f:
            f.write("x")
        return {{"error": 0.25}}

    def quality_changes(self, params):
        return not params["fixed"]


SCORED = Scored()
'''


@pytest.mark.parametrize(("fixed", "calls"), [(1, 1), (0, 3)])
def test_quality_is_asked_once_when_it_cannot_change(tmp_path: Path, fixed: int,
                                                     calls: int) -> None:
    counter = tmp_path / "calls"
    counter.write_text("")
    source = tmp_path / "scored.py"
    source.write_text(WORKLOADS.format(calls=str(counter)))
    config = RunConfig(repeats=3, min_duration_s=0.05, warmup_s=0.05, idle_s=0.0,
                       interval_s=0.02, workload_files=[str(source)])
    case = run_case(CaseSpec("scored", {"fixed": fixed}), config)
    assert case.status == "ok", case.error
    assert len(counter.read_text()) == calls
    assert [r.quality for r in case.repeats] == [{"error": 0.25}] * 3
