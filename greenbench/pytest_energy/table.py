"""The plain-text tables of the terminal summary (no rich: pytest owns the terminal).

Two tables: the measured benchmarks (median per call with its 95% interval), and, with
``--greenbench-compare``, every benchmark against the baseline: baseline and current medians,
their ratio with its bootstrap 95% interval, the p-value and the verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from greenbench.gate import METRICS, NOT_COMPARABLE
from greenbench.pytest_energy.results import Outcome, label
from greenbench.records import CaseRecord
from greenbench.units import fmt_duration, fmt_energy, fmt_power

_FORMAT = {"J": fmt_energy, "s": fmt_duration, "W": fmt_power}
_NAME_OF_KEY = {key: name for name, (key, _) in METRICS.items()}


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; ``right`` are right-aligned column indexes."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def results_table(cases: Sequence[CaseRecord]) -> list[str]:
    """One row per benchmark: energy per call (median, 95% CI), time, power, per unit."""
    rows = []
    for case in cases:
        energy = case.summary.get("energy_j", {})
        per_unit = case.summary.get("energy_per_unit_j") if case.unit != "calls" else None
        calls = round(statistics.median(r.steps for r in case.repeats)) if case.repeats else 0
        rows.append([
            label(case),
            fmt_energy(energy.get("median")),
            _interval(energy, "J"),
            _cv(energy),
            fmt_duration(_median(case, "time_s")),
            fmt_power(_median(case, "power_w")),
            f"{fmt_energy(per_unit.get('median'))}/{case.unit}" if per_unit else "-",
            f"{len(case.repeats)} x {calls}",
        ])
    headers = ["benchmark", "energy/call", "95% CI", "CV", "time/call", "power", "per unit",
               "rounds x calls"]
    return render(headers, rows, right={1, 2, 3, 4, 5, 6, 7})


def comparison_table(outcome: Outcome, shown: Sequence[str]) -> tuple[list[str], list[str]]:
    """(table lines, note lines) for a comparison; ``shown`` are the result keys to show."""
    comparison = outcome.comparison
    if comparison is None:
        return [], []
    rows: list[list[str]] = []
    notes: dict[str, list[str]] = {}
    base_cases = {label(c): c for c in comparison.baseline.cases}
    cur_cases = {label(c): c for c in comparison.current.cases}
    for case in comparison.cases:
        name = case.workload + (f"[{case.params['id']}]" if "id" in case.params else "")
        verdicts = {v.key: v for v in case.verdicts}
        for key in shown:
            v = verdicts.get(key)
            if v is None:
                continue
            unit = METRICS.get(_NAME_OF_KEY.get(key, ""), ("", ""))[1]
            c = v.comparison
            verdict = v.status + (f" [{v.rule.text}]" if v.rule is not None else "")
            if c is None:
                base = _format(_median(base_cases.get(name), key), unit)
                cur = _format(_median(cur_cases.get(name), key), unit)
                rows.append([name, v.metric, base, cur, "-", "-", "-", verdict])
            else:
                rows.append([
                    name, v.metric, _format(c.baseline.median, unit),
                    _format(c.current.median, unit),
                    "-" if c.ratio is None else f"{c.ratio:.3f}",
                    _ratio_interval(c),
                    "-" if c.p_value is None else f"{c.p_value:.2g}",
                    verdict,
                ])
            note = v.reason if v.status == NOT_COMPARABLE else None
            if note:
                notes.setdefault(note, []).append(name)
    for name in outcome.new_cases:
        key = shown[0]
        unit = METRICS.get(_NAME_OF_KEY.get(key, ""), ("", ""))[1]
        rows.append([name, _NAME_OF_KEY.get(key, key), "-",
                     _format(_median(cur_cases.get(name), key), unit), "-", "-", "-",
                     NOT_COMPARABLE])
        notes.setdefault("not in the baseline (new benchmark)", []).append(name)
    headers = ["benchmark", "metric", "baseline", "current", "ratio", "95% CI", "p", "verdict"]
    lines = render(headers, rows, right={2, 3, 4, 5, 6})
    note_lines = [f"not comparable: {', '.join(dict.fromkeys(names))}: {reason}"
                  for reason, names in notes.items()]
    return lines, note_lines


# --------------------------------------------------------------------------- helpers


def _median(case: CaseRecord | None, key: str) -> float | None:
    if case is None:
        return None
    s = case.summary.get(key)
    return s.get("median") if s else None


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    formatter = _FORMAT.get(unit)
    return formatter(value) if formatter else f"{value:.4g}"


def _interval(summary: dict[str, Any], unit: str) -> str:
    low, high = summary.get("ci_low"), summary.get("ci_high")
    if low is None or high is None:
        return "-"
    return f"{_format(low, unit)} - {_format(high, unit)}"


def _ratio_interval(c: Any) -> str:
    if c.ratio_ci_low is None or c.ratio_ci_high is None:
        return "-"
    return f"{c.ratio_ci_low:.3f} - {c.ratio_ci_high:.3f}"


def _cv(summary: dict[str, Any]) -> str:
    cv = summary.get("cv")
    if cv is None:
        return "-"
    return f"{cv:.0%}" + ("!" if summary.get("high_cv") else "")
