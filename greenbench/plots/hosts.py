"""The per-host panel of ``breakdown``: a multi-host run's energy, host by host, by domain.

One row per host of each multi-host run (``run.job``), its counted domains stacked by
family (CPU packages, DRAM, GPUs) as in the breakdown's first panel, estimated parts
hatched. The figure is the whole job's window, not per unit of work. A host that did not
report is a row without a bar, named so; a host whose read failed is drawn without the
failed domain, and named so too: never a zero for a reading that was not made.
"""

from __future__ import annotations

from collections.abc import Sequence

from greenbench.distributed.record import JobRecord
from greenbench.plots.breakdown import EnergyRow
from greenbench.plots.data import domain_family
from greenbench.records import RunRecord


def host_rows(runs: Sequence[RunRecord]) -> list[EnergyRow]:
    """Every host of every multi-host run among ``runs`` (none: not a multi-host run), as
    rows of energy (J) by domain family; no idle split (``net_j`` None)."""
    jobs = [(run, JobRecord.from_dict(run.job)) for run in runs if run.job is not None]
    rows = []
    for run, job in jobs:
        prefix = f"{run.label or run.id.rsplit('-', 1)[-1]}: " if len(jobs) > 1 else ""
        for host in job.hosts:
            families: dict[str, float] = {}
            estimated: set[str] = set()
            failed = False
            for d in host.domains:
                if not d.counted:
                    continue
                if d.energy_j is None:
                    failed = True
                    continue
                family = domain_family(d.domain)
                families[family] = families.get(family, 0.0) + d.energy_j
                if d.method == "estimate":
                    estimated.add(family)
            label = prefix + host.host_id + (" (a read failed)" if failed else "")
            rows.append(EnergyRow(label, sum(families.values()), families, estimated, None,
                                  bool(estimated)))
        rows += [EnergyRow(f"{prefix}{h} (no report)", 0.0, {}, set(), None)
                 for h in job.missing_hosts]
    return rows


def host_notes(runs: Sequence[RunRecord]) -> list[str]:
    """What the per-host panel's reader must know: a partial job has no total."""
    notes = []
    for run in runs:
        if run.job is not None:
            job = JobRecord.from_dict(run.job)
            if job.partial:
                notes.append(f"partial job ({run.label or run.id}): no report from "
                             f"{', '.join(job.missing_hosts)}; no job total")
    return notes
