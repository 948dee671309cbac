"""``bars``: one metric (energy per unit by default) per case or variant, with 95% intervals.

Bars are horizontal, so long case labels stay readable at one column width. Cases that differ
by a variant (precision, attention mechanism, ...) are grouped: one row per setting of the
other swept parameters, one coloured bar per variant. Estimated figures are hatched.

A run that mixes workloads gets one row per workload and setting, named by the workload and
the parameters that vary among *its* cases (``attention, seq_len=512``); variants are grouped
only among cases of the same workload, so a row never shows another workload's parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenbench.errors import UserError
from greenbench.plots import style
from greenbench.plots.data import (
    RUN,
    WORKLOAD,
    CaseRef,
    Names,
    Stat,
    axis_label,
    common_unit,
    describe,
    key_of,
    keys_label,
    quantity,
    resolve_metric,
    select_cases,
    si_scale,
    swept_by_workload,
    units_note,
)
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_METRIC = "energy_per_unit_j"
_SLOT_IN = 0.16  # height of one bar at 8 pt: tick labels of neighbouring rows do not touch
_MAX_HEIGHT_IN = 9.0
#: row labels may take this share of the figure's width; longer ones are wrapped
_LABEL_SHARE = 0.42

_Key = tuple[tuple[str, Any], ...]


@dataclass
class Layout:
    """Which cases share a row, which bar (series) each case is within its row, and the
    labels of both."""

    rows: dict[_Key, list[CaseRef]]
    row_labels: list[str]
    row_title: str
    series: list[_Key]
    series_labels: list[str]
    series_of: dict[int, _Key]  # id(CaseRef) -> its series
    by: str | None = None
    left_out: list[CaseRef] = field(default_factory=list)  # cases without ``by``

    def slots(self, ref: CaseRef) -> list[_Key]:
        """The bar positions of the row ``ref`` is in: every series of its workload, in order,
        so that a variant keeps its place from row to row."""
        mine = {self.series_of[id(r)] for members in self.rows.values() for r in members
                if r.case.workload == ref.case.workload}
        return [s for s in self.series if s in mine]


def plot_bars(runs: Sequence[RunRecord], metric: str = DEFAULT_METRIC, *, by: str | None = None,
              selector: str | None = None, width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """Median of ``metric`` over repeats per case, whiskers at its 95% confidence interval.

    ``by`` names a swept parameter to group by (one row per value, a bar per remaining
    combination); by default rows are the non-variant settings and bars the variants.
    """
    refs = select_cases(runs, selector)
    key = resolve_metric(metric, refs)
    drawn = [r for r in refs if r.stat(key) is not None]
    lay = layout(drawn, by)
    drawn = [r for r in drawn if r not in lay.left_out]
    stats = {id(r): r.stat(key) for r in drawn}
    what, unit = quantity(key, common_unit(drawn))
    factor, shown_unit = si_scale(
        [v for s in stats.values() if s for v in (s.median, s.low, s.high) if v is not None],
        unit)

    labels = [style.wrap(text, width_in * _LABEL_SHARE) for text in lay.row_labels]
    slots = max((len(lay.slots(m[0])) for m in lay.rows.values()), default=1)
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    row_in = max(_SLOT_IN * slots, style.line_height_in() * lines + 0.04)
    want = max(0.8, row_in * len(lay.rows))
    with style.context():
        fig = style.new_figure(width_in, want + 1.2)
        ax = fig.add_subplot()
        for row_no, members in enumerate(lay.rows.values()):
            for ref in members:
                s = stats[id(ref)]
                assert s is not None
                row_slots = lay.slots(ref)
                bar_h = 0.8 / len(row_slots)
                series = lay.series_of[id(ref)]
                pos = row_slots.index(series)
                y = row_no - 0.4 + bar_h * (pos + 0.5)
                colour = _series_colour(lay.series.index(series), len(lay.series))
                _bar(ax, y, bar_h, s, factor, colour, ref.estimate)
        ax.set_yticks(range(len(lay.rows)), labels)
        ax.set_ylabel(lay.row_title)
        ax.set_ylim(len(lay.rows) - 0.5, -0.5)  # first case on top, as in a table
        ax.set_xlabel(axis_label(what, shown_unit))
        ax.grid(True, axis="x")
        ax.axvline(0, color="black", linewidth=0.6)
        handles = _legend(lay, drawn, width_in)
        if handles:
            ncols = style.legend_columns([h.get_label() for h in handles], width_in)
            fig.legend(handles=handles, loc="outside upper center", ncols=ncols)
        style.add_note(fig, _notes(refs, drawn, lay, [s for s in stats.values() if s], key))
        style.fit_height(fig, {ax: want}, max_height_in=_MAX_HEIGHT_IN)
    return fig


def layout(refs: Sequence[CaseRef], by: str | None) -> Layout:
    """Rows and series: by default a row per workload and setting of its non-variant swept
    parameters, a bar per variant of that workload (and per run when several); with ``by``,
    a row per value of that parameter and a bar per combination of the rest."""
    names = Names(refs)
    left_out: list[CaseRef] = []
    if by is not None:
        facets = swept_by_workload(refs)
        if by not in facets:
            raise UserError(f"--x {by}: not swept in these cases; "
                            + (f"swept: {', '.join(facets)}" if facets
                               else "every case has the same parameters"))
        left_out = [r for r in refs if r.facets().get(by) is None]
        refs = [r for r in refs if r not in left_out]
        row_keys = {id(r): [by] for r in refs}
        series_keys = {id(r): [k for k in names.keys(r) if k != by] for r in refs}
        values_only = True
    else:
        any_variant = any(names.variants(r) for r in refs)
        series_keys = {id(r): ([WORKLOAD] if names.mixed and any_variant else [])
                       + names.variants(r) + ([RUN] if names.multi_run else [])
                       for r in refs}
        row_keys = {id(r): ([WORKLOAD] if names.mixed else []) + names.settings(r)
                    for r in refs}
        if not any(row_keys[id(r)] for r in refs):
            # only variants (and runs) differ: the first of them makes the rows
            for r in refs:
                first, *rest = series_keys[id(r)] or [WORKLOAD]
                row_keys[id(r)], series_keys[id(r)] = [first], rest
        values_only = not names.mixed
    used = list(dict.fromkeys(k for r in refs for k in row_keys[id(r)]))
    row_title = names.title(refs, used) if by is None else keys_label(refs, used)
    rows: dict[_Key, list[CaseRef]] = {}
    row_labels: list[str] = []
    for r in refs:
        row = key_of(r, row_keys[id(r)])
        if row not in rows:
            rows[row] = []
            row_labels.append(describe(r, row_keys[id(r)], values_only=values_only))
        rows[row].append(r)
    series_of = {id(r): key_of(r, series_keys[id(r)]) for r in refs}
    series = list(dict.fromkeys(series_of[id(r)] for r in refs))
    first_of = {series_of[id(r)]: r for r in reversed(refs)}
    # (a series without keys holds cases that nothing else tells apart: name no workload)
    series_labels = [describe(first_of[s], [k for k, _ in s]) if s else "no other setting"
                     for s in series]
    return Layout(rows, row_labels, row_title, series, series_labels, series_of, by, left_out)


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


def _legend(lay: Layout, refs: Sequence[CaseRef], width_in: float) -> list[Any]:
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if len(lay.series) > 1:
        handles += [Patch(facecolor=_series_colour(i, len(lay.series)), edgecolor="black",
                          linewidth=0.4, label=style.legend_label(label, width_in))
                    for i, label in enumerate(lay.series_labels)]
    if any(r.estimate for r in refs):
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.4,
                             hatch=style.ESTIMATE_HATCH, label="estimate (power model)"))
    return handles


def _notes(refs: Sequence[CaseRef], drawn: Sequence[CaseRef], lay: Layout,
           stats: list[Stat], key: str) -> list[str]:
    notes = ["bars: median over repeats; whiskers: 95% CI of the median"]
    mixed = units_note(drawn, key)
    if mixed:
        notes.append(mixed)
    single = sum(1 for s in stats if not s.has_ci)
    if single:
        notes.append(f"{single} case(s) with a single repeat: no interval")
    left_out = [r for r in refs if r not in drawn and r not in lay.left_out]
    if left_out:
        notes.append(f"not shown (no {key}): " + ", ".join(str(r.index) for r in left_out))
    if lay.left_out:
        notes.append(f"not shown (no {lay.by}): " + ", ".join(
            f"{r.index} ({r.case.workload})" for r in lay.left_out))
    return notes
