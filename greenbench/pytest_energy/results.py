"""A session's energy benchmarks as a RunRecord, and their comparison with a baseline.

One case per test: ``workload`` is the test's node id without its parameter part
(``tests/test_x.py::test_sort``), ``params`` is ``{"id": "<parametrize id>"}`` for a
parametrized test and ``{}`` otherwise, so ``greenbench compare`` matches cases the way it
matches any two runs. Each round of a benchmark is one repeat, with per-call metrics
(``energy_j`` per call, ``time_s`` per call, ``power_w``, ``energy_per_unit_j``; see
greenbench.records), so baselines with different calibrated call counts compare directly.

The comparison itself is greenbench.run_compare's: the same matching, the same "not
comparable" reasons (another machine; estimated against measured energy) and the same
verdicts as the ``greenbench compare`` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenbench.records import CaseRecord, RunRecord

if TYPE_CHECKING:
    from greenbench.gate import Rule, Verdict
    from greenbench.run_compare import RunComparison


@dataclass
class Outcome:
    """What comparing with a baseline gave: a comparison, or why there was none."""

    baseline_path: Path | None
    comparison: RunComparison | None = None
    #: set when nothing could be compared at all (no baseline for this machine, bad file)
    reason: str | None = None
    #: node ids measured now that the baseline lacks
    new_cases: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[str, Verdict]]:
        """(case label, gate.Verdict) for every gated regression."""
        if self.comparison is None:
            return []
        return [(c.workload + _param_suffix(c.params), v)
                for c in self.comparison.cases for v in c.verdicts if v.regressed]

    @property
    def nothing_comparable(self) -> bool:
        from greenbench.gate import EXIT_NOTHING_COMPARABLE

        if self.comparison is None:
            return True
        return bool(self.comparison.exit_code == EXIT_NOTHING_COMPARABLE)


def case_identity(nodeid: str) -> tuple[str, dict[str, Any]]:
    """(workload, params) of a test: the node id split at its parametrize id."""
    if nodeid.endswith("]") and "[" in nodeid:
        base, _, param = nodeid[:-1].partition("[")
        return base, {"id": param}
    return nodeid, {}


def label(case: CaseRecord) -> str:
    """The test's node id again, for tables."""
    return case.workload + _param_suffix(case.params)


def build_run(
    cases: list[CaseRecord],
    sensors: list[dict[str, Any]],
    config: dict[str, Any],
    *,
    rootdir: Path,
    label: str | None,
    status: str,
    machine: dict[str, Any] | None = None,
) -> RunRecord:
    """The session as a run: this machine, the software, the sensors and every case."""
    from greenbench.machine import describe_machine, describe_software
    from greenbench.runner import new_run_id

    return RunRecord(
        id=new_run_id(),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        status=status,
        machine=machine or describe_machine(),
        software=describe_software(rootdir),
        config=config,
        sensors=sensors,
        cases=cases,
        label=label,
    )


def compare_with(
    baseline_path: Path | None,
    current: RunRecord,
    rules: tuple[Rule, ...],
    alpha: float,
    no_baseline_reason: str,
) -> Outcome:
    """Compare ``current`` with the baseline file (None: there is none, for that reason)."""
    from greenbench.errors import UserError
    from greenbench.results_format import read_document_file
    from greenbench.run_compare import compare_runs

    if baseline_path is None:
        return Outcome(None, reason=no_baseline_reason)
    try:
        baseline = read_document_file(baseline_path)
    except UserError as exc:
        return Outcome(baseline_path, reason=str(exc))
    comparison = compare_runs(baseline, current, rules=rules, alpha=alpha,
                              metrics=metrics_for(rules, current))
    outcome = Outcome(baseline_path, comparison)
    known = {(c.workload, _param_suffix(c.params)) for c in baseline.cases}
    outcome.new_cases = [label(c) for c in current.cases
                         if (c.workload, _param_suffix(c.params)) not in known]
    return outcome


def metrics_for(rules: tuple[Rule, ...], current: RunRecord) -> list[str]:
    """Result keys to compare: energy per call and time per call always, energy per unit
    when a benchmark counts units, power, and whatever the rules gate."""
    keys = ["energy_j", "time_s", "power_w"]
    if any(c.unit != "calls" for c in current.cases):
        keys.insert(1, "energy_per_unit_j")
    return list(dict.fromkeys([*keys, *(r.key for r in rules)]))


def _param_suffix(params: dict[str, Any]) -> str:
    return f"[{params['id']}]" if "id" in params else ""
