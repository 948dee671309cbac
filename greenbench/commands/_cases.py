"""The table of a run's cases, shared by `greenbench run` and `greenbench results show`.

Sized for an 80-column terminal: a case is named by its workload and the parameters that vary
between that workload's cases; notes (errors, high CV) go under the table.
"""

from __future__ import annotations

from typing import Any

from greenbench.records import CaseRecord, RunRecord, case_names
from greenbench.stats import Summary


def print_cases(out: Any, record: RunRecord) -> None:
    """The cases at the console's width. A case's name wraps after its bracket or a comma,
    never inside a number; where the names would squeeze the figures, each name gets a line
    of its own with the case's figures under it."""
    from rich.markup import escape

    from greenbench.commands._width import Col, label_tokens, named_rows, print_lines
    from greenbench.results_format import case_is_estimate, median_interval
    from greenbench.units import fmt_energy, fmt_power, fmt_si

    if not record.cases:
        out.print("no cases stored")
        return
    title = f"run {record.id}: medians over repeats"
    if record.is_estimate:
        title += " — energy ESTIMATED (no sensor)"
    has_quality = any(k.startswith("quality:") for c in record.cases for k in c.summary)
    cols = [Col("throughput", right=True), Col("energy / unit [95% CI]", right=True),
            Col("net / unit", right=True), Col("power", right=True), Col("CV", right=True)]
    if has_quality:
        cols.append(Col("quality"))
    names = case_names(record.cases)
    notes = []
    for index, (case, name) in enumerate(zip(record.cases, names, strict=True)):
        if case.error:
            notes.append(f"{index}: {name}: {case.status}: {case.error}")
        notes.extend(f"{index}: {name}: {f}" for f in case.flags
                     if not f.startswith("estimate"))
        if case.status != "ok":
            cols[0].add([case.status], "yellow")
            for col in cols[1:]:
                col.add([""])
            continue
        epu = case.summary.get("energy_per_unit_j")
        energy = [fmt_energy(epu.median if epu else None)]
        low, high = median_interval("energy_per_unit_j", epu) if epu else (None, None)
        if low is not None:
            energy = [energy[0] + " ", f"[{fmt_energy(low)}, {fmt_energy(high)}]"]
        if case_is_estimate(case, record.is_estimate) and not record.is_estimate:
            energy[-1] += " "
            energy.append("(est.)")
        cols[0].add(_quantity(fmt_si(_median(case, "throughput_per_s"), f"{case.unit}/s")))
        cols[1].add(energy)
        net = _median(case, "net_energy_per_unit_j")
        below = net is not None and net < 0  # the idle baseline drew more: see the note
        cols[2].add([fmt_energy(net) + ("!" if below else "")], "yellow" if below else "")
        cols[3].add([fmt_power(_median(case, "power_w"))])
        cv, high_cv = _cv(epu)
        cols[4].add([cv], "yellow" if high_cv else "")
        if has_quality:
            cols[5].add([quality_text(case)])

    case_col = Col("case", give=1)
    for index, name in enumerate(names):
        case_col.add(label_tokens(f"{index}: {name}"))
    out.print(title)
    print_lines(out, named_rows(case_col, cols, out.width, rule="─"))
    for note in notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_footprints(out: Any, record: RunRecord) -> None:
    """Emissions per case and SCI per functional unit, when the run recorded carbon data."""
    from greenbench.commands._width import Col, label_tokens, print_table
    from greenbench.results_format import case_is_estimate
    from greenbench.units import fmt_energy, fmt_quantity, singular

    rows = [(i, name, c.footprint) for i, (c, name)
            in enumerate(zip(record.cases, case_names(record.cases), strict=True))
            if c.footprint]
    if not rows:
        return
    cols = [Col("case", give=1), Col("energy", right=True), Col("operational", right=True),
            Col("embodied", right=True), Col("SCI per unit", right=True)]
    for index, name, fp in rows:
        embodied = fp.get("embodied_g")
        sci = fp.get("sci_g_per_unit")
        estimate = case_is_estimate(record.cases[index], record.is_estimate)
        cols[0].add(label_tokens(f"{index}: {name}"))
        energy = fmt_energy(fp["energy_kwh"] * 3.6e6)
        cols[1].add([energy + " ", "ESTIMATE"] if estimate else [energy])
        cols[2].add([fmt_quantity(fp['operational_g'], "gCO2e")])
        cols[3].add(["not counted"] if embodied is None else [fmt_quantity(embodied, "gCO2e")])
        number, unit = fmt_quantity(sci, "gCO2e").partition(" ")[::2]
        cols[4].add(["-"] if sci is None else
                    [f"{number} ", f"{unit}/{singular(fp.get('unit') or 'unit')}"])
    out.print("carbon per case (measured repeats)")
    print_table(out, cols)


def _quantity(text: str) -> list[str]:
    """``1.2 k samples/s`` -> ``1.2 k ``, ``samples/s``: the number keeps its prefix."""
    number, _, unit = text.rpartition(" ")
    return [number + " ", unit] if number else [text]


def quality_text(case: CaseRecord) -> str:
    """The workload's main quality figure (or the first one it reports)."""
    figures = {k.removeprefix("quality:"): v.median for k, v in case.summary.items()
               if k.startswith("quality:")}
    if not figures:
        return "-"
    name = case.quality_metric if case.quality_metric in figures else next(iter(figures))
    return f"{name}={figures[name]:.3g}"


def _median(case: CaseRecord, metric: str) -> float | None:
    s = case.summary.get(metric)
    return None if s is None else s.median


def _cv(summary: Summary | None) -> tuple[str, bool]:
    """The CV as shown, and whether it is high."""
    cv = summary.cv if summary is not None else None
    if cv is None:
        return "-", False
    from greenbench.stats import HIGH_CV
    from greenbench.units import fmt_percent

    return fmt_percent(cv, HIGH_CV), bool(summary and summary.high_cv)
