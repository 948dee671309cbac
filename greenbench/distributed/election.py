"""Who reads what in a multi-rank job: every host-level counter once per host, every GPU once.

An election, once per job, over the identities every rank published (no lock files, nothing
that depends on timing):

- a ``host`` domain (RAPL packages, DRAM, a machine-wide estimate) is read by the lowest
  rank on its host that can read it;
- a ``device`` domain (a GPU, by UUID) is read by the rank that computes on it, else by the
  lowest rank that sees it, and it is counted only when some rank of the job uses it;
- a ``process`` domain (an estimate from the reading process's own CPU time) is read by
  every rank, each for its own work, and the readings add.

The result is stored with the run, so that "which rank read what" can be checked afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.distributed.identity import RankIdentity, Reading, device_key


@dataclass(frozen=True)
class Duty:
    """One domain one rank reads for the job."""

    rank: int
    host_id: str
    domain: str
    sharing: str
    uuid: str | None = None
    #: why the domain is recorded but not counted (a GPU no rank computes on), else None
    not_counted: str | None = None


@dataclass
class Election:
    duties: list[Duty] = field(default_factory=list)

    def of(self, rank: int) -> list[Duty]:
        return [d for d in self.duties if d.rank == rank]

    def domains_of(self, rank: int) -> set[str]:
        return {d.domain for d in self.of(rank)}

    def hosts(self) -> list[str]:
        return list(dict.fromkeys(d.host_id for d in self.duties))

    def to_dict(self) -> list[dict[str, Any]]:
        return [vars(d) for d in self.duties]


def elect(identities: Sequence[RankIdentity]) -> Election:
    """The duties of every rank (see the module docstring)."""
    ranks = sorted(identities, key=lambda i: i.rank)
    used = {uuid for i in ranks for uuid in i.uses}
    duties: list[Duty] = []
    taken_host: set[tuple[str, str]] = set()
    taken_uuid: set[str] = set()
    for ident in ranks:
        for r in ident.readings:
            if r.sharing == "process":
                duties.append(Duty(ident.rank, ident.host_id, r.domain, r.sharing))
            elif r.sharing == "host":
                key = (ident.host_id, r.domain)
                if key not in taken_host:
                    taken_host.add(key)
                    duties.append(Duty(ident.rank, ident.host_id, r.domain, r.sharing))
    for uuid, (ident, reading) in _devices(ranks).items():
        if uuid in taken_uuid:
            continue
        taken_uuid.add(uuid)
        duties.append(Duty(ident.rank, ident.host_id, reading.domain, "device", uuid,
                           None if uuid in used else "not attributed: no rank of the job "
                           "computes on this GPU"))
    return Election(sorted(duties, key=lambda d: (d.rank, d.domain)))


def _devices(ranks: Sequence[RankIdentity]) -> dict[str, tuple[RankIdentity, Reading]]:
    """Each GPU UUID -> the rank that reads it: its user if one sees it, else the lowest."""
    chosen: dict[str, tuple[RankIdentity, Reading]] = {}
    for ident in ranks:  # lowest rank first
        for r in ident.readings:
            if r.sharing != "device":
                continue
            uuid = device_key(ident.host_id, r)
            user_here = uuid in ident.uses
            if uuid not in chosen or (user_here and uuid not in chosen[uuid][0].uses):
                chosen[uuid] = (ident, r)
    return chosen
