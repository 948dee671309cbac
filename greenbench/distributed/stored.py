"""A job's collective window as a stored run: one case, one repeat, the hosts in ``run.job``.

The repeat's measurement is the job's window with every host's domains in it, each named
``<host id>/<domain>`` (``node-a/cpu-package:0``), so that the run's total is the job's (each
host counted once, as elected) and every figure keeps its method and sensor; ``run.job``
(greenbench.distributed.record) holds the per-host breakdown and who read what. A partial
window (a rank that died or hung) is stored as a failed case with no repeat: its missing
hosts are named, the reporting hosts' part is in ``run.job``, and no total over fewer hosts
is ever stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from greenbench.distributed.combine import JobMeasurement
from greenbench.distributed.election import Election
from greenbench.distributed.identity import RankIdentity
from greenbench.distributed.record import JobRecord, job_record
from greenbench.measurement import Measurement
from greenbench.records import CaseRecord, Repeat, RunRecord

#: joins a host id and its domain in the job's window
HOST_SEPARATOR = "/"


def job_window(job: JobMeasurement) -> Measurement:
    """The job's window as one measurement over every reporting host's domains."""
    domains = [replace(d, domain=f"{h.host_id}{HOST_SEPARATOR}{d.domain}",
                       part_of=None if d.part_of is None
                       else f"{h.host_id}{HOST_SEPARATOR}{d.part_of}")
               for h in job.hosts for d in h.domains]
    return Measurement(job.name, 0.0, job.duration_s, domains,
                       warnings=list(job.warnings), start_wall_s=job.start_wall_s)


def job_run(job: JobMeasurement, identities: Sequence[RankIdentity], election: Election, *,
            workload: str, params: dict[str, Any], unit: str, sensors: list[dict[str, Any]],
            config: dict[str, Any], failure: str | None = None, interrupted: bool = False,
            label: str | None = None) -> RunRecord:
    """The run of one collective window (``failure``: why the measured work failed, such as
    a command's exit code; the energy is kept)."""
    from greenbench.machine import describe_machine, describe_software
    from greenbench.runner import new_run_id, summarize_case
    from greenbench.worker import per_step_metrics

    record: JobRecord = job_record(job, identities, election)
    case = CaseRecord(workload=workload, params=params, status="ok", unit=unit,
                      flags=[w for w in job.warnings if "wall clocks differ" in w])
    if job.partial:
        case.status = "failed"
        case.error = (f"partial: no report from host(s) {', '.join(job.missing_hosts)} "
                      f"(rank(s) {', '.join(map(str, job.missing_ranks))}) in time; no job "
                      "total")
    else:
        window = job_window(job)
        case.repeats = [Repeat(steps=1, units=1.0, measurement=window,
                               metrics=per_step_metrics(window, None, 1, 1.0, None, {}, []))]
        summarize_case(case)
        if failure is not None:
            case.status, case.error = "failed", failure
    if interrupted:
        case.status = "interrupted"
    return RunRecord(
        id=new_run_id(), created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        status="interrupted" if interrupted else "complete", machine=describe_machine(),
        software=describe_software(), config=config, sensors=sensors, cases=[case],
        label=label, job=record.to_dict())


def store_run(run: RunRecord, store: str | Path | None) -> str:
    """Store ``run`` in ``store`` (the default store where None: greenbench.store)."""
    from greenbench.store import Store

    with Store(store) as s:
        return s.begin_run(run)
