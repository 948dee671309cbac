"""``pareto``: energy per unit against a quality figure (or throughput), with the Pareto front.

A case is on the front when no other case uses less energy *and* reaches a better quality. The
quality figure is the workload's own (``CaseRecord.quality_metric``, with its direction from
``quality_higher_is_better``); without one the figure falls back to throughput, and says so.
Cases missing the figure are named under the plot, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenbench.errors import UserError
from greenbench.plots import style
from greenbench.plots.data import (
    RUN,
    CaseRef,
    Stat,
    axis_label,
    common_unit,
    describe,
    quantity,
    resolve_metric,
    select_cases,
    si_scale,
    swept,
    variant_names,
)
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_METRIC = "energy_per_unit_j"
AGAINST = ("auto", "quality", "throughput")
HEIGHT_IN = 2.8
#: label every point up to this many; beyond it only the front is labelled
LABEL_ALL_UP_TO = 8
THROUGHPUT = "throughput_per_s"


@dataclass(frozen=True)
class Tradeoff:
    """What energy is traded against: a result key (None when no case has one), whether
    higher is better, and a note for the figure when the choice needs explaining."""

    key: str | None
    name: str
    higher_is_better: bool
    note: str | None = None


def pareto_front(points: Sequence[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points (energy, quality) that no other point beats on both: lower energy
    and better quality. Sorted by energy; of identical points only the first counts."""
    sign = -1.0 if higher_is_better else 1.0  # compare "badness": lower is better
    order = sorted(range(len(points)), key=lambda i: (points[i][0], sign * points[i][1]))
    front: list[int] = []
    best = float("inf")
    for i in order:
        badness = sign * points[i][1]
        if badness < best:
            front.append(i)
            best = badness
    return front


def choose_tradeoff(refs: Sequence[CaseRef], against: str = "auto") -> Tradeoff:
    """The y figure: the cases' quality metric (the most common one), or throughput."""
    if against == "throughput":
        return Tradeoff(THROUGHPUT, "throughput", True)
    if against.startswith(("quality:", "metric:")):
        declared = [r.case.quality_higher_is_better for r in refs
                    if f"quality:{r.case.quality_metric}" == against]
        note = None if declared else f"direction of {against} unknown: higher taken as better"
        return Tradeoff(against, against.split(":", 1)[1], declared[0] if declared else True,
                        note)
    if against not in ("auto", "quality"):
        raise UserError(f"--against {against}: use auto, quality, throughput or quality:NAME")
    names = Counter(r.case.quality_metric for r in refs if r.case.quality_metric
                    and r.stat(f"quality:{r.case.quality_metric}") is not None)
    if names:
        name = names.most_common(1)[0][0]
        assert name is not None
        higher = next(r.case.quality_higher_is_better for r in refs
                      if r.case.quality_metric == name)
        others = sorted(set(names) - {name})
        note = f"cases scored by {', '.join(others)} instead are not shown" if others else None
        return Tradeoff(f"quality:{name}", name, higher, note)
    if against == "auto":
        return Tradeoff(THROUGHPUT, "throughput", True,
                        "no case recorded a quality figure: energy against throughput instead")
    return Tradeoff(None, "quality", True)


def plot_pareto(runs: Sequence[RunRecord], metric: str = DEFAULT_METRIC, *,
                against: str = "auto", selector: str | None = None,
                width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """``metric`` (energy per unit, J) on x against a quality figure or throughput on y, with
    95% intervals on both axes and the Pareto front as a step line."""
    refs = select_cases(runs, selector)
    key = resolve_metric(metric, refs)
    tradeoff = choose_tradeoff(refs, against)
    rows = [(r, e, q) for r in refs
            if (e := r.stat(key)) is not None
            and (q := r.stat(tradeoff.key) if tradeoff.key else None) is not None]
    unit = common_unit(refs)
    what, base = quantity(key, unit)
    factor, shown = si_scale([e.median for _, e, _ in rows], base)
    y_what, y_base = quantity(tradeoff.key or "quality", unit)
    y_factor, y_shown = si_scale([q.median for _, _, q in rows], y_base)
    better = "higher" if tradeoff.higher_is_better else "lower"
    with style.context():
        fig = style.new_figure(width_in, HEIGHT_IN)
        ax = fig.add_subplot()
        ax.set_xlabel(axis_label(what, shown))
        ax.set_ylabel(f"{axis_label(y_what, y_shown)}\n{better} is better")
        if rows:
            _draw(fig, ax, rows, (factor, y_factor), tradeoff, width_in)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            style.say_empty(ax, _nothing_to_show(tradeoff))
        style.add_note(fig, _notes(refs, rows, tradeoff))
    return fig


def _draw(fig: Any, ax: Any, rows: list[tuple[CaseRef, Stat, Stat]],
          factors: tuple[float, float], tradeoff: Tradeoff, width_in: float) -> None:
    from matplotlib.lines import Line2D

    refs = [r for r, _, _ in rows]
    facets = swept(refs)
    series_keys = [v for v in variant_names(refs) if v in facets] + \
        ([RUN] if RUN in facets else [])
    label_keys = [k for k in facets if k not in series_keys]
    series = list(dict.fromkeys(tuple(r.facets().get(k) for k in series_keys) for r in refs))
    factor, y_factor = factors
    xy = [(e.median * factor, q.median * y_factor) for _, e, q in rows]
    front = pareto_front(xy, tradeoff.higher_is_better)
    for i, (ref, e, q) in enumerate(rows):
        pos = series.index(tuple(ref.facets().get(k) for k in series_keys))
        color = style.colour(pos)
        (x_lo, x_hi), (y_lo, y_hi) = e.err(), q.err()
        ax.errorbar(xy[i][0], xy[i][1], xerr=[[x_lo * factor], [x_hi * factor]],
                    yerr=[[y_lo * y_factor], [y_hi * y_factor]], fmt=style.marker(pos), color=color,
                    markerfacecolor="white" if ref.estimate else color, elinewidth=0.6,
                    zorder=3)
        if i in front or len(rows) <= LABEL_ALL_UP_TO:
            text = describe(ref, label_keys, values_only=len(label_keys) == 1) \
                if label_keys else ""
            if text:
                ax.annotate(text, xy[i], xytext=(3, 3), textcoords="offset points",
                            fontsize=style.NOTE_PT)
    fx = [xy[i][0] for i in front]
    fy = [xy[i][1] for i in front]
    ax.step(fx, fy, where="post", color="black", linewidth=0.8, zorder=2)
    ax.plot(fx, fy, linestyle="none", marker="o", markersize=7, markerfacecolor="none",
            markeredgecolor="black", markeredgewidth=0.6, zorder=2)
    xs = [p[0] for p in xy]
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.grid(True)
    handles: list[Any] = []
    if len(series) > 1:
        by_series = {tuple(r.facets().get(k) for k in series_keys): r for r in refs}
        handles += [Line2D([], [], color=style.colour(i), marker=style.marker(i),
                           linestyle="none", label=describe(by_series[s], series_keys))
                    for i, s in enumerate(series)]
    handles.append(Line2D([], [], color="black", linewidth=0.8, marker="o", markersize=7,
                          markerfacecolor="none", markeredgewidth=0.6, label="Pareto front"))
    if any(r.estimate for r in refs):
        handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="white",
                              linestyle="none", label="open marker: energy estimated"))
    ncols = style.legend_columns([h.get_label() for h in handles], width_in)
    fig.legend(handles=handles, loc="outside upper center", ncols=ncols)


def _nothing_to_show(tradeoff: Tradeoff) -> str:
    if tradeoff.key is None:
        return "No case recorded a quality figure:\nnothing to trade energy against"
    return f"No case recorded both energy and {tradeoff.name}"


def _notes(refs: Sequence[CaseRef], rows: list[tuple[CaseRef, Stat, Stat]],
           tradeoff: Tradeoff) -> list[str]:
    notes = [tradeoff.note] if tradeoff.note else []
    drawn = {id(r) for r, _, _ in rows}
    left_out = [r for r in refs if id(r) not in drawn]
    if left_out and tradeoff.key is not None:
        notes.append(f"no {tradeoff.name} for case(s) "
                     + ", ".join(str(r.index) for r in left_out) + ": not shown")
    if rows:
        notes.append("points: medians with 95% CIs; ringed: on the Pareto front")
    return notes
