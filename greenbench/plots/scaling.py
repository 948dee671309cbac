"""``scaling``: a metric against a swept parameter on log-log axes, with growth exponents.

Each series (a variant, e.g. an attention mechanism) is fitted with ``y = a x^b`` by least
squares on the logs. ``b`` is given twice in the legend: over all points, and over the largest
few x only (:data:`TAIL_POINTS`), because fixed costs flatten the small end and the asymptotic
exponent (2 for softmax attention's energy per step against sequence length, 1 for a linear
mechanism) shows only at the large end.

Each exponent is given with the half-width of its 95% interval (Student's t on the fit's
residuals: ``b = 1.87 ± 0.12``); a three-point tail has one degree of freedom, so its interval
is wide, and says so. A fit is *not meaningful* (:func:`fit_caveat`), and says so in the
legend and the note, when it goes through two points only (a line always fits two: nothing
is left to test it, and there is no interval), or when a per-step figure (energy, time per
step) comes out with a negative exponent: a larger step cannot cost less, so fixed costs or
noise dominate. Per-unit figures and throughput may fall legitimately (fixed costs amortised
over more work).

Fit lines of series whose energy is estimated are dashed, like the trace's estimated domains,
and their markers open.

In a run that mixes workloads each workload gets its own lines (one per setting of its other
varying parameters); cases that lack the x parameter are named under the plot, not drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from greenbench.distributions import t_ppf
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
    is_number,
    key_of,
    param_label,
    quantity,
    resolve_metric,
    select_cases,
    swept_by_workload,
    units_note,
    variant_names,
)
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_METRIC = "energy_j"
#: the exponent is fitted a second time over this many of the largest x values
TAIL_POINTS = 3
#: figures per step of the workload: their cost cannot fall as the step grows
PER_STEP_METRICS = ("energy_j", "net_energy_j", "time_s")
HEIGHT_IN = 2.4


@dataclass(frozen=True)
class PowerFit:
    """``y = prefactor * x ** exponent``, least squares on ``log y`` against ``log x``.

    ``stderr`` is the exponent's standard error (None with two points); ``r2`` the fit's
    coefficient of determination on the log scale (None when every log y is the same).
    """

    exponent: float
    prefactor: float
    n: int
    x_min: float
    x_max: float
    stderr: float | None
    r2: float | None


@dataclass(frozen=True)
class Series:
    """One line of a scaling plot: its label, points (x, stat, estimate) and fits."""

    label: str
    points: list[tuple[float, Stat, bool]]
    fit: PowerFit | None
    tail_fit: PowerFit | None
    #: the result key fitted (whether a negative exponent can mean anything depends on it)
    metric: str = DEFAULT_METRIC

    @property
    def estimate(self) -> bool:
        """True when some point's energy comes from a power model."""
        return any(p[2] for p in self.points)


def fit_caveat(fit: PowerFit, metric: str = DEFAULT_METRIC) -> str | None:
    """Why ``fit`` is not meaningful (``"not meaningful: ..."``), or None when it is."""
    if fit.n <= 2:
        return "not meaningful: a line through 2 points always fits (no error estimate)"
    if metric in PER_STEP_METRICS and fit.exponent < 0:
        return ("not meaningful: a negative exponent for a per-step figure (a larger step "
                "cannot cost less: fixed costs or noise dominate)")
    return None


def exponent_interval(fit: PowerFit) -> float | None:
    """The half-width of the exponent's 95% interval; None without residuals (2 points)."""
    if fit.stderr is None or fit.n <= 2:
        return None
    return t_ppf(0.975, fit.n - 2) * fit.stderr


def fit_power_law(xs: Sequence[float], ys: Sequence[float]) -> PowerFit | None:
    """Fit ``y = a x^b``; None with fewer than two distinct positive x (or non-positive y)."""
    import numpy as np

    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)
             if x > 0 and y > 0 and math.isfinite(x) and math.isfinite(y)]
    if len({x for x, _ in pairs}) < 2:
        return None
    lx = np.log([x for x, _ in pairs])
    ly = np.log([y for _, y in pairs])
    slope, intercept = np.polyfit(lx, ly, 1)
    residuals = ly - (slope * lx + intercept)
    n = len(pairs)
    stderr = None
    if n > 2:
        sxx = float(np.sum((lx - lx.mean()) ** 2))
        stderr = math.sqrt(float(np.sum(residuals**2)) / (n - 2) / sxx)
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residuals**2)) / total if total > 0 else None
    xs_used = [x for x, _ in pairs]
    return PowerFit(float(slope), math.exp(float(intercept)), n, min(xs_used), max(xs_used),
                    stderr, r2)


def scaling_series(runs: Sequence[RunRecord], x: str | None = None,
                   metric: str = DEFAULT_METRIC, *, selector: str | None = None
                   ) -> tuple[str, str, list[Series], list[str]]:
    """(x parameter, metric key, one Series per line, notes) without drawing anything."""
    refs = select_cases(runs, selector)
    key = resolve_metric(metric, refs)
    x = resolve_x(refs, x)
    names = Names(refs)
    notes: list[str] = []
    # A workload that lacks x, or ran a single value of it, has nothing to scale.
    lacking = [r for r in refs if not _on_x(r, x, names)]
    why = {r.case.workload: f"no {x}" if r.case.params.get(x) is None else f"{x} not swept"
           for r in lacking}
    if why:
        notes.append("not shown: " + ", ".join(f"{w} ({reason})" for w, reason in why.items()))
    groups: dict[tuple[Any, ...], tuple[list[str], list[CaseRef]]] = {}
    for r in refs:
        if r in lacking:
            continue
        keys = [k for k in names.keys(r) if k != x]
        groups.setdefault(key_of(r, keys), (keys, []))[1].append(r)
    out: list[Series] = []
    for keys, members in groups.values():
        points, dropped = [], 0
        for r in members:
            s = r.stat(key)
            if s is None or s.median <= 0:
                dropped += 1
                continue
            points.append((float(r.case.params[x]), s, r.estimate))
        points.sort(key=lambda p: p[0])
        label = describe(members[0], keys) if keys else members[0].case.workload
        if dropped:
            notes.append(f"{label}: {dropped} point(s) without a positive {key} left out")
        if not points:
            continue
        xs = [p[0] for p in points]
        ys = [p[1].median for p in points]
        fit = fit_power_law(xs, ys)
        tail = fit_power_law(xs[-TAIL_POINTS:], ys[-TAIL_POINTS:]) \
            if len(points) > TAIL_POINTS else None
        out.append(Series(label, points, fit, tail, key))
        notes += fit_notes(out[-1])
    return x, key, out, notes


def fit_notes(s: Series) -> list[str]:
    """A note for each of the series' fits that is not meaningful, with the reason."""
    notes = []
    for name, fit in (("b", s.fit), (f"top {TAIL_POINTS}", s.tail_fit)):
        caveat = fit_caveat(fit, s.metric) if fit is not None else None
        if fit is not None and caveat:
            notes.append(f"{s.label}: {name} = {fit.exponent:.2f}, {caveat}")
    return notes


def plot_scaling(runs: Sequence[RunRecord], x: str | None = None,
                 metric: str = DEFAULT_METRIC, *, selector: str | None = None,
                 width_in: float = style.COLUMN_WIDTH_IN) -> Figure:
    """``metric`` (energy per step by default, J) against parameter ``x``, log-log, one line
    per variant with the fitted exponent ``b`` of ``y ∝ x^b`` in the legend."""
    from matplotlib.lines import Line2D

    x, key, series, notes = scaling_series(runs, x, metric, selector=selector)
    chosen = select_cases(runs, selector)
    names = Names(chosen)
    refs = [r for r in chosen if _on_x(r, x, names)]
    xs_all = sorted({p[0] for s in series for p in s.points})
    what, unit = quantity(key, common_unit(refs))
    mixed_units = units_note(refs, key)
    legend_rows = len(series) + any(p[2] for s in series for p in s.points)
    with style.context():
        fig = style.new_figure(width_in, HEIGHT_IN + 0.14 * legend_rows)
        ax = fig.add_subplot()
        handles: list[Any] = []
        for i, s in enumerate(series):
            color, marker = style.colour(i), style.marker(i)
            _draw_series(ax, s, color, marker)
            handles.append(Line2D([], [], color=color, marker=marker,
                                  linestyle=style.ESTIMATE_LINESTYLE if s.estimate else "-",
                                  label=style.legend_label(legend_label(s), width_in)))
        if any(s.estimate for s in series):
            handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="white",
                                  linestyle=style.ESTIMATE_LINESTYLE,
                                  label="open marker, dashed fit: estimate"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        if 1 < len(xs_all) <= 10:
            from matplotlib.ticker import NullLocator

            ax.set_xticks(xs_all, [f"{v:g}" for v in xs_all])
            # x only: the y axis keeps its minor ticks, labelled when it spans under a decade
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(param_label(x, xs_all))
        ax.set_ylabel(axis_label(what, unit))
        ax.grid(True, which="major")
        ncols = style.legend_columns([h.get_label() for h in handles], width_in)
        fig.legend(handles=handles, loc="outside upper center", ncols=ncols)
        notes = [f"b: exponent of a least-squares fit y = a x^b on log-log axes, ± its 95% "
                 f"interval; 'top {TAIL_POINTS}': over the {TAIL_POINTS} largest x only",
                 *([mixed_units] if mixed_units else []), *notes]
        style.add_note(fig, notes)
        style.fit_height(fig, {ax: _AXES_IN})
    return fig


#: the height of the plotting area, whatever the legend and notes take
_AXES_IN = 1.6


def _on_x(ref: CaseRef, x: str, names: Names) -> bool:
    """Whether ``ref`` is drawn against ``x``: it has a number for it, and its workload's
    cases take more than one value of it."""
    return is_number(ref.case.params.get(x)) and x in names.varying.get(ref.case.workload, [])


def legend_label(s: Series) -> str:
    """``softmax: b = 1.62 ± 0.10 (top 3: 1.97 ± 0.84)``; says so when there is nothing to
    fit, and marks a fit that is not meaningful (:func:`fit_caveat`; the note under the plot
    says why)."""
    if s.fit is None:
        return f"{s.label}: no fit (one x value)"
    text = f"{s.label}: b = {_exponent(s.fit, s.metric)}"
    if s.tail_fit is not None:
        text += f" (top {TAIL_POINTS}: {_exponent(s.tail_fit, s.metric)})"
    return text


def _exponent(fit: PowerFit, metric: str) -> str:
    half = exponent_interval(fit)
    return f"{fit.exponent:.2f}" + (f" ± {half:.2f}" if half is not None else "") \
        + (", not meaningful" if fit_caveat(fit, metric) else "")


def resolve_x(refs: Sequence[CaseRef], x: str | None) -> str:
    """The swept numeric parameter to put on the x axis; UserError naming what was swept."""
    facets = {k: v for k, v in swept_by_workload(refs).items() if k not in (RUN, WORKLOAD)}
    numeric = [k for k, values in facets.items() if all(is_number(v) for v in values)]
    described = ", ".join(f"{k} ({'numeric' if k in numeric else 'not numeric'})"
                          for k in facets) or "none"
    if x is None:
        variants = variant_names(refs)
        candidates = [k for k in numeric if k not in variants] or numeric
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            fixed = ", ".join(f"{k}={v}" for k, v in refs[0].case.params.items())
            raise UserError("scaling needs a numeric parameter swept over several values; "
                            f"swept parameters: {described}"
                            + (f" (every case has {fixed})" if not facets and fixed else ""))
        raise UserError(f"several numeric parameters were swept ({', '.join(candidates)}): "
                        "choose one with --x")
    if x not in facets:
        held = {r.case.workload: r.case.params[x] for r in refs if x in r.case.params}
        single = (" (one value per workload: "
                  + ", ".join(f"{w} {v}" for w, v in held.items()) + ")") if held else ""
        raise UserError(f"--x {x}: not swept in these cases{single}; "
                        f"swept parameters: {described}")
    if x not in numeric:
        raise UserError(f"--x {x}: its values are not numbers ({', '.join(map(str, facets[x]))})"
                        f"; scaling needs a numeric parameter; swept parameters: {described}")
    if any(v <= 0 for v in facets[x]):
        raise UserError(f"--x {x}: log axes need positive values, got {min(facets[x])}")
    return x


def _draw_series(ax: Any, s: Series, color: str, marker: str) -> None:
    xs = [p[0] for p in s.points]
    ys = [p[1].median for p in s.points]
    errs = [p[1].err() for p in s.points]
    # Whiskers may not reach below zero on a log axis: clip the low end just above it.
    low = [min(e[0], y * 0.999) for e, y in zip(errs, ys, strict=True)]
    ax.errorbar(xs, ys, yerr=[low, [e[1] for e in errs]], fmt="none", ecolor=color,
                elinewidth=0.6)
    for estimate in (False, True):
        chosen = [(x, y) for (x, _, est), y in zip(s.points, ys, strict=True) if est == estimate]
        if chosen:
            ax.plot([c[0] for c in chosen], [c[1] for c in chosen], linestyle="none",
                    marker=marker, color=color, markerfacecolor="white" if estimate else color,
                    zorder=3)
    if s.fit is not None:
        fit = s.fit
        ax.plot([fit.x_min, fit.x_max],
                [fit.prefactor * fit.x_min**fit.exponent, fit.prefactor * fit.x_max**fit.exponent],
                color=color, linewidth=0.8,
                linestyle=style.ESTIMATE_LINESTYLE if s.estimate else "-", gid="fit-line")
