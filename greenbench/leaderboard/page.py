"""The leaderboard page as HTML: one section per workload and unit, in it one table per tier
(measured, then estimated: never ranked together), each with a row group per hardware class.

Rows are ranked by energy per unit within their hardware class and tier. The tables are
complete without the script: it only sorts (buttons in the column headers, ``aria-sort``)
and filters (hardware, precision, parameters) the rows that are already there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from string import Template
from typing import Any

from greenbench.leaderboard.entries import Entry
from greenbench.submission.tier import TIERS

TIER_HEADINGS = {
    "measured": "Measured: energy counters and polled power",
    "estimated": "Estimated: from a power model, not a sensor; ranked only among estimates",
}


@dataclass(frozen=True)
class LeftOut:
    """A run the rules kept off the page, and the rules it fails (one line each)."""

    run_id: str
    label: str | None
    failures: list[str]


@dataclass(frozen=True)
class Column:
    header: str
    #: sortable columns hold a button; the value to sort by is each cell's data-value
    sortable: bool = True
    numeric: bool = True


def render_page(entries: Sequence[Entry], left_out: Sequence[LeftOut], *, built_utc: str,
                runs: int, version: str, template: str) -> str:
    """The whole page; ``template`` is templates/page.html."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in sorted(entries, key=lambda e: (e.workload, e.unit)):
        groups.setdefault((e.workload, e.unit), []).append(e)
    sections = [_section(w, u, rows) for (w, u), rows in groups.items()]
    dates = sorted(e.created_utc for e in entries)
    span = (f" Runs from {_time(dates[0])} to {_time(dates[-1])}." if dates else "")
    intro = (f'<p class="dated">Built {_time(built_utc, full=True)} by greenbench '
             f"{escape(version)} from {runs} run(s): {len(entries)} result(s) shown, "
             f'{len(left_out)} run(s) left out (<a href="#left-out">why</a>).{span}</p>')
    return Template(template).substitute(
        intro=intro,
        filters=_filters(entries),
        contents=_contents(groups),
        sections="\n".join(sections) or '<p class="empty">No run passes the rules.</p>',
        left_out=_left_out(left_out),
    )


def section_id(workload: str, unit: str) -> str:
    return "t-" + re.sub(r"[^a-z0-9]+", "-", f"{workload}-{unit}".lower()).strip("-")


# --------------------------------------------------------------------------- parts


def _contents(groups: dict[tuple[str, str], list[Entry]]) -> str:
    if not groups:
        return ""
    items = "".join(f'<li><a href="#{section_id(w, u)}">{escape(w)}, per '
                    f"{escape(_singular(u))}</a> ({len(rows)})</li>"
                    for (w, u), rows in groups.items())
    return f'<nav aria-label="Workloads"><ul>{items}</ul></nav>'


def _filters(entries: Sequence[Entry]) -> str:
    def select(name: str, label: str, values: list[str]) -> str:
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
        return (f'<label>{label} <select data-filter="{name}"><option value="">all</option>'
                f"{options}</select></label>")

    hardware = sorted({e.hardware for e in entries})
    precision = sorted({e.precision for e in entries})
    return (f'<form class="filters" role="search" aria-label="Filter the results">'
            f'{select("hardware", "Hardware", hardware)}'
            f'{select("precision", "Precision", precision)}'
            f'<label>Parameters <input type="search" data-filter="params" '
            f'placeholder="batch=8 seq_len=1024" autocomplete="off"></label>'
            f'<output class="shown" aria-live="polite">{len(entries)} of {len(entries)} '
            f"results shown</output></form>")


def _section(workload: str, unit: str, rows: list[Entry]) -> str:
    per = _singular(unit)
    varying, constant = _split_params(rows)
    common = ", ".join(f"{k}={v}" for k, v in constant.items())
    tables = []
    for tier in TIERS:
        in_tier = [e for e in rows if e.tier == tier]
        if in_tier:
            tables.append(f'<h3 class="tier {tier}">{escape(TIER_HEADINGS[tier])}</h3>'
                          + _table(workload, per, unit, tier, in_tier, varying))
    note = f'<p class="common">Every row: {escape(common)}.</p>' if common else ""
    return (f'<section id="{section_id(workload, unit)}"><h2>{escape(workload)}: energy per '
            f"{escape(per)}</h2>{note}{''.join(tables)}</section>")


def _table(workload: str, per: str, unit: str, tier: str, rows: list[Entry],
           varying: list[str]) -> str:
    columns = [Column("Rank"), Column("Parameters", sortable=False, numeric=False),
               Column(f"Energy per {per} (median)"), Column("95% CI", sortable=False),
               Column("Method", sortable=False, numeric=False),
               Column(f"Throughput ({unit}/s)"), Column("Repeats"),
               Column("Date", numeric=False), Column("Run", sortable=False, numeric=False)]
    head = "".join(_header(c, sort="ascending" if i == 2 else "none")
                   for i, c in enumerate(columns))
    by_class: dict[str, list[Entry]] = {}
    for e in sorted(rows, key=lambda e: (e.hardware, e.energy_j)):
        by_class.setdefault(e.hardware, []).append(e)
    bodies = []
    for hardware, group in by_class.items():
        cells = "".join(_row(e, rank, varying, [c.header for c in columns])
                        for rank, e in _ranked(group))
        bodies.append(f'<tbody data-hardware="{escape(hardware)}"><tr class="group">'
                      f'<th colspan="{len(columns)}" scope="rowgroup">{escape(hardware)}</th>'
                      f"</tr>{cells}</tbody>")
    caption = (f"{escape(workload)}: energy per {escape(per)}, {escape(tier)}, ranked within "
               "each hardware class (lowest energy first)")
    return (f'<div class="table"><table class="board {tier}" data-tier="{tier}">'
            f"<caption>{caption}</caption><thead><tr>{head}</tr></thead>{''.join(bodies)}"
            f"</table></div>")


def _header(column: Column, sort: str) -> str:
    if not column.sortable:
        return f'<th scope="col">{escape(column.header)}</th>'
    kind = "number" if column.numeric else "text"
    return (f'<th scope="col" aria-sort="{sort}"><button type="button" data-sort="{kind}">'
            f'{escape(column.header)}<span class="arrow" aria-hidden="true"></span>'
            "</button></th>")


def _row(e: Entry, rank: int, varying: list[str], labels: list[str]) -> str:
    from greenbench.units import fmt_energy, fmt_range, fmt_si

    shown = ", ".join(f"{k}={e.params[k]}" for k in varying if k in e.params) or "-"
    every = " ".join(f"{k}={v}" for k, v in e.params.items())
    ci = ("-" if e.energy_low_j is None or e.energy_high_j is None
          else fmt_range(e.energy_low_j, e.energy_high_j, "J"))
    # An estimate's method says ESTIMATE already; a measurement's says it was measured.
    method = f"measured: {e.method}" if e.tier == "measured" else e.method
    cells: list[tuple[str, str, Any]] = [
        ("r", str(rank), rank),
        ("l", shown, None),
        ("r", fmt_energy(e.energy_j), e.energy_j),
        ("r", ci, e.energy_low_j),
        ("method", method, None),
        ("r", fmt_si(e.throughput, f"{e.unit}/s") if e.throughput is not None else "-",
         e.throughput),
        ("r", str(e.repeats), e.repeats),
    ]
    out = [_cell(label, cls, text, value) for label, (cls, text, value)
           in zip(labels, cells, strict=False)]
    out.append(f'<td data-label="Date" class="date" data-value="{escape(e.created_utc)}">'
               f"{_time(e.created_utc)}</td>")
    name = escape(e.run_label or e.run_id)
    out.append(f'<td data-label="Run" class="run"><a href="{escape(e.report)}" '
               f'title="the report of run {escape(e.run_id)}">{name}</a></td>')
    return (f'<tr class="row {e.tier}" data-hardware="{escape(e.hardware)}" '
            f'data-precision="{escape(e.precision)}" data-params="{escape(every)}">'
            f"{''.join(out)}</tr>")


def _cell(label: str, cls: str, text: str, value: Any) -> str:
    if value is None and cls != "r":
        data = ""
    else:  # a number cell without a figure sorts last
        data = f' data-value="{"" if value is None else repr(value)}"'
    return f'<td data-label="{escape(label)}" class="{cls}"{data}>{escape(text)}</td>'


def _ranked(group: list[Entry]) -> list[tuple[int, Entry]]:
    """Rank by energy, lowest first; equal energies share a rank."""
    out: list[tuple[int, Entry]] = []
    for i, e in enumerate(group):
        rank = out[-1][0] if out and out[-1][1].energy_j == e.energy_j else i + 1
        out.append((rank, e))
    return out


def _split_params(rows: list[Entry]) -> tuple[list[str], dict[str, Any]]:
    """The parameters that vary among rows (shown per row), and those every row shares."""
    keys = list(dict.fromkeys(k for e in rows for k in e.params))
    varying = [k for k in keys if len({repr(e.params.get(k)) for e in rows}) > 1]
    constant = {k: rows[0].params.get(k) for k in keys if k not in varying}
    return varying, constant


def _left_out(left_out: Sequence[LeftOut]) -> str:
    if not left_out:
        return "<p>No run was left out.</p>"
    items = []
    for run in left_out:
        name = escape(run.run_id + (f" ({run.label})" if run.label else ""))
        reasons = "".join(f"<li>{escape(f)}</li>" for f in run.failures)
        items.append(f"<li>run {name} fails {len(run.failures)} rule(s):<ul>{reasons}</ul></li>")
    return f"<ul>{''.join(items)}</ul>"


def _time(iso: str, *, full: bool = False) -> str:
    shown = iso.replace("T", " ")[: 16 if full else 10] + (" UTC" if full else "")
    return f'<time datetime="{escape(iso)}">{escape(shown)}</time>'


def _singular(unit: str) -> str:
    from greenbench.units import singular

    return singular(unit)
