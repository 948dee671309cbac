"""Every figure greenbench reports, declared once: its result key, the name users write, its
unit, its label, which way is better, whether it comes from the energy sensors, and how it
aggregates across hosts. The gate, compare, plots, reports, the pytest plugin and the runner
all read this table.

Per-repeat figures are per step (one call of the workload's step, one call of a benchmarked
function); ``domain:<name>:energy_j`` and ``phase:<name>:energy_j`` are energies per step of
one domain or one named phase; ``quality:<name>`` and ``metric:<name>`` are the workload's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Aggregate = Literal["sum", "max", "mean", "none"]


@dataclass(frozen=True)
class Metric:
    #: the key in a repeat's metrics and a case's summary
    key: str
    #: the short name users write in rules and options (``energy``, ``time``)
    name: str
    #: SI unit (``J``, ``s``, ``W``, ``/s``: per second of the case's unit)
    unit: str
    #: the label of an axis or column; ``{unit}`` is the case's unit, singular
    label: str
    lower_is_better: bool = True
    #: it comes from the energy sensors: an estimate there makes it an estimate
    energy_like: bool = True
    #: it can never be below zero (gross energies, times, powers, rates)
    nonnegative: bool = True
    #: how it combines across hosts of one job: energies and powers add, times take the
    #: longest, rates add
    aggregate: Aggregate = "sum"


METRICS: tuple[Metric, ...] = (
    Metric("energy_j", "energy", "J", "Energy per step"),
    Metric("energy_per_unit_j", "energy_per_unit", "J", "Energy per {unit}"),
    Metric("net_energy_j", "net_energy", "J", "Net energy per step", nonnegative=False),
    Metric("net_energy_per_unit_j", "net_energy_per_unit", "J", "Net energy per {unit}",
           nonnegative=False),
    Metric("time_s", "time", "s", "Time per step", energy_like=False, aggregate="max"),
    Metric("power_w", "power", "W", "Mean power"),
    Metric("throughput_per_s", "throughput", "/s", "Throughput", lower_is_better=False,
           energy_like=False),
)
BY_KEY = {m.key: m for m in METRICS}
BY_NAME = {m.name: m for m in METRICS}


def get(key: str) -> Metric | None:
    """The declaration of a result key, including per-domain and per-phase energies."""
    if key in BY_KEY:
        return BY_KEY[key]
    kind, _, rest = key.partition(":")
    if kind in ("domain", "phase") and rest.endswith(":energy_j"):
        part = rest.removesuffix(":energy_j")
        what = "energy per step" if kind == "domain" else "phase energy per step"
        return Metric(key, key, "J", f"{part} {what}")
    return None


def by_name(name: str) -> Metric | None:
    """A metric by the short name users write (``energy``) or by its key."""
    return BY_NAME.get(name) or BY_KEY.get(name)


def is_energy_metric(key: str) -> bool:
    """True for figures that come from the energy sensors (energies and power). A workload's
    own figure that is not declared counts when its name says energy or power: marking it as
    an estimate with the rest errs on the honest side."""
    m = get(key)
    if m is None:
        return "energy" in key or key.endswith("power_w")
    return m.energy_like


def is_nonnegative(key: str) -> bool:
    m = get(key)
    return m is not None and m.nonnegative


def label(key: str, unit_name: str = "unit") -> tuple[str, str] | None:
    """(label, SI unit) of a declared metric, the case's unit filled in (``Energy per token``,
    ``tokens/s``); None if undeclared."""
    from greenbench.units import singular

    m = get(key)
    if m is None:
        return None
    unit = f"{unit_name}/s" if m.unit == "/s" else m.unit
    return m.label.format(unit=singular(unit_name)), unit
