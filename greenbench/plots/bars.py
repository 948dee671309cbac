"""``bars``: one metric (energy per unit by default) per case or variant, with 95% intervals.

Bars are horizontal, so long case labels stay readable at one column width. Cases that differ
by a variant (precision, attention mechanism, ...) are grouped: one row per setting of the
other swept parameters, one coloured bar per variant. Estimated figures are hatched.

A run that mixes workloads gets one row per workload and setting, named by the workload and
the parameters that vary among *its* cases (``attention, seq_len=512``); variants are grouped
only among cases of the same workload, so a row never shows another workload's parameters.
Workloads that count different units of work (tokens, rows) get a panel each, with its own
axis: energy per token and energy per row share no scale; so do workloads whose figures
differ more than 20 times, which one linear axis would show as slivers. Series beyond the palette's
distinct colours would repeat a colour: then each case gets its own row, named in full, and
no series colours at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from greenbench.units import singular

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_METRIC = "energy_per_unit_j"
#: workloads whose largest figures differ more than this many times get a panel each
SPLIT_RATIO = 20.0
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
    combination); by default rows are the non-variant settings and bars the variants. A
    per-unit metric of workloads with different units of work (per token, per row) gets one
    panel per unit, each on its own axis: the two do not share a scale.
    """
    refs = select_cases(runs, selector)
    key = resolve_metric(metric, refs)
    drawn = [r for r in refs if r.stat(key) is not None]
    if by is not None:
        layout(drawn, by)  # a UserError when no case sweeps ``by``
    groups = unit_groups(drawn, key)
    names = Names(drawn)  # every panel names its cases as one figure would
    lays = [_group_layout(group, by, layout, names) for group in groups]
    series = list(dict.fromkeys(s for lay in lays for s in lay.series))
    if len(series) > len(style.PALETTE):
        # more series than distinct colours: a row per case, named in full, one colour
        lays = [_group_layout(group, by, flat_layout, names) for group in groups]
        series = list(dict.fromkeys(s for lay in lays for s in lay.series))
    left_out = [r for lay in lays for r in lay.left_out]
    drawn = [r for r in drawn if r not in left_out]
    stats = {id(r): r.stat(key) for r in drawn}

    panels = []
    for lay in lays:
        members = [r for rows in lay.rows.values() for r in rows]
        if not members:
            continue
        what, unit = quantity(key, common_unit(members))
        values = [v for r in members if (s := stats[id(r)]) is not None
                  for v in (s.median, s.low, s.high) if v is not None]
        factor, shown_unit = si_scale(values, unit)
        labels = [style.wrap(text, width_in * _LABEL_SHARE) for text in lay.row_labels]
        slots = max((len(lay.slots(m[0])) for m in lay.rows.values()), default=1)
        lines = max((label.count("\n") + 1 for label in labels), default=1)
        row_in = max(_SLOT_IN * slots, style.line_height_in() * lines + 0.04)
        panels.append((lay, labels, factor, axis_label(what, shown_unit),
                       max(0.8 if len(lays) == 1 else 0.45, row_in * len(lay.rows))))
    wants = [p[4] for p in panels] or [0.8]
    with style.context():
        fig = style.new_figure(width_in, sum(wants) + 1.2 + 0.6 * (len(wants) - 1))
        axes = list(fig.subplots(len(wants), 1, height_ratios=wants, squeeze=False)[:, 0])
        for ax, (lay, labels, factor, xlabel, _) in zip(axes, panels, strict=False):
            _draw_panel(ax, lay, labels, stats, factor, series)
            ax.set_xlabel(xlabel)
        handles = _legend(series, {s: label for lay in lays
                                   for s, label in zip(lay.series, lay.series_labels,
                                                       strict=True)}, drawn, width_in)
        if handles:
            ncols = style.legend_columns([h.get_label() for h in handles], width_in)
            fig.legend(handles=handles, loc="outside upper center", ncols=ncols)
        style.add_note(fig, _notes(refs, drawn, left_out, by, len(panels),
                                   [s for s in stats.values() if s], key))
        style.fit_height(fig, dict(zip(axes, wants, strict=True)),
                         max_height_in=_MAX_HEIGHT_IN)
    return fig


def unit_groups(refs: Sequence[CaseRef], metric: str) -> list[list[CaseRef]]:
    """The cases that share an axis, in order of first appearance: for a per-unit metric
    (and throughput) those whose workloads count the same unit of work; and within a unit,
    each workload apart when the workloads' largest figures differ more than
    :data:`SPLIT_RATIO` times (the smaller would be slivers on the larger's axis)."""
    by_unit: dict[str, list[CaseRef]] = {}
    for r in refs:
        key = singular(r.case.unit) if units_note(refs, metric) is not None else ""
        by_unit.setdefault(key, []).append(r)
    groups: list[list[CaseRef]] = []
    for members in by_unit.values():
        largest: dict[str, float] = {}
        for r in members:
            s = r.stat(metric)
            if s is not None:
                largest[r.case.workload] = max(largest.get(r.case.workload, 0.0),
                                               abs(s.median))
        tops = [v for v in largest.values() if v > 0]
        if len(tops) > 1 and max(tops) > SPLIT_RATIO * min(tops):
            by_workload: dict[str, list[CaseRef]] = {}
            for r in members:
                by_workload.setdefault(r.case.workload, []).append(r)
            groups += by_workload.values()
        else:
            groups.append(members)
    return groups


def _group_layout(group: list[CaseRef], by: str | None,
                  make: Callable[[Sequence[CaseRef], str | None, Names], Layout],
                  names: Names) -> Layout:
    """The layout of one panel; a panel whose cases do not sweep ``by`` is left out whole."""
    if by is not None and by not in swept_by_workload(group):
        return Layout({}, [], "", [], [], {}, by, list(group))
    return make(group, by, names)


def _draw_panel(ax: Any, lay: Layout, labels: list[str], stats: dict[int, Stat | None],
                factor: float, series: list[_Key]) -> None:
    for row_no, members in enumerate(lay.rows.values()):
        for ref in members:
            s = stats[id(ref)]
            assert s is not None
            row_slots = lay.slots(ref)
            bar_h = 0.8 / len(row_slots)
            pos = row_slots.index(lay.series_of[id(ref)])
            y = row_no - 0.4 + bar_h * (pos + 0.5)
            colour = _series_colour(series.index(lay.series_of[id(ref)]), len(series))
            _bar(ax, y, bar_h, s, factor, colour, ref.estimate)
    ax.set_yticks(range(len(lay.rows)), labels)
    ax.set_ylabel(lay.row_title)
    ax.set_ylim(len(lay.rows) - 0.5, -0.5)  # first case on top, as in a table
    ax.grid(True, axis="x")
    ax.axvline(0, color="black", linewidth=0.6)


def layout(refs: Sequence[CaseRef], by: str | None, names: Names | None = None) -> Layout:
    """Rows and series: by default a row per workload and setting of its non-variant swept
    parameters, a bar per variant of that workload (and per run when several); with ``by``,
    a row per value of that parameter and a bar per combination of the rest. ``names``: how
    cases are told apart, when ``refs`` are one panel of more (by default from ``refs``)."""
    names = names or Names(refs)
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


def flat_layout(refs: Sequence[CaseRef], by: str | None, names: Names | None = None) -> Layout:
    """A row per case, named by everything that tells it apart, and a single series: for
    when there are more series than distinct colours."""
    names = names or Names(refs)
    lay = layout(refs, by, names)
    kept = [r for r in refs if r not in lay.left_out]
    rows: dict[_Key, list[CaseRef]] = {}
    row_labels: list[str] = []
    for r in kept:
        row = key_of(r, names.keys(r))
        if row not in rows:
            rows[row] = []
            row_labels.append(names.label(r))
        rows[row].append(r)
    return Layout(rows, row_labels, names.title(kept), [()], ["all cases"],
                  {id(r): () for r in kept}, by, lay.left_out)


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


def _legend(series: list[_Key], labels: dict[_Key, str], refs: Sequence[CaseRef],
            width_in: float) -> list[Any]:
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if len(series) > 1:
        handles += [Patch(facecolor=_series_colour(i, len(series)), edgecolor="black",
                          linewidth=0.4, label=style.legend_label(labels[s], width_in))
                    for i, s in enumerate(series)]
    if any(r.estimate for r in refs):
        handles.append(Patch(facecolor="white", edgecolor="black", linewidth=0.4,
                             hatch=style.ESTIMATE_HATCH, label="estimate (power model)"))
    return handles


def _notes(refs: Sequence[CaseRef], drawn: Sequence[CaseRef], left_out: Sequence[CaseRef],
           by: str | None, panels: int, stats: list[Stat], key: str) -> list[str]:
    notes = ["bars: median over repeats; whiskers: 95% CI of the median"]
    mixed = units_note(drawn, key)
    if mixed:
        notes.append(mixed + ("; one panel per unit" if panels > 1 else ""))
    if panels > len({singular(r.case.unit) for r in drawn}) or (panels > 1 and not mixed):
        notes.append(f"workloads whose figures differ over {SPLIT_RATIO:g}x: a panel each")
    single = sum(1 for s in stats if not s.has_ci)
    if single:
        notes.append(f"{single} case(s) with a single repeat: no interval")
    missing = [r for r in refs if r not in drawn and r not in left_out]
    if missing:
        notes.append(f"not shown (no {key}): " + ", ".join(str(r.index) for r in missing))
    if left_out:
        notes.append(f"not shown (no {by}): " + ", ".join(
            f"{r.index} ({r.case.workload})" for r in left_out))
    return notes
