"""``bars``: one metric (energy per unit by default) per case or variant, with 95% intervals.

Bars are horizontal, so long case labels stay readable at one column width. Cases that differ
by a variant (precision, attention mechanism, ...) are grouped: one row per setting of the
other swept parameters, one coloured bar per variant. Estimated figures are hatched.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    group,
    keys_label,
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
_SLOT_IN = 0.16  # height of one bar at 8 pt: tick labels of neighbouring rows do not touch
_MAX_HEIGHT_IN = 9.0


def plot_bars(runs: Sequence[RunRecord], metric: str = DEFAULT_METRIC, *, by: str | None = None,
              selector: str | None = None, width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """Median of ``metric`` over repeats per case, whiskers at its 95% confidence interval.

    ``by`` names a swept parameter to group by (one row per value, a bar per remaining
    combination); by default rows are the non-variant settings and bars the variants.
    """
    refs = select_cases(runs, selector)
    key = resolve_metric(metric, refs)
    drawn = [r for r in refs if r.stat(key) is not None]
    rows_keys, series_keys = layout(drawn, by)
    rows = group(drawn, rows_keys)
    series = list(group(drawn, series_keys))
    stats = {id(r): r.stat(key) for r in drawn}
    what, unit = quantity(key, common_unit(drawn))
    factor, shown_unit = si_scale(
        [v for s in stats.values() if s for v in (s.median, s.low, s.high) if v is not None],
        unit)

    slots = len(rows) * len(series)
    height = min(_MAX_HEIGHT_IN, 1.1 + _SLOT_IN * slots + 0.12 * len(series) * (len(series) > 1))
    with style.context():
        fig = style.new_figure(width_in, height)
        ax = fig.add_subplot()
        bar_h = 0.8 / len(series)
        for row_no, members in enumerate(rows.values()):
            for ref in members:
                s = stats[id(ref)]
                assert s is not None
                pos = series.index(tuple(ref.facets().get(k) for k in series_keys))
                y = row_no - 0.4 + bar_h * (pos + 0.5)
                _bar(ax, y, bar_h, s, factor, _series_colour(pos, len(series)), ref.estimate)
        ax.set_yticks(range(len(rows)), [describe(members[0], rows_keys, values_only=True)
                                         for members in rows.values()])
        ax.set_ylabel(keys_label(drawn, rows_keys))
        ax.set_ylim(len(rows) - 0.5, -0.5)  # first case on top, as in a table
        ax.set_xlabel(axis_label(what, shown_unit))
        ax.grid(True, axis="x")
        ax.axvline(0, color="black", linewidth=0.6)
        handles = _legend(series, series_keys, drawn, rows_keys)
        if handles:
            ncols = style.legend_columns([h.get_label() for h in handles], width_in)
            fig.legend(handles=handles, loc="outside upper center", ncols=ncols)
        style.add_note(fig, _notes(refs, drawn, [s for s in stats.values() if s], key))
    return fig


def layout(refs: Sequence[CaseRef], by: str | None) -> tuple[list[str], list[str]]:
    """(facets that make the rows, facets that make the coloured bars within a row)."""
    facets = swept(refs)
    if by is not None:
        if by not in facets:
            raise UserError(f"--x {by}: not swept in these cases; "
                            + (f"swept: {', '.join(facets)}" if facets
                               else "every case has the same parameters"))
        return [by], [k for k in facets if k != by]
    variants = [v for v in variant_names(refs) if v in facets]
    series = variants + ([RUN] if RUN in facets else [])
    rows = [k for k in facets if k not in series]
    if not rows:  # only variants (and runs) differ: the first makes the rows
        return series[:1], series[1:]
    return rows, series


def _bar(ax: Any, y: float, height: float, s: Stat, factor: float, color: str,
         estimate: bool) -> None:
    ax.barh(y, s.median * factor, height=height, color=color, edgecolor="black",
            linewidth=0.4, hatch=style.ESTIMATE_HATCH if estimate else None)
    if s.has_ci:
        low, high = s.err()
        ax.errorbar(s.median * factor, y, xerr=[[low * factor], [high * factor]], fmt="none",
                    ecolor="black", elinewidth=0.6)


def _series_colour(pos: int, count: int) -> str:
    return style.colour(pos) if count > 1 else style.OKABE_ITO["blue"]


def _legend(series: list[tuple[Any, ...]], keys: list[str], refs: Sequence[CaseRef],
            rows_keys: list[str]) -> list[Any]:
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if len(series) > 1:
        by_series = group(refs, keys)
        handles += [Patch(facecolor=_series_colour(i, len(series)), edgecolor="black",
                          linewidth=0.4, label=describe(by_series[s][0], keys))
                    for i, s in enumerate(series)]
    if any(r.estimate for r in refs):
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.4,
                             hatch=style.ESTIMATE_HATCH, label="estimate (power model)"))
    return handles


def _notes(refs: Sequence[CaseRef], drawn: Sequence[CaseRef], stats: list[Stat],
           key: str) -> list[str]:
    notes = ["bars: median over repeats; whiskers: 95% CI of the median"]
    single = sum(1 for s in stats if not s.has_ci)
    if single:
        notes.append(f"{single} case(s) with a single repeat: no interval")
    left_out = [r for r in refs if r not in drawn]
    if left_out:
        notes.append(f"not shown (no {key}): " + ", ".join(str(r.index) for r in left_out))
    return notes
