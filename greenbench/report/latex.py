"""A booktabs table of the main results, sized for a paper, as a LaTeX fragment to ``\\input``.

Needs ``\\usepackage{booktabs}`` and ``\\usepackage{tabularx}`` (both in every TeX
distribution). The table is exactly ``\\linewidth`` wide: one column of a two-column article,
the text width of a one-column one. Nothing is scaled (no ``\\resizebox``: the text stays the
size of the document's footnotes); instead the case column wraps, and the numeric columns
are chosen, by the width of the widest figure each holds, to fit the narrowest standard
column (:data:`NARROWEST_PT`, a two-column A4 article) with room left for the case names.
A column left out for width is named under the table.

Cases are named by the parameters that vary among their workload's cases, in the order the
workload declares them: values alone under a header naming the parameters when the table
holds one workload, ``name=value`` after the workload's name when it holds several. Each
numeric column has one unit, with the SI prefix chosen for that column, in its header (the
energy columns share one header: ``Energy per token (µJ)``); estimated figures carry a
dagger explained under the table. Every piece of text from the results is escaped, so
parameter names such as ``seq_len`` or values such as ``50%`` cannot break the document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from greenbench import __version__
from greenbench.plots.data import CaseRef, Names, keys_label, si_scale
from greenbench.records import RunRecord
from greenbench.report.numbers import sig
from greenbench.units import singular

_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "µ": r"\ensuremath{\mu}",
}
DAGGER = r"\textsuperscript{\dag}"

#: ``\columnwidth`` of ``\documentclass[twocolumn,a4paper]{article}`` (letter paper: 229.5)
NARROWEST_PT = 221.0
#: the case column is never narrower than this (about 14 characters)
MIN_CASE_PT = 62.0
#: space between columns (each side); the outer edges have none
TABCOLSEP_PT = 4.0
# Character widths in \footnotesize (8 pt Computer Modern, as pdflatex sets it), for
# estimating a column's width; anything not listed counts as the widest capital. A margin
# covers kerning and rounding.
_WIDTHS_PT = {
    2.36: "il.,;:[]'!", 2.6: "fj", 2.83: "- ", 3.06: "I_", 3.31: "rt()", 3.35: "s",
    3.78: "cez", 4.01: "?", 4.25: "ago0123456789/*", 4.36: "J", 4.49: "kqvxy",
    4.72: "bdhnpuS", 5.19: "Z", 5.31: "L", 5.54: "F", 5.78: "EP", 6.02: "B", 6.14: "wCT",
    6.25: "R", 6.37: "AHNUVXY", 6.49: "D", 6.61: "KOQ=+G", 7.08: "m%", 7.78: "M",
}
_CHAR_PT = {c: w for w, chars in _WIDTHS_PT.items() for c in chars}
_UNKNOWN_PT = 8.73
_DAGGER_PT = 3.8
_MARGIN = 1.04


def escape(text: str) -> str:
    """``seq_len=50%`` -> ``seq\\_len=50\\%``: text that LaTeX prints as written."""
    return "".join(_ESCAPES.get(c, c) for c in text)


@dataclass(frozen=True)
class _Column:
    """A numeric column: its header (both lines), how a case fills it, and what it is called
    when it has to be left out."""

    name: str
    top: str  # first header line ("" under the energy columns' shared header)
    bottom: str
    cell: Callable[[CaseRef], str]
    energy: bool = False


def latex_table(runs: Sequence[RunRecord], *, label: str = "tab:greenbench",
                caption: str | None = None) -> str:
    """The finished cases of ``runs`` with their main figures, as a ``table`` environment."""
    refs = [CaseRef(run, i) for run in runs for i, c in enumerate(run.cases)
            if c.status == "ok" and "energy_per_unit_j" in c.summary]
    names = Names(refs)
    many_runs = len(runs) > 1
    columns, left_out, energy_header = _columns(refs)
    mixed_units = len({r.case.unit for r in refs}) > 1

    n_all = {s.n for r in refs if (s := r.stat("energy_per_unit_j")) is not None}
    spec = r"@{}>{\raggedright\arraybackslash}X" + "r" * len(columns) + "@{}"
    n_energy = sum(1 for c in columns if c.energy)
    top = [""] + ([rf"\multicolumn{{{n_energy}}}{{c}}{{{energy_header}}}"]
                  + [c.top for c in columns if not c.energy])
    bottom = [_case_header(refs, names)] + [c.bottom for c in columns]
    lines = [
        f"% greenbench {__version__}: results of run(s) {escape(', '.join(r.id for r in runs))}",
        r"% Needs \usepackage{booktabs} and \usepackage{tabularx} in the preamble.",
        r"\begin{table}[tbp]",
        r"\centering",
        r"\footnotesize",
        rf"\setlength{{\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
        rf"\caption{{{caption if caption is not None else _caption(n_all)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabularx}}{{\linewidth}}{{{spec}}}",
        r"\toprule",
        " & ".join(top) + r" \\",
        rf"\cmidrule(lr){{2-{1 + n_energy}}}",
        " & ".join(bottom) + r" \\",
        r"\midrule",
    ]
    width = 1 + len(columns)
    previous: CaseRef | None = None
    for ref in refs:
        new_run = previous is None or ref.run is not previous.run
        if many_runs and new_run:
            if previous is not None:
                lines.append(r"\midrule")
            lines.append(_group_row(width, rf"\textbf{{{escape(ref.run.label or ref.run.id)}}}"))
        if names.mixed and (previous is None or new_run
                            or ref.case.workload != previous.case.workload):
            lines.append(_group_row(width, _workload_heading(ref, names, mixed_units)))
        previous = ref
        lines.append(" & ".join([_case_cell(ref, names)] + [c.cell(ref) for c in columns])
                     + r" \\")
    if not refs:
        lines.append(rf"\multicolumn{{{1 + len(columns)}}}{{@{{}}l}}{{no finished case}} \\")
    lines += [r"\bottomrule", r"\end{tabularx}"]
    notes = []
    if any(r.estimate for r in refs):
        notes.append(DAGGER + r" Estimated with a power model for some domains, not measured.")
    if left_out:
        notes.append("Left out to fit the column: " + ", ".join(left_out)
                     + " (in greenbench report).")
    if notes:
        lines.append(r"\par\smallskip{\footnotesize " + " ".join(notes) + r"\par}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def _columns(refs: Sequence[CaseRef]) -> tuple[list[_Column], list[str], str]:
    """(the numeric columns that fit, the names of those left out, the energy header)."""
    energy_f, energy_u = si_scale([_median(r, "energy_per_unit_j") for r in refs], "J")
    time_f, time_u = si_scale([_median(r, "time_s") for r in refs], "s")
    units = {singular(r.case.unit) for r in refs}
    per = f"per {units.pop()}" if len(units) == 1 else "per unit"  # cases name their unit
    energy_header = f"Energy {escape(per)} ({escape(energy_u)})"

    def energy(metric: str) -> Callable[[CaseRef], str]:
        return lambda r: _num(_median(r, metric), energy_f) + (DAGGER if r.estimate else "")

    def interval(r: CaseRef) -> str:
        s = r.stat("energy_per_unit_j")
        if s is None or s.low is None or s.high is None:
            return "--"
        return f"{sig(s.low * energy_f)}--{sig(s.high * energy_f)}"

    required = [_Column("energy", "", "median", energy("energy_per_unit_j"), True),
                _Column("95% CI", "", r"95\% CI", interval, True)]
    optional = [_Column("net energy", "", "net", energy("net_energy_per_unit_j"), True),
                _Column("time per step", "Time/step", f"({escape(time_u)})",
                        lambda r: _num(_median(r, "time_s"), time_f))]
    if len({s.n for r in refs if (s := r.stat("energy_per_unit_j")) is not None}) > 1:
        optional.insert(0, _Column("repeats", "", "$n$", _repeats))
    quality = _quality_column(refs)
    if quality is not None:
        optional.append(quality)
    chosen = list(required)
    left_out = []
    for column in optional:
        if _fixed_pt([*chosen, column], refs, energy_header) + MIN_CASE_PT <= NARROWEST_PT:
            chosen.append(column)
        else:
            left_out.append(column.name)
    # energy columns first (they share a header), then the rest in priority order
    chosen.sort(key=lambda c: not c.energy)
    return chosen, left_out, energy_header


def _quality_column(refs: Sequence[CaseRef]) -> _Column | None:
    metrics = list(dict.fromkeys(r.case.quality_metric for r in refs if r.case.quality_metric))
    if not metrics:
        return None

    def value(r: CaseRef) -> str:
        name = r.case.quality_metric
        s = r.stat(f"quality:{name}") if name else None
        if s is None:
            return "--"
        return sig(s.median) if len(metrics) == 1 else escape(f"{name} {sig(s.median)}")

    if len(metrics) == 1:
        higher = next(r.case.quality_higher_is_better for r in refs
                      if r.case.quality_metric == metrics[0])
        arrow = r"$\uparrow$" if higher else r"$\downarrow$"
        return _Column("quality", "Quality", f"{escape(metrics[0])} {arrow}", value)
    return _Column("quality", "Quality", "", value)


def _fixed_pt(columns: Sequence[_Column], refs: Sequence[CaseRef], energy_header: str) -> float:
    """The width the numeric columns take, from the widest entry of each (header lines
    included, and the energy columns' shared header), with the space between columns."""
    widths = [max([_width_pt(c.top), _width_pt(c.bottom)]
                  + [_width_pt(c.cell(r)) for r in refs]) + 2 * TABCOLSEP_PT
              for c in columns]
    energy = sum(w for w, c in zip(widths, columns, strict=True) if c.energy)
    others = sum(w for w, c in zip(widths, columns, strict=True) if not c.energy)
    # a shared header wider than its columns widens them; the last column has no outer space
    return max(energy, _width_pt(energy_header) + 2 * TABCOLSEP_PT) + others - TABCOLSEP_PT


def _width_pt(latex: str) -> float:
    """A generous estimate of the printed width of a cell's LaTeX, in \\footnotesize."""
    import re

    width = latex.count(r"\dag") * _DAGGER_PT
    text = re.sub(r"\\textsuperscript\{\\dag\}", "", latex)
    text = re.sub(r"\\(ensuremath\{\\mu\}|uparrow|downarrow)", "O", text)
    text = re.sub(r"\\multicolumn\{\d+\}\{[^}]*\}", "", text)
    text = re.sub(r"\\[a-zA-Z]+|[{}$]", "", text).replace("\\", "").replace("--", "-")
    return _MARGIN * (width + sum(_CHAR_PT.get(c, _UNKNOWN_PT) for c in text))


def _case_cell(ref: CaseRef, names: Names) -> str:
    """The values of the parameters that vary among the case's workload's cases (the header,
    or the workload's heading row, names them); the workload when none varies."""
    values = [str(ref.case.params[k]) for k in _declared(ref, names)]
    return escape(", ".join(values)) if values else (
        "--" if names.mixed else escape(ref.case.workload))


def _case_header(refs: Sequence[CaseRef], names: Names) -> str:
    if names.mixed or not refs:
        return "Case"
    keys = list(dict.fromkeys(k for r in refs for k in _declared(r, names)))
    return escape(keys_label(refs, keys)) if keys else "Case"


def _workload_heading(ref: CaseRef, names: Names, mixed_units: bool) -> str:
    """The heading over a workload's rows: its name, its unit of work when the workloads
    count different ones, and the parameters its rows give the values of."""
    declared = [k for k in ref.case.params if k in names.varying.get(ref.case.workload, [])]
    unit = f" (per {escape(singular(ref.case.unit))})" if mixed_units else ""
    return (rf"\textit{{{escape(ref.case.workload)}}}{unit}"
            + (": " + escape(", ".join(declared)) if declared else ""))


def _group_row(columns: int, text: str) -> str:
    """A row across the whole table that wraps within it (a run's or a workload's name)."""
    return (rf"\multicolumn{{{columns}}}{{@{{}}>{{\raggedright\arraybackslash}}"
            rf"p{{\linewidth}}@{{}}}}{{{text}}} \\")


def _declared(ref: CaseRef, names: Names) -> list[str]:
    """The parameters that vary among the cases of ``ref``'s workload, in declared order."""
    varying = set(names.varying.get(ref.case.workload, []))
    return [k for k, v in ref.case.params.items() if k in varying and v is not None]


def _repeats(ref: CaseRef) -> str:
    s = ref.stat("energy_per_unit_j")
    return "--" if s is None else str(s.n)


def _caption(n: set[int]) -> str:
    repeats = f" ({next(iter(n))} repeats per case)" if len(n) == 1 else ""
    return (r"Energy per unit of work: median over repeats" + repeats + r" with the 95\% "
            r"confidence interval of the median; net energy excludes the idle baseline. "
            r"Measured with greenbench " + escape(__version__) + ".")


def _median(ref: CaseRef, metric: str) -> float | None:
    s = ref.stat(metric)
    return None if s is None else s.median


def _num(value: float | None, factor: float) -> str:
    return "--" if value is None else sig(value * factor)
