"""The result of one measured window: duration and energy per domain, each with its method.

Every energy figure says how it was obtained (``method``): ``counter`` (difference of an energy
counter), ``power`` (polled power integrated by the trapezoid rule), ``estimate`` (a model's
figure for the window, from its inputs at the window's edges) or ``attributed`` (a measured
figure shared out by a rule, e.g. a shared GPU's energy by SM utilisation: not measured either),
and from which ``source`` (``rapl``, ``nvml``, ``estimate:cpu-tdp``, ...).

Which domains add up to a window's total is decided here, once:

- a domain ``part_of`` another (``cpu-core:0`` inside ``cpu-package:0``) is shown, never added;
- a domain with ``not_counted`` set is recorded but left out, with the reason: a GPU the case
  does not run on (``not attributed``), or a *constant* model (RAM power from its size) beside
  a total, unless the user asked for constants to be included.

So is "is this an estimate": a window is an estimate when a domain in its total is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: a measured figure shared out by a rule (greenbench.gpu_share): not a measurement
ATTRIBUTED = "attributed"
#: methods whose figures are not measurements
NOT_MEASURED = frozenset({"estimate", ATTRIBUTED})


@dataclass
class DomainEnergy:
    domain: str
    energy_j: float | None
    method: str
    source: str
    mean_power_w: float | None
    peak_power_w: float | None
    samples: int
    resolution_j: float = 0.0
    part_of: str | None = None
    #: energy from the sensor's independent cross-check (e.g. polled power beside a counter)
    cross_check_energy_j: float | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: a constant model (RAM power from its size): reported beside measured totals
    constant: bool = False
    #: why this domain is recorded but not in the total (None: it is in the total)
    not_counted: str | None = None

    @property
    def is_estimate(self) -> bool:
        """True when the figure is not a measurement (a model's, or an attributed share)."""
        return self.method in NOT_MEASURED

    @property
    def counted(self) -> bool:
        """True when this domain adds to the window's total."""
        return self.part_of is None and self.not_counted is None


@dataclass
class Measurement:
    name: str
    start_s: float
    end_s: float
    domains: list[DomainEnergy]
    warnings: list[str] = field(default_factory=list)
    #: wall-clock time (Unix seconds) at the start, for time-varying carbon intensity
    start_wall_s: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def top_level(self) -> list[DomainEnergy]:
        """Domains that add up to the total (see the module docstring)."""
        return [d for d in self.domains if d.counted]

    def beside(self) -> list[DomainEnergy]:
        """Domains recorded beside the total: not attributed, or constant models left out."""
        return [d for d in self.domains if d.part_of is None and d.not_counted is not None]

    @property
    def constant_j(self) -> float | None:
        """Energy of the constant models left out of the total (None: there are none)."""
        parts = [d for d in self.beside() if d.constant and d.energy_j is not None]
        return sum(d.energy_j for d in parts if d.energy_j is not None) if parts else None

    @property
    def energy_j(self) -> float | None:
        """Sum over top-level domains; None when a top-level domain failed to read."""
        parts = self.top_level()
        if not parts or any(d.energy_j is None for d in parts):
            return None
        return sum(d.energy_j for d in parts if d.energy_j is not None)

    @property
    def method(self) -> str:
        """``counter``, ``power``, ``estimate``, or ``mixed`` when the domains differ."""
        methods = {d.method for d in self.top_level()}
        if len(methods) == 1:
            return methods.pop()
        return "mixed" if methods else "none"

    @property
    def is_estimate(self) -> bool:
        return any(d.is_estimate for d in self.top_level())

    @property
    def mean_power_w(self) -> float | None:
        e = self.energy_j
        if e is None or self.duration_s <= 0:
            return None
        return e / self.duration_s

    def domain(self, name: str) -> DomainEnergy:
        for d in self.domains:
            if d.domain == name:
                return d
        raise KeyError(name)

    @classmethod
    def joined(cls, parts: Sequence[Measurement], name: str) -> Measurement:
        """Windows that tile a span (each starting where the last ended), as one window of
        the span: energies and samples add, peaks take the highest, warnings are kept."""
        if not parts:
            raise ValueError("no windows to join")
        domains = []
        for d in parts[0].domains:
            same = [p.domain(d.domain) for p in parts]
            energies = [x.energy_j for x in same]
            peaks = [x.peak_power_w for x in same if x.peak_power_w is not None]
            energy = None if any(e is None for e in energies) else \
                sum(e for e in energies if e is not None)
            duration = parts[-1].end_s - parts[0].start_s
            domains.append(replace(
                d, energy_j=energy,
                mean_power_w=None if energy is None or duration <= 0 else energy / duration,
                peak_power_w=max(peaks) if peaks else None,
                samples=sum(x.samples for x in same),
                cross_check_energy_j=None,
                error=next((x.error for x in same if x.error), None),
                warnings=list(dict.fromkeys(w for x in same for w in x.warnings))))
        return cls(name, parts[0].start_s, parts[-1].end_s, domains,
                   list(dict.fromkeys(w for p in parts for w in p.warnings)),
                   parts[0].start_wall_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_wall_s": self.start_wall_s,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "method": self.method,
            "mean_power_w": self.mean_power_w,
            "estimate": self.is_estimate,
            "domains": [
                asdict(d) for d in self.domains
            ],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Inverse of :meth:`to_dict`. The derived figures (``energy_j``, ``method``,
        ``estimate``, ...) are recomputed from the domains, never trusted from the document."""
        known = set(DomainEnergy.__dataclass_fields__)
        unread = {"energy_j": None, "mean_power_w": None, "peak_power_w": None, "samples": 0}
        domains = [DomainEnergy(**{**unread, **{k: v for k, v in d.items() if k in known}})
                   for d in data.get("domains") or []]
        start_s = float(data.get("start_s") or 0.0)
        end_s = data.get("end_s")
        if end_s is None:
            end_s = start_s + float(data.get("duration_s") or 0.0)
        return cls(
            name=str(data.get("name") or ""),
            start_s=start_s,
            end_s=float(end_s),
            domains=domains,
            warnings=list(data.get("warnings", [])),
            start_wall_s=data.get("start_wall_s"),
        )
