"""The energy of a training loop, in the pieces training tools log: per logging interval, per
epoch and for the whole run; what the Hugging Face and Lightning callbacks share.

On one process the intervals tile the run (each opens at the very edge read that closed the
last), so their energies add up exactly to the run's, which is their sum. When the run ends it
is stored as a greenbench run (one case, one repeat per logging interval, per-step figures as
``greenbench run`` stores them), so ``greenbench results``, ``compare``, ``plot`` and
``report`` read it.

Under an initialised torch.distributed process group of more than one rank (DDP, FSDP, ...)
every figure is the job's: the ranks meter through greenbench.distributed, each host and GPU
counted once, and every interval, epoch and the whole training is a collective window (the
callbacks fire at the same points on every rank). The whole training is its own window, since
collective windows cannot share an edge: the intervals add up to it less the moments spent
between them at their edges. Rank 0 logs the figures and stores the run, with the job's
hosts and who read what in ``run.job``; a window a rank did not report to in time has no
energy (a total over fewer hosts would understate the job), and says which hosts are missing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from greenbench.measurement import Measurement
from greenbench.meter import DEFAULT_INTERVAL_S, Meter
from greenbench.sensors.base import Sensor

#: how long a rank waits for the others at a collective window's edge, seconds
JOB_TIMEOUT_S = 30.0


@dataclass
class Interval:
    """One logging interval: its window and the optimizer steps and samples it covered."""

    measurement: Measurement
    steps: int
    samples: float

    def logs(self, prefix: str = "energy") -> dict[str, float | str]:
        """What a training tool logs for it (energy in J, its method, mean power in W)."""
        m = self.measurement
        # no energy (a failed read, a rank that did not report): no method either
        out: dict[str, float | str] = {
            f"{prefix}_method": m.method if m.energy_j is not None else "none"}
        if m.energy_j is not None:
            out[f"{prefix}_j"] = m.energy_j
        if m.mean_power_w is not None:
            out[f"{prefix}_power_w"] = m.mean_power_w
        if m.energy_j is not None and self.steps:
            out[f"{prefix}_per_step_j"] = m.energy_j / self.steps
        return out


@dataclass
class TrainingMeter:
    """Start it when training starts; ``log`` at each logging step, ``epoch_*`` at epoch
    edges; ``finish`` when training ends (it stores the run, and returns its total)."""

    framework: str
    device: str = "cpu"
    store: str | Path | None = None
    label: str | None = None
    sensors: Sequence[Sensor] | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    #: how long a rank waits for the others at a collective window's edge (distributed)
    timeout_s: float = JOB_TIMEOUT_S
    intervals: list[Interval] = field(default_factory=list)
    epochs: list[Measurement] = field(default_factory=list)
    total: Measurement | None = None
    run_id: str | None = None
    #: this process's rank in a distributed job, once started (None: not distributed)
    rank: int | None = None

    def start(self) -> None:
        if self.sensors is None:
            from greenbench.sensors.registry import available_sensors, probe_all

            self.sensors = available_sensors(probe_all())
        if _in_a_job():
            from greenbench.integrations.job_windows import JobWindows

            self.windows: Any = JobWindows(self.sensors, device=self.device,
                                           interval_s=self.interval_s,
                                           timeout_s=self.timeout_s,
                                           workload=f"{self.framework}-training")
            self.rank = self.windows.rank
            self._train: Any = self.windows.begin("train")
        else:
            self.windows = _LocalWindows(self.sensors, self.device, self.interval_s)
            self._train = None
        self._interval: Any = self.windows.begin("interval 1")
        self._epoch: Any = None
        self._steps_at, self._samples_at = 0, 0.0

    @property
    def logs_here(self) -> bool:
        """Whether this process logs and stores the figures: every process of its own, rank
        0 of a distributed job (the figures are the job's, the same on every rank)."""
        return self.rank in (None, 0)

    def log(self, steps: int, samples: float) -> Interval:
        """Close the logging interval that ends now (``steps`` and ``samples``: the counts
        since training began) and open the next."""
        m, self._interval = self.windows.split(self._interval,
                                               f"interval {len(self.intervals) + 2}")
        interval = Interval(m, steps - self._steps_at, samples - self._samples_at)
        self.intervals.append(interval)
        self._steps_at, self._samples_at = steps, samples
        return interval

    def epoch_begin(self) -> None:
        self._epoch = self.windows.begin(f"epoch {len(self.epochs) + 1}")

    def epoch_end(self) -> Measurement | None:
        if self._epoch is None:
            return None
        m = self.windows.end(self._epoch)
        self._epoch = None
        self.epochs.append(m)
        return m

    def finish(self, steps: int, samples: float) -> Measurement:
        """End training: the last interval (kept even without steps, so that the intervals
        cover the whole training) and the total; store the run."""
        m = self.windows.end(self._interval)
        self.intervals.append(Interval(m, steps - self._steps_at, samples - self._samples_at))
        if self._train is None:
            # the intervals tile the training (each opened at the edge that closed the last)
            self.total = Measurement.joined([i.measurement for i in self.intervals], "train")
        else:
            self.total = self.windows.end(self._train)
        self.windows.stop()
        if self.logs_here and (self.store is not None or os.environ.get("GREENBENCH_STORE")):
            self.run_id = self._store()
        return self.total

    def _store(self) -> str:
        from greenbench.machine import describe_machine, describe_software
        from greenbench.records import CaseRecord, Repeat, RunRecord
        from greenbench.runner import new_run_id, summarize_case
        from greenbench.store import Store, store_path
        from greenbench.worker import per_step_metrics

        measured = [i for i in self.intervals if i.steps > 0]
        units_per_step = (sum(i.samples for i in measured) / sum(i.steps for i in measured)
                          if measured else 1.0)
        case = CaseRecord(
            workload=f"{self.framework}-training", params={},
            status="ok", unit="samples", units_per_step=units_per_step,
            repeats=[Repeat(steps=i.steps, units=i.samples, measurement=i.measurement,
                            metrics=per_step_metrics(i.measurement, None, i.steps,
                                                     units_per_step, None, {}, []))
                     for i in measured])
        summarize_case(case)
        sensors = [s.describe() | {"available": True} for s in self.sensors or []]
        run = RunRecord(
            id=new_run_id(), created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            status="complete", machine=describe_machine(), software=describe_software(),
            config={"device": self.device, "interval_s": self.interval_s,
                    "framework": self.framework, "intervals": len(self.intervals),
                    "epochs": [m.energy_j for m in self.epochs],
                    "total_energy_j": self.total.energy_j if self.total else None},
            sensors=sensors, cases=[case], label=self.label,
            job=self.windows.record(self._train) if self._train is not None else None)
        with Store(store_path(self.store)) as store:
            store.begin_run(run)
        return run.id


class _LocalWindows:
    """This process's meter: windows that tile (``split`` closes one and opens the next at a
    single edge read)."""

    def __init__(self, sensors: Sequence[Sensor], device: str, interval_s: float) -> None:
        from greenbench.attribution import not_counted

        excluded = not_counted([s.domain for s in sensors], device)
        self.meter = Meter(sensors, interval_s=interval_s, not_counted=excluded).start()
        self.begin, self.end, self.split = self.meter.begin, self.meter.end, self.meter.split

    def stop(self) -> None:
        self.meter.stop()


def _in_a_job() -> bool:
    """Whether this process is one rank of an initialised torch.distributed job of several."""
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)
