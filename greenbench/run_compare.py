"""Compare two runs case by case, and gate the result: what ``greenbench compare`` and the pytest
plugin both call.

Cases match by workload and parameters. For each matched case and metric, the per-repeat values
of both runs go through :func:`greenbench.stats.compare` and the verdict through
:mod:`greenbench.gate`.

Two runs are two sessions, and on a shared machine the drift between sessions dominates the
spread inside one: rounds of one session against rounds of another are not independent
samples of the same conditions, so that test's p-value is *within-session only* and every
verdict says so (:data:`WITHIN_SESSION`). Runs whose rounds were interleaved
(``greenbench gate``) are compared with ``test="wilcoxon"`` instead: repeat *i* of one run is
paired with repeat *i* of the other, and the paired log ratios are tested
(greenbench.paired), so the drift cancels.

A case is *not comparable* (and says why) when the runs come from different machines, when
one side's energy is an estimate and the other's measured (energy and power metrics only: time
comes from the clock either way), or when the case did not finish on both sides;
``allow_cross_machine`` / ``allow_estimates`` lift the first two.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench import gate
from greenbench.errors import UserError
from greenbench.records import CaseRecord, RunRecord, case_names
from greenbench.results_format import case_is_estimate, is_energy_metric

DEFAULT_METRICS = ("energy_per_unit_j", "energy_j", "time_s", "power_w")
"""Result keys compared when the caller names none."""

PAIRED_TEST = "wilcoxon"
WITHIN_SESSION = (
    "p within-session only: the rounds of two sessions are not independent samples, and the "
    "drift between sessions is not in this p-value; gate with `greenbench gate` (interleaved "
    "A/B) for a test that includes it")
"""The note every unpaired comparison of two runs carries."""


@dataclass
class CaseComparison:
    """One matched case: a verdict per rule and per compared metric.

    ``reason`` is set when the whole case is not comparable; ``estimate`` when either side's
    energy figures come from a power model.
    """

    workload: str
    params: dict[str, Any]
    label: str
    verdicts: list[gate.Verdict]
    reason: str | None = None
    estimate: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``compare --json``)."""
        return {
            "workload": self.workload, "params": self.params, "label": self.label,
            "comparable": self.reason is None, "reason": self.reason,
            "estimate": self.estimate, "verdicts": [_verdict_dict(v) for v in self.verdicts],
        }


@dataclass
class RunComparison:
    """The outcome of :func:`compare_runs`, with the exit code a gate should return."""

    baseline: RunRecord
    current: RunRecord
    alpha: float
    test: str
    rules: list[gate.Rule]
    metrics: list[str]
    cases: list[CaseComparison] = field(default_factory=list)
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_current: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> list[gate.Verdict]:
        """Every verdict of every case."""
        return [v for c in self.cases for v in c.verdicts]

    @property
    def exit_code(self) -> int:
        """1 on a gated regression, 3 when nothing that counts was comparable, else 0."""
        return gate.overall_exit_code(self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``compare --json``), with the exit code."""
        return {
            "baseline": _run_facts(self.baseline), "current": _run_facts(self.current),
            "alpha": self.alpha, "test": self.test, "rules": [r.text for r in self.rules],
            "metrics": self.metrics, "cases": [c.to_dict() for c in self.cases],
            "only_in_baseline": self.only_in_baseline, "only_in_current": self.only_in_current,
            "exit_code": self.exit_code,
        }


def metric_keys(names: Sequence[str], rules: Sequence[gate.Rule]) -> list[str]:
    """Result keys to compare: ``names`` (gate metric names or result keys; the defaults when
    empty) plus every metric a rule gates. Unknown names raise UserError."""
    keys: list[str] = []
    by_key = {key: name for name, (key, _) in gate.METRICS.items()}
    for name in names or DEFAULT_METRICS:
        key = gate.METRICS[name][0] if name in gate.METRICS else name
        if key not in by_key:
            accepted = ", ".join(f"{n} ({k})" for n, (k, _) in gate.METRICS.items())
            raise UserError(f"--metric {name}: unknown metric; use one of {accepted}")
        keys.append(key)
    keys += [r.key for r in rules]
    return list(dict.fromkeys(keys))  # de-duplicated, in order


def compare_runs(
    baseline: RunRecord,
    current: RunRecord,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    rules: Sequence[gate.Rule] = (),
    alpha: float = 0.05,
    test: str = "mann-whitney",
    allow_cross_machine: bool = False,
    allow_estimates: bool = False,
    more_baselines: Sequence[RunRecord] = (),
) -> RunComparison:
    """Compare ``current`` against ``baseline``, case by case (see the module docstring).

    ``more_baselines``: other sessions of the baseline's code. With them, a change is called
    only when the current session's median also falls outside the 95% prediction interval of
    a new session from the baseline sessions' medians (:func:`_between_sessions`): the spread
    between sessions, which no within-session p-value contains."""
    if not 0.0 < alpha < 1.0:
        raise UserError(f"--alpha {alpha}: use a number between 0 and 1 (0.05 is usual)")
    keys = list(dict.fromkeys([*metrics, *(r.key for r in rules)]))  # a gated metric is compared
    result = RunComparison(baseline, current, alpha, test, list(rules), keys)
    machine_reason = None
    if not allow_cross_machine and baseline.machine_key != current.machine_key:
        machine_reason = (
            f"different machines (baseline {_machine(baseline)}, current {_machine(current)}); "
            "pass --allow-cross-machine to compare anyway")
    pending: dict[tuple[str, str], list[tuple[CaseRecord, str]]] = {}
    for case, name in zip(current.cases, case_names(current.cases), strict=True):
        pending.setdefault(_case_key(case), []).append((case, name))
    for base_case, name in zip(baseline.cases, case_names(baseline.cases), strict=True):
        matches = pending.get(_case_key(base_case))
        if not matches:
            result.only_in_baseline.append(name)
            continue
        cur_case, _ = matches.pop(0)
        result.cases.append(_compare_case(result, base_case, cur_case, machine_reason,
                                          allow_estimates, name))
    result.only_in_current = [name for cases in pending.values() for _, name in cases]
    if more_baselines and test != PAIRED_TEST:
        sessions = [baseline, *more_baselines]
        for compared in result.cases:
            compared.verdicts = [_between_sessions(v, compared, sessions, current)
                                 for v in compared.verdicts]
    return result


def _between_sessions(verdict: gate.Verdict, case: CaseComparison,
                      sessions: Sequence[RunRecord], current: RunRecord) -> gate.Verdict:
    """``verdict`` checked against the spread between baseline sessions.

    The log medians of the case in k baseline sessions give a 95% prediction interval for one
    more session, ``mean +/- t(0.975, k-1) * s * sqrt(1 + 1/k)``; a regression or improvement
    whose current median lies inside it becomes *unchanged*, and every verdict says how wide
    the spread between sessions was."""
    from dataclasses import replace

    from greenbench.distributions import t_ppf

    if verdict.comparison is None or verdict.status == gate.NOT_COMPARABLE:
        return verdict
    logs = [math.log(m) for run in sessions
            if (m := _session_median(run, case, verdict.key)) is not None and m > 0]
    now = _session_median(current, case, verdict.key)
    if len(logs) < 2 or now is None or now <= 0:
        return verdict
    k = len(logs)
    centre = sum(logs) / k
    spread = math.sqrt(sum((x - centre) ** 2 for x in logs) / (k - 1))
    band = t_ppf(0.975, k - 1) * spread * math.sqrt(1 + 1 / k)
    inside = abs(math.log(now) - centre) <= band
    said = (f"between {k} baseline sessions: +/-{math.expm1(band):.1%} (95% prediction "
            f"interval of one more session), current {'inside' if inside else 'outside'}")
    comparison = replace(verdict.comparison, note="; ".join(
        n for n in (verdict.comparison.note, said) if n))
    if inside and verdict.status in (gate.REGRESSED, gate.IMPROVED):
        explanation = (verdict.explanation.rsplit(": ", 1)[0]
                       + f": unchanged (within the spread between sessions); {said}")
        return replace(verdict, status=gate.UNCHANGED, explanation=explanation,
                       comparison=comparison)
    return replace(verdict, explanation=f"{verdict.explanation}; {said}", comparison=comparison)


def _session_median(run: RunRecord, case: CaseComparison, key: str) -> float | None:
    for c in run.cases:
        if c.workload == case.workload and c.params == case.params and c.status == "ok":
            values = [x for x in c.values(key) if math.isfinite(x)]
            return statistics.median(values) if values else None
    return None


# --------------------------------------------------------------------------- one case


def _compare_case(
    result: RunComparison,
    base: CaseRecord,
    cur: CaseRecord,
    machine_reason: str | None,
    allow_estimates: bool,
    name: str,
) -> CaseComparison:
    base_est = case_is_estimate(base, result.baseline.is_estimate)
    cur_est = case_is_estimate(cur, result.current.is_estimate)
    out = CaseComparison(base.workload, base.params, name, [],
                         estimate=base_est or cur_est)
    out.reason = machine_reason or _status_reason(base, cur)
    if out.reason is not None:
        out.verdicts = _not_comparable(result, result.metrics, out.reason)
        return out
    energy_reason = None
    if base_est != cur_est and not allow_estimates:
        which = ("baseline is an ESTIMATE, current measured" if base_est
                 else "baseline measured, current is an ESTIMATE")
        energy_reason = f"{which}; pass --allow-estimates to compare anyway"
    comparisons: dict[str, Any] = {}
    for key in result.metrics:
        if energy_reason and is_energy_metric(key):
            continue
        comparisons[key] = _compare_values(base, cur, key, result)
    blocked = [k for k in result.metrics if k not in comparisons]
    gated_blocked = [r for r in result.rules if r.key in blocked]
    open_rules = [r for r in result.rules if r.key not in blocked]
    out.verdicts = gate.verdict_for(comparisons, open_rules, result.alpha)
    if energy_reason:
        out.verdicts += _not_comparable(result, blocked, energy_reason, gated_blocked)
    return out


def _compare_values(base_case: CaseRecord, cur_case: CaseRecord, key: str,
                    result: RunComparison) -> Any:
    from dataclasses import replace

    from greenbench.stats import compare

    if result.test == PAIRED_TEST:
        return _compare_paired(base_case, cur_case, key, result)
    raw_base, raw_cur = base_case.values(key), cur_case.values(key)
    base = [x for x in raw_base if math.isfinite(x)]
    cur = [x for x in raw_cur if math.isfinite(x)]
    if not base or not cur:
        return None
    comparison = compare(base, cur, result.alpha, test=result.test)  # type: ignore[arg-type]
    dropped = len(raw_base) - len(base) + len(raw_cur) - len(cur)
    notes = [comparison.note, WITHIN_SESSION, _replication_note(base_case, cur_case),
             f"{dropped} non-finite value(s) left out" if dropped else ""]
    return replace(comparison, note="; ".join(n for n in notes if n))


def _replication_note(base: CaseRecord, cur: CaseRecord) -> str:
    """How many worker processes the repeats came from: repeats of one process share its
    allocator, caches and clocks, so they are not independent samples."""
    counts = [len({r.process for r in c.repeats}) for c in (base, cur)]
    if min(counts) >= 2:
        return f"repeats from {counts[0]} and {counts[1]} worker processes"
    return ("repeats of one worker process per side are correlated: p overstates "
            "confidence (greenbench run --processes 3 replicates across processes)")


def _compare_paired(base_case: CaseRecord, cur_case: CaseRecord, key: str,
                    result: RunComparison) -> Any:
    """Repeat i against repeat i, for runs whose repeats were interleaved."""
    from greenbench.paired import paired_compare

    pairs = [(a, b) for ra, rb in zip(base_case.repeats, cur_case.repeats, strict=False)
             if (a := ra.metrics.get(key)) is not None and (b := rb.metrics.get(key)) is not None
             and math.isfinite(a) and math.isfinite(b)]
    if not pairs:
        return None
    return paired_compare([a for a, _ in pairs], [b for _, b in pairs], result.alpha)


def _status_reason(base: CaseRecord, cur: CaseRecord) -> str | None:
    for side, case in (("baseline", base), ("current", cur)):
        if case.status != "ok":
            detail = f": {case.error}" if case.error else ""
            return f"the case is {case.status} in the {side} run{detail}"
    return None


def _not_comparable(
    result: RunComparison,
    keys: Sequence[str],
    reason: str,
    rules: Sequence[gate.Rule] | None = None,
) -> list[gate.Verdict]:
    """A not-comparable verdict per rule on ``keys`` and per ungated metric of ``keys``."""
    rules = [r for r in result.rules if r.key in keys] if rules is None else list(rules)
    gated = {r.key for r in rules}
    name_of = {key: name for name, (key, _) in gate.METRICS.items()}
    verdicts = [gate.Verdict(r.metric, r.key, gate.NOT_COMPARABLE,
                             f"{r.metric}: not comparable: {reason}", r, None, reason)
                for r in rules]
    verdicts += [gate.Verdict(name_of.get(k, k), k, gate.NOT_COMPARABLE,
                              f"{name_of.get(k, k)}: not comparable: {reason}", None, None, reason)
                 for k in keys if k not in gated]
    return verdicts


# --------------------------------------------------------------------------- helpers


def _case_key(case: CaseRecord) -> tuple[str, str]:
    return case.workload, json.dumps(case.params, sort_keys=True, default=str)


def _machine(run: RunRecord) -> str:
    host = run.machine.get("hostname")
    return f"{host}, key {run.machine_key}" if host else f"key {run.machine_key}"


def _run_facts(run: RunRecord) -> dict[str, Any]:
    return {"id": run.id, "created_utc": run.created_utc, "label": run.label,
            "hostname": run.machine.get("hostname"), "machine_key": run.machine_key,
            "estimate": run.is_estimate}


def _verdict_dict(v: gate.Verdict) -> dict[str, Any]:
    return {
        "metric": v.metric, "key": v.key, "status": v.status, "gated": v.gated,
        "regressed": v.regressed, "rule": v.rule.text if v.rule else None,
        "explanation": v.explanation, "reason": v.reason,
        "comparison": v.comparison.to_dict() if v.comparison else None,
    }
