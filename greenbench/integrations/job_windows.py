"""A training loop's windows under torch.distributed: collective windows of one job, opened
and closed at a training tool's callback edges rather than around a ``with`` block.

Every rank of the job makes one :class:`JobWindows` at the same point (the start of training)
and opens and closes the same windows in the same order, as the training tools' callbacks do
on every rank. Each window's figure is the job's (greenbench.distributed: each host and GPU
counted once), as a :class:`~greenbench.measurement.Measurement` whose domains are named
``<host id>/<domain>``; a window a rank did not report to in time has an unread domain per
missing host, so its energy is None, never the reporting hosts' part alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenbench.distributed import DistributedMeter, DistributedWindow, JobMeasurement
from greenbench.measurement import DomainEnergy, Measurement
from greenbench.sensors.base import Sensor


@dataclass
class JobWindow:
    """An open collective window: the context it runs in, and what it yields."""

    name: str
    context: contextlib.AbstractContextManager[DistributedWindow]
    holder: DistributedWindow
    #: the job's window once it is closed
    job: JobMeasurement | None = field(default=None)


class JobWindows:
    def __init__(self, sensors: Sequence[Sensor], *, device: str, interval_s: float,
                 timeout_s: float, workload: str) -> None:
        self.meter = DistributedMeter(sensors, device=device, interval_s=interval_s,
                                      timeout_s=timeout_s, workload=workload)
        self.rank = self.meter.rank

    def begin(self, name: str) -> JobWindow:
        context = self.meter.window(name)
        return JobWindow(name, context, context.__enter__())

    def end(self, window: JobWindow) -> Measurement:
        window.context.__exit__(None, None, None)
        assert window.holder.result is not None  # set on every rank as the context closes
        window.job = window.holder.result
        return job_measurement(window.job)

    def split(self, window: JobWindow, name: str) -> tuple[Measurement, JobWindow]:
        """Close ``window`` and open the next: two collective edges, not one."""
        return self.end(window), self.begin(name)

    def record(self, window: JobWindow) -> dict[str, Any]:
        """``run.job`` for a closed window: the hosts, their ranks and who read what."""
        from greenbench.distributed.record import job_record

        assert window.job is not None
        return job_record(window.job, self.meter.identities, self.meter.election).to_dict()

    def stop(self) -> None:
        self.meter.close()


def job_measurement(job: JobMeasurement) -> Measurement:
    """The job's window as one measurement: every reporting host's domains, and for each
    missing host an unread domain saying so (so that the total is None)."""
    from greenbench.distributed.stored import HOST_SEPARATOR, job_window

    m = job_window(job)
    reason = (f"no report from rank(s) {', '.join(map(str, job.missing_ranks))} within the "
              "timeout")
    m.domains.extend(DomainEnergy(f"{host}{HOST_SEPARATOR}unreported", None, "none", "none",
                                  None, None, 0, error=reason)
                     for host in job.missing_hosts)
    return m
