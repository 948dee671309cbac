"""One job-wide figure from every rank's part of a collective window.

The parts are reduced by what each figure is, as greenbench.metrics declares it: energies add
(each host's domains once, as the election assigned them; a process-scope estimate once per
rank), the duration is the longest rank's, and a machine-level reading is never averaged
across hosts. The per-host and per-domain breakdown is kept beside the total. A window that
misses a rank's part is ``partial``: its hosts are named, and it has no total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from greenbench import metrics
from greenbench.distributed.identity import RankIdentity
from greenbench.measurement import DomainEnergy, Measurement

#: ranks leave a collective window's edge within milliseconds of each other; wall clocks
#: further apart than this at the same edge are not in step (NTP off, a container's clock)
CLOCK_TOLERANCE_S = 0.5


@dataclass
class HostEnergy:
    host_id: str
    hostname: str
    ranks: list[int]
    domains: list[DomainEnergy]
    #: domain -> the ranks whose readings it holds
    readers: dict[str, list[int]] = field(default_factory=dict)

    @property
    def counted(self) -> list[DomainEnergy]:
        return [d for d in self.domains if d.counted]

    @property
    def energy_j(self) -> float | None:
        parts = [d.energy_j for d in self.counted]
        if not parts or any(e is None for e in parts):
            return None
        return sum(e for e in parts if e is not None)

    @property
    def is_estimate(self) -> bool:
        return any(d.is_estimate for d in self.counted)

    def to_dict(self) -> dict[str, Any]:
        return {"host_id": self.host_id, "hostname": self.hostname, "ranks": self.ranks,
                "energy_j": self.energy_j, "estimate": self.is_estimate,
                "readers": self.readers, "domains": [asdict(d) for d in self.domains]}


@dataclass
class JobMeasurement:
    name: str
    duration_s: float
    start_wall_s: float | None
    hosts: list[HostEnergy]
    expected_hosts: list[str]
    missing_hosts: list[str] = field(default_factory=list)
    missing_ranks: list[int] = field(default_factory=list)
    clock_spread_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.missing_ranks)

    @property
    def energy_j(self) -> float | None:
        """The job's energy: every host's, each counted once; None for a partial window (a
        total over fewer hosts would understate it) or a failed read."""
        if self.partial:
            return None
        per_host = [h.energy_j for h in self.hosts]
        if not per_host or any(e is None for e in per_host):
            return None
        return _aggregate("energy_j", [e for e in per_host if e is not None])

    @property
    def reported_energy_j(self) -> float | None:
        """The energy of the hosts that reported, for a partial window's breakdown."""
        per_host = [e for h in self.hosts if (e := h.energy_j) is not None]
        return sum(per_host) if per_host else None

    @property
    def is_estimate(self) -> bool:
        return any(h.is_estimate for h in self.hosts)

    @property
    def mean_power_w(self) -> float | None:
        e = self.energy_j
        return None if e is None or self.duration_s <= 0 else e / self.duration_s

    def host(self, host_id: str) -> HostEnergy:
        for h in self.hosts:
            if h.host_id == host_id:
                return h
        raise KeyError(host_id)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "duration_s": self.duration_s,
                "start_wall_s": self.start_wall_s, "energy_j": self.energy_j,
                "estimate": self.is_estimate, "partial": self.partial,
                "expected_hosts": self.expected_hosts, "missing_hosts": self.missing_hosts,
                "missing_ranks": self.missing_ranks, "clock_spread_s": self.clock_spread_s,
                "warnings": self.warnings, "hosts": [h.to_dict() for h in self.hosts]}


def window_part(rank: int, m: Measurement, end_wall_s: float) -> dict[str, Any]:
    """What one rank contributes to a window: its measurement and its clocks at the edges."""
    return {"rank": rank, "measurement": m.to_dict(), "start_wall_s": m.start_wall_s,
            "end_wall_s": end_wall_s}


def combine(name: str, parts: Mapping[int, Mapping[str, Any]],
            identities: Sequence[RankIdentity], missing: Sequence[int] = ()) -> JobMeasurement:
    """The job's window from the parts that arrived (``missing``: ranks whose did not)."""
    by_rank = {i.rank: i for i in identities}
    expected = list(dict.fromkeys(i.host_id for i in sorted(identities, key=lambda i: i.rank)))
    measured = {r: Measurement.from_dict(p["measurement"]) for r, p in parts.items()}
    hosts: dict[str, HostEnergy] = {}
    for rank in sorted(measured):
        ident = by_rank[rank]
        host = hosts.setdefault(ident.host_id, HostEnergy(ident.host_id, ident.hostname, [], []))
        host.ranks.append(rank)
        for d in measured[rank].domains:
            _add(host, d, rank)
    durations = [m.duration_s for m in measured.values()]
    starts = [p["start_wall_s"] for p in parts.values() if p.get("start_wall_s") is not None]
    spread = max(starts) - min(starts) if starts else 0.0
    warnings = [w for m in measured.values() for w in m.warnings]
    if spread > CLOCK_TOLERANCE_S:
        warnings.append(f"the ranks' wall clocks differ by {spread:.3g} s at the same window "
                        f"edge (more than {CLOCK_TOLERANCE_S:g} s): synchronise them (NTP), "
                        "or carbon intensities by time of day will be looked up wrongly")
    missing_hosts = list(dict.fromkeys(by_rank[r].host_id for r in missing if r in by_rank))
    if missing:
        warnings.append(f"partial: no report from rank(s) {', '.join(map(str, missing))} "
                        f"(host(s) {', '.join(missing_hosts)}) in time; no job total")
    return JobMeasurement(
        name=name,
        duration_s=_aggregate("time_s", durations) if durations else 0.0,
        start_wall_s=min(starts) if starts else None,
        hosts=[hosts[h] for h in expected if h in hosts],
        expected_hosts=expected, missing_hosts=missing_hosts, missing_ranks=sorted(missing),
        clock_spread_s=spread, warnings=list(dict.fromkeys(warnings)),
    )


def _add(host: HostEnergy, d: DomainEnergy, rank: int) -> None:
    """A rank's domain into its host: the same process-scope domain from several ranks adds
    up (each rank's own CPU time); the election gives every other domain one reader."""
    for i, mine in enumerate(host.domains):
        if mine.domain == d.domain and mine.source == d.source:
            host.domains[i] = _sum(mine, d)
            host.readers[d.domain].append(rank)
            return
    host.domains.append(d)
    host.readers[d.domain] = [rank]


def _sum(a: DomainEnergy, b: DomainEnergy) -> DomainEnergy:
    def add(x: float | None, y: float | None) -> float | None:
        return None if x is None or y is None else x + y

    return DomainEnergy(
        domain=a.domain, energy_j=add(a.energy_j, b.energy_j), method=a.method,
        source=a.source, mean_power_w=add(a.mean_power_w, b.mean_power_w),
        peak_power_w=None, samples=a.samples + b.samples,
        resolution_j=a.resolution_j + b.resolution_j, part_of=a.part_of,
        error=a.error or b.error, warnings=list(dict.fromkeys(a.warnings + b.warnings)),
        constant=a.constant, not_counted=a.not_counted,
    )


def _aggregate(key: str, values: Sequence[float]) -> float:
    """Values of one figure from many hosts or ranks, combined as the registry declares."""
    declared = metrics.get(key)
    how = declared.aggregate if declared is not None else "sum"
    if how == "max":
        return max(values)
    if how == "mean":
        return sum(values) / len(values)
    return sum(values)
