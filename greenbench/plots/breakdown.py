"""``breakdown``: where each case's energy went, and what it emitted.

Up to four panels; the cases are the rows of all but the hosts' panel:

1. energy per unit by domain family (CPU packages, DRAM, GPUs), stacked: the gross figure;
2. the same gross figure split into the idle baseline's share and the net energy above it;
3. for a multi-host run, each host's energy by domain family (greenbench.plots.hosts);
4. emissions per case, operational and embodied (gCO2e), when carbon data was recorded: a
   total over the case's measured repeats, not per unit like the panels above, as its axis
   label says.

Estimated parts are hatched and say "(estimate)" in the legend: a domain measured by a power
model, and the idle and net parts of a case whose energy includes such a domain. Sub-domains
(a package's ``core``) are left out: they are already inside their parent. Each panel has its
own x label with its unit, and its legend sits above it, clear of the tick labels of the panel
above. Cases are named as in ``bars``: by workload when a run mixes them, and by the
parameters that vary among that workload's cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from greenbench.plots import style
from greenbench.plots.data import (
    CaseRef,
    Names,
    axis_label,
    common_unit,
    domain_facts,
    domain_family,
    select_cases,
    si_scale,
    singular,
    units_note,
)
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_ROW_IN = 0.14
_PANEL_IN = 0.7  # axis label, ticks and the legend above each panel
#: row labels may take this share of the figure's width; longer ones are wrapped
_LABEL_SHARE = 0.5
UNSPLIT = "all domains (not split)"


@dataclass
class EnergyRow:
    """One case's gross energy per unit (J), by domain family and as idle + net."""

    label: str
    gross_j: float
    families: dict[str, float]
    estimated: set[str]
    net_j: float | None
    #: True when the case's total energy (and so its idle and net parts) is an estimate
    estimate: bool = False


@dataclass
class EmissionRow:
    """Emissions in gCO2e of one case (or a whole run), operational and embodied."""

    label: str
    operational_g: float
    embodied_g: float | None
    intensity_estimate: bool
    notes: list[str] = field(default_factory=list)


def energy_rows(refs: Sequence[CaseRef]) -> list[EnergyRow]:
    """Per-unit energy of every case that has a gross figure, split by domain family."""
    names = Names(refs)
    mixed_units = len({singular(r.case.unit) for r in refs}) > 1
    rows = []
    for ref in refs:
        gross = ref.stat("energy_j")
        if gross is None:
            continue
        per_unit = 1.0 / (ref.case.units_per_step or 1.0)
        families: dict[str, float] = {}
        estimated: set[str] = set()
        for domain, fact in domain_facts(ref.run, ref.case).items():
            s = ref.stat(f"domain:{domain}:energy_j")
            if s is None or fact.part_of or fact.not_counted:
                continue  # inside another domain, or beside the total: not stacked
            family = domain_family(domain)
            families[family] = families.get(family, 0.0) + s.median * per_unit
            if fact.estimate:
                estimated.add(family)
        if not families:
            families = {UNSPLIT: gross.median * per_unit}
            if ref.estimate:
                estimated.add(UNSPLIT)
        net = ref.stat("net_energy_j")
        # with several units of work on one axis, each row says which it is per
        label = names.label(ref) + (f" (per {singular(ref.case.unit)})" if mixed_units else "")
        rows.append(EnergyRow(label, gross.median * per_unit,
                              families, estimated,
                              None if net is None else net.median * per_unit, ref.estimate))
    return rows


def emission_rows(runs: Sequence[RunRecord], refs: Sequence[CaseRef]) -> list[EmissionRow]:
    """One row per case with a footprint; a run's own footprint when none of its cases has."""
    names = Names(refs)
    rows = [_emission_row(names.label(r), r.case.footprint) for r in refs if r.case.footprint]
    if not rows:
        rows = [_emission_row(f"run {run.label or run.id}", run.footprint)
                for run in runs if run.footprint]
    return rows


def plot_breakdown(runs: Sequence[RunRecord], *, selector: str | None = None,
                   width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """Stacked energy per unit by domain, idle and net parts, and emissions when recorded."""
    refs = select_cases(runs, selector)
    energy = energy_rows(refs)
    emissions = emission_rows(runs, refs)
    unit = singular(common_unit(refs))
    factor, shown = si_scale([r.gross_j for r in energy], "J")
    label_width = width_in * _LABEL_SHARE
    energy_labels = [style.wrap(r.label, label_width) for r in energy]
    emission_labels = [style.wrap(r.label, label_width) for r in emissions]
    rows_title = Names(refs).title(refs)
    panels: list[tuple[list[str], list[_Part], str, str]] = [
        (energy_labels, _domain_parts(energy, factor),
         axis_label(f"Energy per {unit} by domain", shown), rows_title),
        (energy_labels, _idle_parts(energy, factor),
         axis_label(f"Energy per {unit}, idle and net", shown), rows_title),
    ]
    from greenbench.plots.hosts import host_notes, host_rows

    hosts = host_rows(runs)  # multi-host runs: a panel of their hosts
    if hosts:
        h_factor, h_unit = si_scale([r.gross_j for r in hosts], "J")
        panels.append(([style.wrap(r.label, label_width) for r in hosts],
                       _domain_parts(hosts, h_factor),
                       axis_label("Energy by host, whole job", h_unit), "host"))
    if emissions:
        g_factor, g_unit = si_scale([r.operational_g + (r.embodied_g or 0.0)
                                     for r in emissions], "gCO2e")
        # mathtext subscript: gCO2e -> gCO₂e, in the figure's own font
        whole = "per case, all repeats" if any(r.case.footprint for r in refs) \
            else "of the run, all repeats"
        panels.append((emission_labels, _emission_parts(emissions, g_factor),
                       axis_label(f"Emissions {whole}", g_unit.replace("CO2e", "CO$_2$e")),
                       rows_title if any(r.case.footprint for r in refs) else ""))
    wants = [_rows_in(labels) for labels, *_ in panels]
    # room for the panels' labels, ticks and legends (and the note); fit_height corrects it
    height = sum(wants) + _PANEL_IN * len(panels) + 0.3
    widest = max((style.text_width_in(t) for labels, *_ in panels for t in labels),
                 default=0.0)
    # the legend spans the axes: the figure less the row labels, their title and margins
    legend_width = max(width_in - widest - 0.45, width_in * 0.45)
    with style.context():
        fig = style.new_figure(width_in, height)
        axes = fig.subplots(len(panels), 1, height_ratios=wants)
        for ax, (labels, parts, xlabel, title) in zip(axes, panels, strict=True):
            _stack(ax, labels, parts, title, legend_width)
            ax.set_xlabel(xlabel)
        axes[1].sharex(axes[0])
        if not energy:
            style.say_empty(axes[0], "no case recorded a gross energy figure")
        style.add_note(fig, _notes(refs, energy, emissions) + host_notes(runs))
        style.fit_height(fig, dict(zip(axes, wants, strict=True)))
    return fig


def _rows_in(labels: list[str]) -> float:
    """The height of a panel's axes: a row per label, taller for labels wrapped over lines."""
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    row = max(_ROW_IN, style.line_height_in() * lines + 0.03)
    return max(row * max(len(labels), 1), 0.45)


# A part of a stacked bar: (legend label, colour, hatched (for every row, or row by row),
# value per row)
_Part = tuple[str, str, "bool | list[bool]", list[float]]


def _domain_parts(rows: list[EnergyRow], factor: float) -> list[_Part]:
    families = list(dict.fromkeys(f for r in rows for f in r.families))
    order = ["CPU", "DRAM", "GPU"]
    families.sort(key=lambda f: order.index(f) if f in order else len(order))
    parts: list[_Part] = []
    for i, family in enumerate(families):
        estimate = any(family in r.estimated for r in rows)
        color = style.DOMAIN_COLOURS.get(family, style.colour(i + 4))
        parts.append((family + (" (estimate)" if estimate else ""), color, estimate,
                      [r.families.get(family, 0.0) * factor for r in rows]))
    return parts


def _idle_parts(rows: list[EnergyRow], factor: float) -> list[_Part]:
    # Net energy within noise of zero can come out negative; drawn as zero (and noted).
    idle = [(r.gross_j - max(r.net_j, 0.0) if r.net_j is not None else 0.0) * factor
            for r in rows]
    net = [max(r.net_j, 0.0) * factor if r.net_j is not None else 0.0 for r in rows]
    unsplit = [r.gross_j * factor if r.net_j is None else 0.0 for r in rows]
    hatched = [r.estimate for r in rows]
    mark = " (estimate)" if any(hatched) else ""
    parts: list[_Part] = [("idle baseline" + mark, style.IDLE_COLOUR, hatched, idle),
                          ("net (above idle)" + mark, style.NET_COLOUR, hatched, net)]
    if any(unsplit):
        parts.append(("gross (no idle baseline)" + mark, style.OKABE_ITO["blue"], hatched,
                      unsplit))
    return parts


def _emission_parts(rows: list[EmissionRow], factor: float) -> list[_Part]:
    estimate = any(r.intensity_estimate for r in rows)
    parts: list[_Part] = [(
        "operational" + (" (estimated intensity)" if estimate else ""), style.NET_COLOUR,
        estimate, [r.operational_g * factor for r in rows])]
    if any(r.embodied_g for r in rows):
        parts.append(("embodied (estimate)", style.EMBODIED_COLOUR, True,
                      [(r.embodied_g or 0.0) * factor for r in rows]))
    return parts


def _stack(ax: Axes, labels: list[str], parts: list[_Part], rows_title: str,
           legend_width_in: float) -> None:
    from matplotlib.patches import Patch

    left = [0.0] * len(labels)
    ys = list(range(len(labels)))
    handles: list[Any] = []
    for _, color, hatched, values in parts:
        bars = ax.barh(ys, values, left=left, height=0.7, color=color, edgecolor="black",
                       linewidth=0.4)
        by_row = hatched if isinstance(hatched, list) else [hatched] * len(values)
        for bar, hatch in zip(bars, by_row, strict=True):
            bar.set_hatch(style.ESTIMATE_HATCH if hatch else None)
        # the legend's swatch is hatched when any row of the part is
        handles.append(Patch(facecolor=color, edgecolor="black", linewidth=0.4,
                             hatch=style.ESTIMATE_HATCH if any(by_row) else None))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ys, labels)
    ax.set_ylabel(rows_title)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.grid(True, axis="x")
    # Above the axes, inside their layout box: constrained layout keeps it clear of the
    # panel above (its tick labels and x label), and it is never wider than the axes.
    names = [style.legend_label(p[0], legend_width_in) for p in parts]
    ncols = style.legend_columns(names, legend_width_in, column_spacing_em=1.0)
    ax.legend(handles, names, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=ncols,
              borderaxespad=0.2, columnspacing=1.0)


def _emission_row(label: str, fp: dict[str, Any] | None) -> EmissionRow:
    fp = fp or {}
    intensity = fp.get("intensity") or {}
    return EmissionRow(label, float(fp.get("operational_g") or 0.0),
                       None if fp.get("embodied_g") is None else float(fp["embodied_g"]),
                       bool(intensity.get("estimate", False)), list(fp.get("notes") or []))


def _notes(refs: Sequence[CaseRef], energy: list[EnergyRow],
           emissions: list[EmissionRow]) -> list[str]:
    notes = []
    mixed = units_note(refs, "energy_per_unit_j")
    if mixed:
        notes.append(mixed)
    if any(r.net_j is not None and r.net_j < 0 for r in energy):
        notes.append("net energy below zero (within noise of the idle baseline) drawn as zero")
    if any(UNSPLIT in r.families for r in energy):
        notes.append("cases without per-domain figures are drawn unsplit")
    beside = sorted({d for ref in refs for d, fact in domain_facts(ref.run, ref.case).items()
                     if fact.not_counted and not fact.part_of})
    if beside:
        notes.append(f"not in the totals (a constant model, or a GPU the case does not run "
                     f"on): {', '.join(beside)}")
    if not emissions:
        notes.append("no carbon data recorded: emissions not shown")
    return notes
