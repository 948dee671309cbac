"""``trace``: the power of each domain over one case's life, with its phases shaded.

The warm-up, the idle baseline and each measured repeat are shaded behind the lines, so a
reader sees what was measured, what was discarded, and what the idle baseline looked like.
Estimated domains, and a total that includes one, are dashed and say "(estimate)" in the
legend. The title names the case as
the results table does: its workload and the parameters that vary between that workload's
cases in the run, wrapped (and at most :data:`TITLE_LINES` lines) to fit the figure.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from greenbench.errors import UserError
from greenbench.plots import style
from greenbench.plots.data import case_name, domain_facts, domain_family
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HEIGHT_IN = 2.6
TITLE_LINES = 2
_PHASE_LABELS = {"warmup": "warm-up", "idle": "idle baseline", "repeat": "measured repeats"}


def plot_trace(run: RunRecord, index: int, *, width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """Power (W) against time since the case started (s), one line per domain.

    Sub-domains (a package's ``core``) are drawn thin and dotted: they are already inside
    their parent. With more than one top-level domain in the case's total a black line
    gives their total; a domain recorded beside the total (a constant model) is not in it.
    """
    case = run.cases[index]
    trace = case.trace
    if not trace or not trace.get("t_s"):
        raise UserError(f"case {index} of run {run.id} ({case.label}) has no power trace "
                        "recorded: nothing to draw")
    t = [float(x) for x in trace["t_s"]]
    power = {d: [_num(v) for v in vs] for d, vs in (trace.get("power_w") or {}).items()}
    facts = domain_facts(run, case)
    with style.context():
        fig = style.new_figure(width_in, HEIGHT_IN)
        ax = fig.add_subplot()
        phase_handles = _shade_phases(ax, trace.get("phases") or [])
        line_handles = _draw_domains(ax, t, power, facts)
        ax.set_xlabel("Time since the case started (s)")
        ax.set_ylabel("Power (W)")
        ax.set_xlim(min(t[0], _first_phase(trace)), max(t[-1], _last_phase(trace)))
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y")
        handles = line_handles + phase_handles
        ncols = style.legend_columns([h.get_label() for h in handles], width_in)
        fig.legend(handles=handles, loc="outside lower center", ncols=ncols)
        if not power:
            style.say_empty(ax, "no domain recorded power samples")
        _title(fig, ax, f"{index}: {case_name(run, index)}")
        style.fit_height(fig, {ax: _AXES_IN})
    return fig


#: the height of the plotting area, whatever the title and legend take
_AXES_IN = 1.45


def _title(fig: Figure, ax: Axes, title: str) -> None:
    """A left-aligned title over the axes, wrapped to the width from the axes' left edge to
    the figure's right edge, so that it never runs off the figure."""
    ax.set_title("M", loc="left")  # one line, so that the layout leaves room for a title
    fig.draw_without_rendering()
    left_in = ax.get_position().x0 * fig.get_figwidth()
    width = fig.get_figwidth() - left_in - 0.06
    ax.set_title(style.wrap(title, width, style.FONT_PT, max_lines=TITLE_LINES), loc="left")


def _draw_domains(ax: Axes, t: list[float], power: dict[str, list[float]],
                  facts: dict[str, Any]) -> list[Any]:
    handles = []
    top: list[list[float]] = []
    top_estimated = False
    used: dict[str, int] = {}
    for i, (domain, values) in enumerate(power.items()):
        fact = facts.get(domain)
        family = domain_family(domain)
        nth = used.get(family, 0)
        used[family] = nth + 1
        color = style.DOMAIN_COLOURS.get(family, style.colour(i + 4))
        estimate = fact is not None and fact.estimate
        sub = fact is not None and fact.part_of
        beside = fact is not None and not sub and fact.not_counted
        label = domain + (f" (in {fact.part_of})" if sub and fact else "") \
            + (" (estimate)" if estimate else "") + (", not in the total" if beside else "")
        linestyle = ":" if sub else (style.ESTIMATE_LINESTYLE if estimate
                                      else style.LINESTYLES[nth % len(style.LINESTYLES)])
        marker = "o" if len(t) < 3 else None
        (line,) = ax.plot(t, values, color=color, linestyle=linestyle, marker=marker,
                          linewidth=0.7 if sub else 1.0, label=label)
        handles.append(line)
        if not sub and not beside:
            top.append(values)
            top_estimated = top_estimated or estimate
    if len(top) > 1:
        # a sum with an estimated part is an estimate, and drawn as one
        total = [math.fsum(v[k] for v in top) for k in range(len(t))]
        (line,) = ax.plot(t, total, color=style.TOTAL_COLOUR, linewidth=1.0,
                          linestyle=style.ESTIMATE_LINESTYLE if top_estimated else "-",
                          label="total of top-level domains"
                          + (" (estimate)" if top_estimated else ""))
        handles.append(line)
    return handles


def _shade_phases(ax: Axes, phases: list[dict[str, Any]]) -> list[Any]:
    """Translucent spans behind the lines; repeats alternate in strength so each stands out."""
    from matplotlib.patches import Patch

    seen: list[str] = []
    repeat_no = 0
    for p in phases:
        kind = _phase_kind(str(p.get("name", "")))
        if kind is None:
            continue
        alpha = 0.25
        if kind == "repeat":
            alpha = 0.35 if repeat_no % 2 == 0 else 0.2
            repeat_no += 1
        ax.axvspan(float(p["start_s"]), float(p["end_s"]), color=style.PHASE_COLOURS[kind],
                   alpha=alpha, linewidth=0, zorder=0)
        if kind not in seen:
            seen.append(kind)
    return [Patch(color=style.PHASE_COLOURS[k], alpha=0.3, label=_PHASE_LABELS[k])
            for k in ("warmup", "idle", "repeat") if k in seen]


def _phase_kind(name: str) -> str | None:
    if name.startswith("repeat"):
        return "repeat"
    return name if name in ("warmup", "idle") else None


def _first_phase(trace: dict[str, Any]) -> float:
    return min((float(p["start_s"]) for p in trace.get("phases") or []), default=math.inf)


def _last_phase(trace: dict[str, Any]) -> float:
    return max((float(p["end_s"]) for p in trace.get("phases") or []), default=-math.inf)


def _num(value: Any) -> float:
    """A power sample; a missing one (a failed read) becomes a gap in the line."""
    return math.nan if value is None else float(value)
