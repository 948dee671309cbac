"""``pareto``: energy per unit against a quality figure (or throughput), with the Pareto front.

A case is on the front when no other case uses less energy *and* reaches a better quality. The
quality figure is the workload's own (``CaseRecord.quality_metric``, with its direction from
``quality_higher_is_better``); without one the figure falls back to throughput, and says so.
Cases missing the figure are named under the plot, never dropped silently.

Colours and markers tell variants apart (and workloads, when a run mixes them); the points are
labelled by the other parameters that vary among their workload's cases. Labels are placed
where they overlap no other label, no point and no axis edge (:func:`place_labels`): the
points of the Pareto front first, then, up to :data:`LABEL_ALL_UP_TO` points, the others. A
front point whose label finds no room is named in the note under the plot instead; other
points left unlabelled are identified by their colour in the legend. The legend sits above
the axes and the figure grows taller, never wider, to hold it.
"""

from __future__ import annotations

import math
from collections import Counter
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
    quantity,
    resolve_metric,
    select_cases,
    si_scale,
    units_note,
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
        labels: list[_Label] = []
        if rows:
            labels = _draw(fig, ax, rows, (factor, y_factor), tradeoff, width_in)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
            style.say_empty(ax, _nothing_to_show(tradeoff))
        notes = _notes(refs, rows, tradeoff, key)
        style.add_note(fig, notes)
        style.fit_height(fig, {ax: _AXES_IN})
        if rows:
            # Where a label fits depends on the final layout, and a label that does not fit
            # is named in the note, which changes the layout: settle both together.
            noted = notes
            for _ in range(3):
                wanted = notes + _unplaced_note(place_labels(fig, ax, labels))
                if wanted == noted:
                    break
                style.add_note(fig, wanted)
                noted = wanted
                style.fit_height(fig, {ax: _AXES_IN})
            else:
                place_labels(fig, ax, labels)
    return fig


#: the height of the plotting area, whatever the legend and notes take
_AXES_IN = 1.8


def _draw(fig: Any, ax: Any, rows: list[tuple[CaseRef, Stat, Stat]],
          factors: tuple[float, float], tradeoff: Tradeoff, width_in: float) -> list[_Label]:
    """Points, whiskers, the front and the legend; returns the point labels to place."""
    from matplotlib.lines import Line2D

    refs = [r for r, _, _ in rows]
    names = Names(refs)
    series_keys = {id(r): ([WORKLOAD] if names.mixed else []) + names.variants(r)
                   + ([RUN] if names.multi_run else []) for r in refs}
    series_of = {id(r): key_of(r, series_keys[id(r)]) for r in refs}
    series = list(dict.fromkeys(series_of[id(r)] for r in refs))
    factor, y_factor = factors
    xy = [(e.median * factor, q.median * y_factor) for _, e, q in rows]
    front = pareto_front(xy, tradeoff.higher_is_better)
    # Log x when the points or their intervals span more than 20x: one wide interval on a
    # linear axis would squeeze every point into its first few millimetres.
    reach = [v * factor for _, e, _ in rows for v in (e.median, e.high) if v and v > 0]
    log_x = min(p[0] for p in xy) > 0 and max(reach) / min(p[0] for p in xy) > 20
    labels: list[_Label] = []
    for i, (ref, e, q) in enumerate(rows):
        pos = series.index(series_of[id(ref)])
        color = style.colour(pos)
        (x_lo, x_hi), (y_lo, y_hi) = e.err(), q.err()
        if log_x:  # a whisker may not reach zero on a log axis: stop it just above
            x_lo = min(x_lo, e.median * 0.999)
        ax.errorbar(xy[i][0], xy[i][1], xerr=[[x_lo * factor], [x_hi * factor]],
                    yerr=[[y_lo * y_factor], [y_hi * y_factor]], fmt=style.marker(pos), color=color,
                    markerfacecolor="white" if ref.estimate else color, elinewidth=0.6,
                    zorder=3)
        if i in front or len(rows) <= LABEL_ALL_UP_TO:
            # named, not bare values: a lone "256" would not say what it counts
            label_keys = names.settings(ref)
            text = describe(ref, label_keys) if label_keys else ""
            if text:
                if len(series) > 1 and i in front:
                    # the note may name it: say which series, as the legend does
                    whole = describe(ref, [*series_keys[id(ref)], *label_keys])
                else:
                    whole = text
                labels.append(_Label(text, whole, xy[i], i in front,
                                     front.index(i) if i in front else len(front) + i))
    fx = [xy[i][0] for i in front]
    fy = [xy[i][1] for i in front]
    ax.step(fx, fy, where="post", color="black", linewidth=0.8, zorder=2)
    ax.plot(fx, fy, linestyle="none", marker="o", markersize=7, markerfacecolor="none",
            markeredgecolor="black", markeredgewidth=0.6, zorder=2)
    if log_x:
        _log_x(ax)
    ax.grid(True)
    handles: list[Any] = []
    if len(series) > 1:
        first_of = {series_of[id(r)]: r for r in reversed(refs)}
        handles += [Line2D([], [], color=style.colour(i), marker=style.marker(i),
                           linestyle="none", label=style.legend_label(
                               describe(first_of[s], [k for k, _ in s]), width_in))
                    for i, s in enumerate(series)]
    handles.append(Line2D([], [], color="black", linewidth=0.8, marker="o", markersize=7,
                          markerfacecolor="none", markeredgewidth=0.6, label="Pareto front"))
    if any(r.estimate for r in refs):
        handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="white",
                              linestyle="none", label="open marker: energy estimated"))
    ncols = style.legend_columns([h.get_label() for h in handles], width_in)
    fig.legend(handles=handles, loc="outside upper center", ncols=ncols)
    return labels


def _log_x(ax: Any) -> None:
    """A log x axis whose tick labels are plain numbers (``20``, ``50``, ``100``) that never
    run into each other: 1-2-5 steps within a few decades, whole decades beyond, and no
    labels on the minor ticks (matplotlib's ``2×10^1`` labels overlap at one column)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    low, high = ax.dataLim.intervalx  # the points and their whiskers: what the axis spans
    decades = math.log10(high / low) if low > 0 else 10.0
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _nothing_to_show(tradeoff: Tradeoff) -> str:
    if tradeoff.key is None:
        return "No case recorded a quality figure:\nnothing to trade energy against"
    return f"No case recorded both energy and {tradeoff.name}"


@dataclass(frozen=True)
class _Label:
    """A point label waiting to be placed: its text, the name the note would use, the point
    (data coordinates), whether the point is on the front, and its priority (lower first)."""

    text: str
    whole: str
    xy: tuple[float, float]
    on_front: bool
    priority: int


#: offsets tried around a point (points, x then y), nearest first, right and above first
_RADII_PT = (3.0, 7.0, 12.0, 18.0, 26.0, 36.0)
#: beyond this offset a thin line leads from the label to its point
_LEADER_FROM_PT = 5.0
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 3),
               (-1, 3), (1, -3), (-1, -3))
_GID = "point-label"


def place_labels(fig: Any, ax: Any, labels: Sequence[_Label]) -> list[_Label]:
    """Place point labels, in order of priority, where each overlaps no placed label, no
    leader line, no error bar and no point, its own leader line crosses no placed label,
    it is nearer its own point than any other, and it stays inside the axes; returns the
    front points' labels that found no room (the others are left off: their colour names
    them). Replaces labels placed before, so it is called again once the layout changes."""
    for text in [t for t in ax.texts if t.get_gid() == _GID]:
        text.remove()
    renderer = fig.canvas.get_renderer()
    room = _Room(ax.get_window_extent(renderer), _point_boxes(fig, ax,
                                                                [lab.xy for lab in labels]),
                 leaders=_whiskers(ax))
    unplaced = []
    for label in sorted(labels, key=lambda lab: lab.priority):
        if not _place(fig, ax, renderer, label, room) and label.on_front:
            unplaced.append(label)
    return unplaced


@dataclass
class _Room:
    """What a new label must keep clear of (display coordinates)."""

    area: Any
    points: list[Any]
    labels: list[Any] = field(default_factory=list)
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)

    def fits(self, box: Any, leader: tuple[tuple[float, float], tuple[float, float]] | None,
             own: tuple[float, float]) -> bool:
        """Whether ``box`` (the label of the point at ``own``) is free, and nearer its own
        point than any other, so that it cannot be read as another point's label."""
        a = self.area
        if not (a.x0 <= box.x0 and box.x1 <= a.x1 and a.y0 <= box.y0 and box.y1 <= a.y1):
            return False
        if any(box.overlaps(other) for other in (*self.points, *self.labels)):
            return False
        if any(_crosses(segment, box) for segment in self.leaders):
            return False
        mine = _distance(box, own)
        if any(_distance(box, ((p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2)) < mine - 0.5
               for p in self.points):
            return False
        return leader is None or not any(_crosses(leader, other) for other in self.labels)


def _whiskers(ax: Any) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The error bars' lines, in display coordinates: a label is not written across them."""
    from matplotlib.collections import LineCollection

    segments = []
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            for segment in collection.get_segments():
                (x0, y0), (x1, y1) = ax.transData.transform(segment[0]), \
                    ax.transData.transform(segment[-1])
                segments.append(((float(x0), float(y0)), (float(x1), float(y1))))
    return segments


def _distance(box: Any, point: tuple[float, float]) -> float:
    """How far ``point`` is from ``box`` (0 inside it)."""
    x, y = point
    return math.hypot(max(box.x0 - x, 0.0, x - box.x1), max(box.y0 - y, 0.0, y - box.y1))


def _crosses(segment: tuple[tuple[float, float], tuple[float, float]], box: Any) -> bool:
    """Whether a line segment passes through a box (sampled every pixel or so)."""
    (x0, y0), (x1, y1) = segment
    steps = max(int(math.hypot(x1 - x0, y1 - y0)), 1)
    return any(box.contains(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
               for k in range(steps + 1))


def _place(fig: Any, ax: Any, renderer: Any, label: _Label, room: _Room) -> bool:
    from matplotlib.text import Text

    px, py = ax.transData.transform(label.xy)
    for radius in _RADII_PT:
        for dx, dy in _DIRECTIONS:
            scale = radius / (dx * dx + dy * dy) ** 0.5
            offset = (dx * scale, dy * scale)
            led = radius > _LEADER_FROM_PT
            leader = {"arrowstyle": "-", "color": "#555555", "linewidth": 0.4,
                      "shrinkA": 0.5, "shrinkB": 2.5} if led else None
            text = ax.annotate(label.text, label.xy, xytext=offset,
                               textcoords="offset points", fontsize=style.NOTE_PT, gid=_GID,
                               ha="left" if dx > 0 else "right" if dx < 0 else "center",
                               va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                               annotation_clip=False, arrowprops=leader)
            # the text alone: an Annotation's own extent includes its leader line
            text.update_positions(renderer)
            box = Text.get_window_extent(text, renderer).padded(1.0)
            end = (px + offset[0] * fig.dpi / 72, py + offset[1] * fig.dpi / 72)
            segment = ((px, py), end) if led else None
            if room.fits(box, segment, (px, py)):
                room.labels.append(box)
                if segment is not None:
                    room.leaders.append(segment)
                return True
            text.remove()
    return False


def _point_boxes(fig: Any, ax: Any, points: Sequence[tuple[float, float]]) -> list[Any]:
    """A box around every point drawn (its marker, and the front's ring: 7 pt across)."""
    from matplotlib.transforms import Bbox

    half = 3.5 * fig.dpi / 72
    drawn = [tuple(p) for line in ax.get_lines()
             if line.get_marker() not in (None, "None", "none", "")
             for p in line.get_xydata()]
    boxes = []
    for x, y in [*points, *drawn]:
        px, py = ax.transData.transform((x, y))
        boxes.append(Bbox.from_extents(px - half, py - half, px + half, py + half))
    return boxes


def _unplaced_note(unplaced: list[_Label]) -> list[str]:
    if not unplaced:
        return []
    return ["on the front, unlabelled for lack of room: "
            + "; ".join(lab.whole for lab in unplaced)]


def _notes(refs: Sequence[CaseRef], rows: list[tuple[CaseRef, Stat, Stat]],
           tradeoff: Tradeoff, key: str) -> list[str]:
    notes = [tradeoff.note] if tradeoff.note else []
    drawn = {id(r) for r, _, _ in rows}
    left_out = [r for r in refs if id(r) not in drawn]
    if left_out and tradeoff.key is not None:
        notes.append(f"no {tradeoff.name} for case(s) "
                     + ", ".join(str(r.index) for r in left_out) + ": not shown")
    mixed = units_note([r for r, _, _ in rows], key)
    if mixed:
        notes.append(mixed)
    if rows:
        notes.append("points: medians with 95% CIs; ringed: on the Pareto front")
    return notes
