"""Which setting to run at: the energy-time trade-off of a measured grid, and three picks.

Each ok case of a sweep is a point: its gross energy per unit (``energy_per_unit_j``,
everything the case's devices drew, idle power included, because that is what running at
that setting costs) and its time per unit (``time_s`` over the units a step does), both
medians over the repeats with their 95% intervals. Per unit, not per step, so that batch
sizes compare. The objectives (docs/optimize.md):

- **least energy**: the lowest median energy per unit;
- **least time**: the lowest median time per unit;
- **least energy within the slowdown bound**: the lowest energy among the points whose
  median time is at most ``1 + max_slowdown`` times the fastest point's (Zeus's
  ``MaxSlowdownConstraint``, there relative to the time at the highest power limit; here
  relative to the fastest setting measured, which is that point when only the limit is
  swept);
- optionally **ZeusCost(eta)** = ``eta * E + (1 - eta) * MaxPower * T`` per unit, with
  MaxPower the GPU's highest allowed limit (Zeus's cost, which prices time in joules).

A pick whose interval overlaps the runner-up's (the next best point on the same
objective) is not told apart from it by these repeats, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenbench.records import CaseRecord, RunRecord
from greenbench.units import fmt_duration, fmt_energy, fmt_percent

ENERGY = "energy_per_unit_j"
TIME = "time_s"


@dataclass(frozen=True)
class Figure:
    """A median per unit with its interval (None where the repeats give none)."""

    median: float
    low: float | None
    high: float | None

    def overlaps(self, other: Figure) -> bool:
        if None in (self.low, self.high, other.low, other.high):
            return True  # without intervals nothing is told apart
        assert self.low is not None and self.high is not None
        assert other.low is not None and other.high is not None
        return self.low <= other.high and other.low <= self.high


@dataclass(frozen=True)
class Point:
    index: int
    setting: dict[str, Any]
    energy: Figure
    time: Figure
    unit: str
    estimate: bool

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.setting.items())

    def cost(self, eta: float, max_power_w: float) -> Figure:
        """ZeusCost per unit, J; its interval joins the ends of both (a conservative one)."""
        def at(e: float | None, t: float | None) -> float | None:
            return None if e is None or t is None else eta * e + (1 - eta) * max_power_w * t

        return Figure(at(self.energy.median, self.time.median) or 0.0,
                      at(self.energy.low, self.time.low), at(self.energy.high, self.time.high))


@dataclass(frozen=True)
class Pick:
    objective: str
    point: Point | None
    runner_up: Point | None = None
    #: the figure the objective ranks by, for the pick and the runner-up
    figure: Figure | None = None
    runner_up_figure: Figure | None = None
    note: str = ""

    @property
    def overlaps(self) -> bool:
        return (self.figure is not None and self.runner_up_figure is not None
                and self.figure.overlaps(self.runner_up_figure))


def points(record: RunRecord, over: Sequence[str]) -> tuple[list[Point], list[str]]:
    """The run's measured settings, and one line for each case left out (failed, no
    energy figure)."""
    out: list[Point] = []
    left_out: list[str] = []
    for index, case in enumerate(record.cases):
        setting = {k: case.params.get(k) for k in over}
        shown = ", ".join(f"{k}={v}" for k, v in setting.items())
        energy = case.summary.get(ENERGY)
        time = case.summary.get(TIME)
        if case.status != "ok" or energy is None or time is None:
            why = case.error or "no energy figure" if case.status == "ok" else \
                f"{case.status}: {case.error}"
            left_out.append(f"{shown}: left out ({why})")
            continue
        per = case.units_per_step or 1.0
        out.append(Point(index, setting, Figure(energy.median, energy.ci_low, energy.ci_high),
                         Figure(time.median / per, _div(time.ci_low, per),
                                _div(time.ci_high, per)),
                         case.unit, _is_estimate(case)))
    return out, left_out


def recommend(found: Sequence[Point], max_slowdown: float | None = None,
              eta: float | None = None, max_power_w: float | None = None) -> list[Pick]:
    """The picks for each objective asked (least energy and least time always)."""
    if not found:
        return []
    picks = [_best("least energy", found, lambda p: p.energy),
             _best("least time", found, lambda p: p.time)]
    if max_slowdown is not None:
        fastest = min(found, key=lambda p: p.time.median)
        bound = fastest.time.median * (1 + max_slowdown)
        within = [p for p in found if p.time.median <= bound]
        objective = (f"least energy within {fmt_percent(max_slowdown)} slowdown (time at most "
                     f"{fmt_duration(bound)} per {_singular(fastest.unit)})")
        picks.append(_best(objective, within, lambda p: p.energy))
    if eta is not None and max_power_w is not None:
        picks.append(_best(f"least ZeusCost(eta={eta:g}), MaxPower {max_power_w:g} W", found,
                           lambda p: p.cost(eta, max_power_w)))
    return picks


def describe(pick: Pick) -> str:
    """One line: the objective, the setting and its figures, and whether it is told apart
    from the runner-up."""
    p = pick.point
    if p is None:
        return f"{pick.objective}: no setting qualifies"
    unit = _singular(p.unit)
    line = (f"{pick.objective}: {p.label}: {_shown(p.energy, fmt_energy)} and "
            f"{_shown(p.time, fmt_duration)} per {unit}")
    if "ZeusCost" in pick.objective and pick.figure is not None:
        line += f", cost {_shown(pick.figure, fmt_energy)}"
    if pick.runner_up is None:
        return line + " (the only setting)"
    if pick.overlaps:
        return (line + f"; its 95% CI overlaps the runner-up's ({pick.runner_up.label}): "
                "these repeats do not tell the two apart")
    return line + f"; ahead of the runner-up ({pick.runner_up.label}) beyond the 95% CIs"


def default_limits(low_w: float, high_w: float, count: int = 5) -> list[float]:
    """``count`` limits from the lowest allowed to the highest, whole watts, highest first."""
    if count < 2 or high_w <= low_w:
        return [high_w]
    step = (high_w - low_w) / (count - 1)
    values = [float(round(high_w - i * step)) for i in range(count)]
    return list(dict.fromkeys(min(max(v, low_w), high_w) for v in values))


def _best(objective: str, candidates: Sequence[Point], figure: Any) -> Pick:
    ranked = sorted(candidates, key=lambda p: figure(p).median)
    if not ranked:
        return Pick(objective, None)
    best = ranked[0]
    second = ranked[1] if len(ranked) > 1 else None
    return Pick(objective, best, second, figure(best),
                figure(second) if second is not None else None)


def _shown(f: Figure, fmt: Any) -> str:
    if f.low is None or f.high is None:
        return fmt(f.median)
    return f"{fmt(f.median)} [{fmt(f.low)}, {fmt(f.high)}]"


def _is_estimate(case: CaseRecord) -> bool:
    return any(r.measurement.is_estimate for r in case.repeats)


def _div(value: float | None, by: float) -> float | None:
    return None if value is None else value / by


def _singular(unit: str) -> str:
    from greenbench.units import singular

    return singular(unit)


def energy_methods(record: RunRecord) -> list[str]:
    """How the energy figures were obtained: each counted domain's method and sensor."""
    from greenbench.units import method_label

    seen: dict[str, str] = {}
    for case in record.cases:
        for r in case.repeats:
            for d in r.measurement.top_level():
                seen.setdefault(d.domain, method_label(d.method, d.source))
    return [f"{domain}: {how}" for domain, how in seen.items()]
