"""The table of a run's cases, shared by `greenbench run` and `greenbench results show`.

Sized for an 80-column terminal: a case is named by its workload and the parameters that vary
between that workload's cases; notes (errors, high CV) go under the table.
"""

from __future__ import annotations

from typing import Any

from greenbench.records import CaseRecord, RunRecord, case_names


def print_cases(out: Any, record: RunRecord) -> None:
    from rich.markup import escape
    from rich.table import Table

    from greenbench.results_format import case_is_estimate, median_interval
    from greenbench.units import fmt_energy, fmt_power, fmt_si

    if not record.cases:
        out.print("no cases stored")
        return
    title = f"run {record.id}: medians over repeats"
    if record.is_estimate:
        title += " — energy ESTIMATED (no sensor)"
    table = Table(title=title, title_justify="left")
    has_quality = any(k.startswith("quality:") for c in record.cases for k in c.summary)
    columns = ["case", "throughput", "energy / unit [95% CI]", "net / unit", "power", "CV"]
    for col in columns + (["quality"] if has_quality else []):
        table.add_column(col, overflow="fold")
    notes = []
    for index, (case, name) in enumerate(zip(record.cases, case_names(record.cases),
                                             strict=True)):
        label = escape(f"{index}: {name}")
        if case.error:
            notes.append(f"{label}: {case.status}: {escape(case.error)}")
        notes.extend(f"{label}: {escape(f)}" for f in case.flags if not f.startswith("estimate"))
        if case.status != "ok":
            table.add_row(label, f"[yellow]{case.status}[/yellow]", *[""] * (len(columns) - 2))
            continue
        s = case.summary
        epu = s.get("energy_per_unit_j", {})
        ci = ""
        low, high = median_interval("energy_per_unit_j", epu)
        if low is not None:
            ci = f" [{fmt_energy(low)}, {fmt_energy(high)}]"
        mark = " (est.)" if case_is_estimate(case, record.is_estimate) and \
            not record.is_estimate else ""
        row = [
            label,
            fmt_si(_median(case, "throughput_per_s"), f"{case.unit}/s"),
            escape(f"{fmt_energy(epu.get('median'))}{ci}{mark}"),
            fmt_energy(_median(case, "net_energy_per_unit_j")),
            fmt_power(_median(case, "power_w")),
            _cv(epu),
        ]
        if has_quality:
            row.append(escape(quality_text(case)))
        table.add_row(*row)
    out.print(table)
    for note in notes:
        out.print(f"[yellow]note:[/yellow] {note}")


def print_footprints(out: Any, record: RunRecord) -> None:
    """Emissions per case and SCI per functional unit, when the run recorded carbon data."""
    from rich.markup import escape
    from rich.table import Table

    from greenbench.results_format import case_is_estimate
    from greenbench.units import singular

    rows = [(i, name, c.footprint) for i, (c, name)
            in enumerate(zip(record.cases, case_names(record.cases), strict=True))
            if c.footprint]
    if not rows:
        return
    table = Table(title="carbon per case (measured repeats)", title_justify="left")
    for col in ("case", "energy", "operational", "embodied", "SCI per unit"):
        table.add_column(col, overflow="fold")
    for index, name, fp in rows:
        embodied = fp.get("embodied_g")
        sci = fp.get("sci_g_per_unit")
        table.add_row(
            escape(f"{index}: {name}"),
            f"{fp['energy_kwh'] * 3.6e6:.3g} J"
            + (" ESTIMATE" if case_is_estimate(record.cases[index], record.is_estimate) else ""),
            f"{fp['operational_g']:.3g} gCO2e",
            "not counted" if embodied is None else f"{embodied:.3g} gCO2e",
            "-" if sci is None else f"{sci:.3g} gCO2e/{singular(fp.get('unit') or 'unit')}",
        )
    out.print(table)


def quality_text(case: CaseRecord) -> str:
    """The workload's main quality figure (or the first one it reports)."""
    figures = {k.removeprefix("quality:"): v["median"] for k, v in case.summary.items()
               if k.startswith("quality:")}
    if not figures:
        return "-"
    name = case.quality_metric if case.quality_metric in figures else next(iter(figures))
    return f"{name}={figures[name]:.3g}"


def _median(case: CaseRecord, metric: str) -> float | None:
    s = case.summary.get(metric)
    return None if s is None else s.get("median")


def _cv(summary: dict[str, Any]) -> str:
    cv = summary.get("cv")
    if cv is None:
        return "-"
    return f"[yellow]{cv:.0%}[/yellow]" if summary.get("high_cv") else f"{cv:.0%}"
