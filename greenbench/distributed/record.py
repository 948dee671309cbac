"""The distributed job a multi-host run measured, as the run stores it (``RunRecord.job``).

One typed record, one converter: :class:`JobRecord` ``to_dict`` / ``from_dict`` are the
shape of ``run.job`` in the store and in the export document (docs/results-format.md). It
keeps every host's part beside the job's total: the ranks on the host, the host's machine
key, each domain's energy with its method and sensor, and the election (which rank read
which domain, and which GPU by UUID), so that "counted once" can be checked afterwards.

The derived figures (a host's energy, the job's total, whether it is an estimate or partial)
are written for readers of the JSON and recomputed from the domains on reading, never
trusted from the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from greenbench.distributed.combine import CLOCK_TOLERANCE_S, JobMeasurement
from greenbench.distributed.election import Duty, Election
from greenbench.distributed.identity import RankIdentity

#: the derived figures each record writes beside its fields (recomputed on reading)
DERIVED = {"job": ("reporting_hosts", "partial", "energy_j", "estimate"),
           "host": ("energy_j", "method", "estimate"), "domain": ("counted",)}


@dataclass
class HostDomain:
    """One domain of one host: a RAPL zone, a GPU, an estimate."""

    domain: str
    energy_j: float | None
    method: str
    source: str
    #: the rank(s) whose readings it holds (one, by the election; every rank of the host for
    #: a per-process estimate)
    read_by: list[int]
    #: the GPU's UUID, for a device domain whose sensor has one
    uuid: str | None = None
    part_of: str | None = None
    #: why it is recorded but not in the total (a GPU no rank computes on), else None
    not_counted: str | None = None
    error: str | None = None

    @property
    def counted(self) -> bool:
        return self.part_of is None and self.not_counted is None

    def to_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in fields(self)},
                "counted": self.counted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HostDomain:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class JobHost:
    """One host of the job and its part of the energy."""

    host_id: str
    hostname: str
    #: the host's machine key (greenbench.machine), None where its rank did not say
    machine_key: str | None
    ranks: list[int]
    domains: list[HostDomain] = field(default_factory=list)

    @property
    def energy_j(self) -> float | None:
        """The counted domains' sum; None when one failed to read (never a 0 for it)."""
        parts = [d.energy_j for d in self.domains if d.counted]
        if not parts or any(e is None for e in parts):
            return None
        return sum(e for e in parts if e is not None)

    @property
    def method(self) -> str:
        """``counter``, ``power``, ``estimate``, or ``mixed`` when the domains differ."""
        methods = {d.method for d in self.domains if d.counted}
        return methods.pop() if len(methods) == 1 else "mixed" if methods else "none"

    @property
    def is_estimate(self) -> bool:
        return any(d.method == "estimate" for d in self.domains if d.counted)

    def to_dict(self) -> dict[str, Any]:
        return {"host_id": self.host_id, "hostname": self.hostname,
                "machine_key": self.machine_key, "ranks": list(self.ranks),
                "energy_j": self.energy_j, "method": self.method,
                "estimate": self.is_estimate, "domains": [d.to_dict() for d in self.domains]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobHost:
        return cls(host_id=data["host_id"], hostname=data["hostname"],
                   machine_key=data.get("machine_key"), ranks=list(data["ranks"]),
                   domains=[HostDomain.from_dict(d) for d in data.get("domains", [])])


@dataclass
class JobRecord:
    """A multi-host run's job: who took part, who reported, and each host's energy."""

    world_size: int
    #: every host the job's ranks said they run on, in rank order
    expected_hosts: list[str]
    #: the hosts whose part of the window arrived (the breakdown)
    hosts: list[JobHost]
    #: ranks (and their hosts) whose part did not arrive in time: the job is then partial
    missing_ranks: list[int] = field(default_factory=list)
    missing_hosts: list[str] = field(default_factory=list)
    #: who read what, once per job (greenbench.distributed.election)
    election: list[Duty] = field(default_factory=list)
    duration_s: float = 0.0
    #: how far apart the ranks' wall clocks were at the same window edge, and whether that
    #: is beyond CLOCK_TOLERANCE_S
    clock_spread_s: float = 0.0
    clock_spread_flagged: bool = False
    slurm_job_id: str | None = None

    @property
    def reporting_hosts(self) -> list[str]:
        return [h.host_id for h in self.hosts]

    @property
    def partial(self) -> bool:
        return bool(self.missing_ranks)

    @property
    def energy_j(self) -> float | None:
        """Every host's energy, each counted once; None for a partial job (a total over
        fewer hosts would understate it) or a failed read."""
        per_host = [h.energy_j for h in self.hosts]
        if self.partial or not per_host or any(e is None for e in per_host):
            return None
        return sum(e for e in per_host if e is not None)

    @property
    def is_estimate(self) -> bool:
        return any(h.is_estimate for h in self.hosts)

    def host(self, host_id: str) -> JobHost:
        for h in self.hosts:
            if h.host_id == host_id:
                return h
        raise KeyError(host_id)

    def to_dict(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "expected_hosts": list(self.expected_hosts),
                "reporting_hosts": self.reporting_hosts,
                "missing_hosts": list(self.missing_hosts),
                "missing_ranks": list(self.missing_ranks), "partial": self.partial,
                "energy_j": self.energy_j, "estimate": self.is_estimate,
                "duration_s": self.duration_s, "clock_spread_s": self.clock_spread_s,
                "clock_spread_flagged": self.clock_spread_flagged,
                "slurm_job_id": self.slurm_job_id,
                "hosts": [h.to_dict() for h in self.hosts],
                "election": [dict(vars(d)) for d in self.election]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRecord:
        return cls(
            world_size=int(data["world_size"]), expected_hosts=list(data["expected_hosts"]),
            hosts=[JobHost.from_dict(h) for h in data.get("hosts", [])],
            missing_ranks=list(data.get("missing_ranks", [])),
            missing_hosts=list(data.get("missing_hosts", [])),
            election=[Duty(**d) for d in data.get("election", [])],
            duration_s=float(data.get("duration_s", 0.0)),
            clock_spread_s=float(data.get("clock_spread_s", 0.0)),
            clock_spread_flagged=bool(data.get("clock_spread_flagged", False)),
            slurm_job_id=data.get("slurm_job_id"))


def job_record(job: JobMeasurement, identities: Sequence[RankIdentity],
               election: Election) -> JobRecord:
    """The record of one collective window of a job (its ranks' identities and election)."""
    by_host: dict[str, RankIdentity] = {}
    for ident in sorted(identities, key=lambda i: i.rank):
        by_host.setdefault(ident.host_id, ident)
    uuids = {(d.host_id, d.domain): d.uuid for d in election.duties if d.uuid}
    hosts = [
        JobHost(host_id=h.host_id, hostname=h.hostname,
                machine_key=by_host[h.host_id].machine_key if h.host_id in by_host else None,
                ranks=list(h.ranks),
                domains=[HostDomain(domain=d.domain, energy_j=d.energy_j, method=d.method,
                                    source=d.source, read_by=list(h.readers.get(d.domain, [])),
                                    uuid=uuids.get((h.host_id, d.domain)), part_of=d.part_of,
                                    not_counted=d.not_counted, error=d.error)
                         for d in h.domains])
        for h in job.hosts]
    slurm = next((i.slurm_job_id for i in identities if i.slurm_job_id), None)
    return JobRecord(
        world_size=len(identities), expected_hosts=list(job.expected_hosts), hosts=hosts,
        missing_ranks=list(job.missing_ranks), missing_hosts=list(job.missing_hosts),
        election=list(election.duties), duration_s=job.duration_s,
        clock_spread_s=job.clock_spread_s,
        clock_spread_flagged=job.clock_spread_s > CLOCK_TOLERANCE_S, slurm_job_id=slurm)
