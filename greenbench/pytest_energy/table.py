"""The plain-text tables of the terminal summary (no rich: pytest owns the terminal), at the
terminal's width (greenbench.commands._width: cells wrap between whole tokens only).

Two tables: the measured benchmarks (median per call with its 95% interval), and, with
``--greenbench-compare``, every benchmark against the baseline: baseline and current medians,
their ratio with its bootstrap 95% interval, the p-value and the verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from greenbench.commands._width import Col, label_tokens, named_rows, plain
from greenbench.gate import METRICS, NOT_COMPARABLE
from greenbench.pytest_energy.results import Outcome, label
from greenbench.records import CaseRecord
from greenbench.stats import HIGH_CV, Summary
from greenbench.units import fmt_duration, fmt_energy, fmt_percent, fmt_power

_FORMAT = {"J": fmt_energy, "s": fmt_duration, "W": fmt_power}
_NAME_OF_KEY = {key: name for name, (key, _) in METRICS.items()}


def results_table(cases: Sequence[CaseRecord], width: int) -> list[str]:
    """One row per benchmark: energy per call (median, 95% CI), time, power, per unit."""
    name = Col("benchmark")
    cols = [Col(h, right=True) for h in ("energy/call", "95% CI", "CV", "time/call", "power",
                                         "per unit", "rounds x calls")]
    for case in cases:
        energy = case.summary.get("energy_j")
        per_unit = case.summary.get("energy_per_unit_j") if case.unit != "calls" else None
        calls = round(statistics.median(r.steps for r in case.repeats)) if case.repeats else 0
        name.add(label_tokens(label(case)))
        cells = [
            [fmt_energy(energy.median if energy else None)],
            _interval(energy, "J"),
            [_cv(energy)],
            [fmt_duration(_median(case, "time_s"))],
            [fmt_power(_median(case, "power_w"))],
            [f"{fmt_energy(per_unit.median)}/", case.unit] if per_unit else ["-"],
            [f"{len(case.repeats)} x ", str(calls)],
        ]
        for col, cell in zip(cols, cells, strict=True):
            col.add(cell)
    return plain(named_rows(name, cols, width, rule="-"))


def comparison_table(outcome: Outcome, shown: Sequence[str],
                     width: int) -> tuple[list[str], list[str]]:
    """(table lines, note lines) for a comparison; ``shown`` are the result keys to show."""
    comparison = outcome.comparison
    if comparison is None:
        return [], []
    name = Col("benchmark")
    cols = [Col("metric"), *(Col(h, right=True) for h in ("baseline", "current", "ratio",
                                                         "95% CI", "p")),
            Col("verdict", give=1)]

    def add(benchmark: str, cells: Sequence[Sequence[str]]) -> None:
        name.add(label_tokens(benchmark))
        for col, cell in zip(cols, cells, strict=True):
            col.add(cell)

    notes: dict[str, list[str]] = {}
    base_cases = {label(c): c for c in comparison.baseline.cases}
    cur_cases = {label(c): c for c in comparison.current.cases}
    for case in comparison.cases:
        benchmark = case.workload + (f"[{case.params['id']}]" if "id" in case.params else "")
        verdicts = {v.key: v for v in case.verdicts}
        for key in shown:
            v = verdicts.get(key)
            if v is None:
                continue
            unit = METRICS.get(_NAME_OF_KEY.get(key, ""), ("", ""))[1]
            c = v.comparison
            verdict = [f"{v.status} ", f"[{v.rule.text}]"] if v.rule is not None else [v.status]
            if c is None:
                base = _format(_median(base_cases.get(benchmark), key), unit)
                cur = _format(_median(cur_cases.get(benchmark), key), unit)
                add(benchmark, [[v.metric], [base], [cur], ["-"], ["-"], ["-"], verdict])
            else:
                add(benchmark, [
                    [v.metric], [_format(c.baseline.median, unit)],
                    [_format(c.current.median, unit)],
                    ["-" if c.ratio is None else f"{c.ratio:.3f}"],
                    _ratio_interval(c),
                    ["-" if c.p_value is None else f"{c.p_value:.2g}"],
                    verdict,
                ])
            note = v.reason if v.status == NOT_COMPARABLE else None
            if note:
                notes.setdefault(note, []).append(benchmark)
    for benchmark in outcome.new_cases:
        key = shown[0]
        unit = METRICS.get(_NAME_OF_KEY.get(key, ""), ("", ""))[1]
        add(benchmark, [[_NAME_OF_KEY.get(key, key)], ["-"],
                        [_format(_median(cur_cases.get(benchmark), key), unit)], ["-"], ["-"],
                        ["-"], [NOT_COMPARABLE]])
        notes.setdefault("not in the baseline (new benchmark)", []).append(benchmark)
    lines = plain(named_rows(name, cols, width, rule="-"))
    note_lines = [f"not comparable: {', '.join(dict.fromkeys(names))}: {reason}"
                  for reason, names in notes.items()]
    return lines, note_lines


# --------------------------------------------------------------------------- helpers


def _median(case: CaseRecord | None, key: str) -> float | None:
    if case is None:
        return None
    s = case.summary.get(key)
    return s.median if s else None


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    formatter = _FORMAT.get(unit)
    return formatter(value) if formatter else f"{value:.4g}"


def _interval(summary: Summary | None, unit: str) -> list[str]:
    if summary is None or summary.ci_low is None or summary.ci_high is None:
        return ["-"]
    return [f"{_format(summary.ci_low, unit)} - ", _format(summary.ci_high, unit)]


def _ratio_interval(c: Any) -> list[str]:
    if c.ratio_ci_low is None or c.ratio_ci_high is None:
        return ["-"]
    return [f"{c.ratio_ci_low:.3f} - ", f"{c.ratio_ci_high:.3f}"]


def _cv(summary: Summary | None) -> str:
    if summary is None or summary.cv is None:
        return "-"
    return fmt_percent(summary.cv, HIGH_CV) + ("!" if summary.high_cv else "")
