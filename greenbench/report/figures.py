"""The figures that fit the data, each with a caption that says what it shows.

A kind is drawn when the runs have what it needs (a swept numeric parameter for scaling, two
cases or more for a Pareto front, a trace for the power trace); otherwise the report says why
it is absent instead of failing. Figures are drawn from copies of the runs whose text is safe
from matplotlib's mathtext (:mod:`greenbench.plots.plain_text`); captions use the text as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from greenbench.errors import UserError
from greenbench.plots.plain_text import escaped, runs_for_figures
from greenbench.records import RunRecord, case_names
from greenbench.report.document import FigureBlock


def report_figures(runs: Sequence[RunRecord], width_in: float = 5.0
                   ) -> tuple[list[FigureBlock], list[str]]:
    """(figures, reasons some kinds were not drawn). Reports are read on screens, so figures
    are wider than one paper column by default."""
    from greenbench.plots.data import select_cases

    try:
        refs = select_cases(runs)
    except UserError as exc:
        return [], [f"no figures: {exc}"]
    figures: list[FigureBlock] = []
    skipped: list[str] = []
    for name, build in _BUILDERS:
        try:
            block = build(runs, refs, width_in)
        except UserError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        if block is not None:
            figures.append(block)
    return figures, skipped


def _bars(runs: Sequence[RunRecord], refs: Any, width_in: float) -> FigureBlock:
    from greenbench.plots.bars import plot_bars

    fig = plot_bars(runs_for_figures(runs), width_in=width_in)
    return FigureBlock("bars", "Energy per unit of work by case: median over repeats, "
                       "whiskers at the 95% confidence interval of the median; hatched bars "
                       "are estimated with a power model. Workloads that count different "
                       "units of work get a panel each.", fig)


def _scaling(runs: Sequence[RunRecord], refs: Any, width_in: float) -> FigureBlock:
    from greenbench.plots.scaling import (
        TAIL_POINTS,
        fit_notes,
        legend_label,
        plot_scaling,
        scaling_series,
    )

    x, _, series, _ = scaling_series(runs)
    fig = plot_scaling(runs_for_figures(runs), escaped(x), width_in=width_in)
    fits = "; ".join(legend_label(s) for s in series)
    caveats = "".join(f" {note}." for s in series for note in fit_notes(s))
    dashed = " Dashed fits are to estimated energy." if any(s.estimate for s in series) else ""
    return FigureBlock("scaling", f"Energy per step against {x} on log-log axes. b is the "
                       f"exponent of a least-squares fit y = a x^b over all points and over "
                       f"the {TAIL_POINTS} largest ('top {TAIL_POINTS}'): {fits}.{caveats}"
                       f"{dashed}", fig)


def _pareto(runs: Sequence[RunRecord], refs: Any, width_in: float) -> FigureBlock | None:
    from greenbench.plots.pareto import choose_tradeoff, plot_pareto

    if len(refs) < 2:
        raise UserError("one case has no trade-off to show")
    tradeoff = choose_tradeoff(refs)
    fig = plot_pareto(runs_for_figures(runs), width_in=width_in)
    return FigureBlock("pareto", f"Energy per unit against {tradeoff.name}, medians with 95% "
                       "confidence intervals; the step line joins the cases no other case "
                       "beats on both (the Pareto front)."
                       + (f" {tradeoff.note.capitalize()}." if tradeoff.note else ""), fig)


def _breakdown(runs: Sequence[RunRecord], refs: Any, width_in: float) -> FigureBlock:
    from greenbench.plots.breakdown import plot_breakdown

    fig = plot_breakdown(runs_for_figures(runs), width_in=width_in)
    return FigureBlock("breakdown", "Energy per unit by domain, the same energy split into "
                       "the idle baseline's share and the net energy above it (hatched: "
                       "estimated with a power model), and, where carbon data was recorded, "
                       "emissions (operational and embodied) in total over each case's "
                       "measured repeats, not per unit."
                       + (" For a multi-host run, each host's energy over the job's window, "
                          "by domain." if any(r.job is not None for r in runs) else ""), fig)


def _trace(runs: Sequence[RunRecord], refs: Any, width_in: float) -> FigureBlock:
    from greenbench.plots.trace import plot_trace

    traced = [r for r in refs if r.case.trace and r.case.trace.get("t_s")]
    if not traced:
        raise UserError("no case has a power trace recorded")
    ref = traced[0]
    fig = plot_trace(runs_for_figures([ref.run])[0], ref.index, width_in=width_in)
    more = (f" Traces of the other cases: greenbench plot {ref.run.id} --kind trace --all."
            if len(traced) > 1 else "")
    name = case_names(ref.run.cases)[ref.index]
    return FigureBlock("trace", f"Power per domain over the life of case {ref.index} "
                       f"({name}) with warm-up, idle baseline and measured repeats "
                       f"shaded; dashed lines are estimated.{more}", fig)


_Builder = Callable[[Sequence[RunRecord], Any, float], "FigureBlock | None"]
_BUILDERS: list[tuple[str, _Builder]] = [
    ("bars", _bars), ("scaling", _scaling), ("pareto", _pareto), ("breakdown", _breakdown),
    ("trace", _trace),
]
