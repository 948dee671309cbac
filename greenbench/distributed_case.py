"""One rank of a distributed case: greenbench.worker's protocol, agreed by every rank of the job.

greenbench.distributed.launch starts this module on every rank through torchrun. Each rank
joins the job's process group (NCCL on CUDA, else gloo), publishes who it is and takes part
in the election of greenbench.distributed.meter (host counters read once per host, each GPU
once), sets up the workload, and runs greenbench.protocol with two differences:

- every decision on how many steps to run is rank 0's, handed to the others through the
  job's store (:meth:`JobMeter.agree`): a DDP step is a collective, so ranks that counted
  steps apart would wait on each other for ever;
- every window (warm-up, idle, each repeat) is collective (a
  :class:`~greenbench.distributed.meter.DistributedMeter` window): its energy is the job's,
  every host's elected domains once, each named ``<host id>/<domain>``
  (greenbench.distributed.stored), so the case's repeats keep the per-host breakdown and the
  idle baseline is each host's own, subtracted host by host.

Rank 0 reports the case on the event pipe the launcher handed down on standard output;
local rank 0 of every other node reports its part as a skipped case (node 0 stores the job).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from greenbench.distributed.combine import JobMeasurement
from greenbench.distributed.meter import DistributedMeter
from greenbench.errors import UserError
from greenbench.measurement import Measurement
from greenbench.records import CaseRecord, Repeat, Warmup

if TYPE_CHECKING:
    from greenbench.meter import Meter


class JobMeter:
    """What greenbench.protocol needs of a meter, over a job's collective windows."""

    def __init__(self, meter: DistributedMeter) -> None:
        self.job = meter
        self.clock = meter.clock
        self.sensors = meter.meter.sensors
        self.counted = meter.meter.counted
        self.sync = meter.meter.sync
        self._agreed = 0
        #: the job's windows, by name
        self.windows: dict[str, JobMeasurement] = {}

    def begin(self, name: str) -> Any:
        window = self.job.window(name)
        return window, window.__enter__()

    def end(self, w: Any) -> Measurement:
        from greenbench.distributed.stored import job_window

        window, holder = w
        window.__exit__(None, None, None)
        job = holder.result
        if job.partial:
            raise UserError(f"window {job.name}: no report from host(s) "
                            f"{', '.join(job.missing_hosts)} within "
                            f"{self.job.timeout_s:g} s; the case has no job total")
        self.windows[job.name] = job
        return job_window(job)

    def idle(self, seconds: float, name: str = "idle") -> Measurement:
        w = self.begin(name)
        self.clock.sleep(seconds)
        return self.end(w)

    def agree(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank (JSON: a tuple comes back a list)."""
        store, key = self.job.exchange.store, f"greenbench/{self.job.exchange.job}/agree/" \
                                              f"{self._agreed}"
        self._agreed += 1
        if self.job.rank == 0:
            store.set(key, json.dumps(value))
            return value
        try:
            store.wait([key], timedelta(seconds=self.job.timeout_s))
        except RuntimeError:
            raise UserError(f"rank 0 did not decide the steps within {self.job.timeout_s:g} "
                            "s (did it fail?)") from None
        return json.loads(store.get(key))

    def record(self, names: Sequence[str]) -> dict[str, Any]:
        """The job (greenbench.distributed.record) over the windows ``names`` together."""
        from greenbench.distributed.record import job_record

        return summed([job_record(self.windows[n], self.job.identities,
                                  self.job.election).to_dict() for n in names])

    def layout(self) -> str:
        """Who ran where and who read what, in one line for the case's flags."""
        hosts: dict[str, list[int]] = {}
        for ident in self.job.identities:
            hosts.setdefault(ident.host_id, []).append(ident.rank)
        readers: dict[str, set[int]] = {}
        for duty in self.job.election.duties:
            readers.setdefault(duty.host_id, set()).add(duty.rank)
        shown = "; ".join(f"{h}: rank(s) {', '.join(map(str, ranks))}, read by rank(s) "
                          f"{', '.join(map(str, sorted(readers.get(h, ())))) or 'none'}"
                          for h, ranks in hosts.items())
        return (f"job: {self.job.world_size} rank(s) on {len(hosts)} host(s) ({shown}); "
                "every figure is the job's, each host counted once")


def summed(jobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several windows of one job (``run.job`` documents) as one: every host's domains
    summed over them (None where one failed to read, never a 0 for it), the durations added;
    the hosts, ranks and election are the job's."""
    from greenbench.distributed.record import HostDomain, JobHost, JobRecord

    records = [JobRecord.from_dict(j) for j in jobs]
    first = records[0]
    hosts: dict[str, JobHost] = {}
    for record in records:
        for h in record.hosts:
            mine = hosts.setdefault(h.host_id, JobHost(h.host_id, h.hostname, h.machine_key,
                                                       list(h.ranks)))
            mine.ranks = sorted({*mine.ranks, *h.ranks})
            for d in h.domains:
                same = next((m for m in mine.domains if m.domain == d.domain), None)
                if same is None:
                    mine.domains.append(HostDomain.from_dict(d.to_dict()))
                else:
                    same.energy_j = (None if same.energy_j is None or d.energy_j is None
                                     else same.energy_j + d.energy_j)
                    same.error = same.error or d.error
    return JobRecord(
        world_size=max(r.world_size for r in records),
        expected_hosts=list(dict.fromkeys(h for r in records for h in r.expected_hosts)),
        hosts=list(hosts.values()),
        missing_ranks=sorted({m for r in records for m in r.missing_ranks}),
        missing_hosts=list(dict.fromkeys(h for r in records for h in r.missing_hosts)),
        election=first.election, duration_s=sum(r.duration_s for r in records),
        clock_spread_s=max(r.clock_spread_s for r in records),
        clock_spread_flagged=any(r.clock_spread_flagged for r in records),
        slurm_job_id=first.slurm_job_id).to_dict()


def run_case(spec: dict[str, Any], emit: Callable[[dict[str, Any]], None]) -> CaseRecord:
    """This rank's part of the case; rank 0's record is the job's, and rank 0 emits the
    job's breakdown over the repeats (a ``job`` event) before its result."""
    import torch.distributed as dist

    from greenbench.protocol import Protocol
    from greenbench.sensors.registry import available_sensors, probe_all
    from greenbench.worker import case_plan, per_step_metrics, phase_events
    from greenbench.workload import load_workload

    cfg = spec["config"]
    wl = load_workload(spec["workload"], spec.get("workload_files", []))
    params = spec["params"]
    device = _rank_device(spec["device"])
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                            timeout=timedelta(seconds=cfg["timeout_s"]))
    world = dist.get_world_size()
    label = CaseRecord(wl.name, params, "ok").label
    reason = wl.skip_reason(params, device)
    if reason is not None:
        return CaseRecord(wl.name, params, "skipped", unit=wl.unit, error=reason,
                          variants=[p.name for p in wl.params if p.variant])
    sensors = available_sensors(probe_all(cpu_tdp_w=cfg.get("cpu_tdp_w"),
                                          scope=cfg.get("scope", "process")))
    meter = DistributedMeter(sensors, device=device, timeout_s=cfg["job_timeout_s"],
                             interval_s=cfg["interval_s"], workload=label)
    job = JobMeter(meter)
    emit({"event": "phase", "phase": "setup"})
    state = wl.setup(params, device)
    units_per_step = wl.units_per_step(params) * world
    plan = case_plan(wl, cfg)
    repeats: list[Repeat] = []
    on_phase = phase_events(emit, plan)

    def after_repeat(m: Measurement, steps: int, idle: Measurement | None) -> None:
        quality = wl.quality(state)
        metrics = per_step_metrics(m, idle, steps, units_per_step, quality, wl.metrics(state),
                                   [])
        repeats.append(Repeat(steps=steps, units=steps * units_per_step, measurement=m,
                              metrics={**metrics, **_net(m, idle, steps, units_per_step)},
                              quality=quality))

    notes = wl.notes(state)
    try:
        # JobMeter has what the protocol uses of a Meter, over collective windows
        result = Protocol(cast("Meter", job), plan, agree=job.agree).run(
            lambda: wl.step(state), on_phase, after_repeat=after_repeat)
    finally:
        wl.teardown(state)
        meter.close()
    if meter.rank == 0:  # node 0 stores the job
        emit({"event": "job",
              "job": job.record([f"repeat {i + 1}" for i in range(len(repeats))])})
    return CaseRecord(
        workload=wl.name, params=params, status="ok", unit=wl.unit,
        units_per_step=units_per_step, variants=[p.name for p in wl.params if p.variant],
        repeats=repeats, idle=result.idle,
        warmup=Warmup(result.warmup, step_s=result.step_s, steps_per_repeat=result.steps,
                      settle_s=result.settle_s),
        flags=[*notes, *result.flags, job.layout()],
        quality_metric=wl.quality_metric, quality_higher_is_better=wl.quality_higher_is_better)


def _net(m: Measurement, idle: Measurement | None, steps: int, units_per_step: float
         ) -> dict[str, float | None]:
    """Net energy per step and per unit, each host's idle power subtracted: a host's idle
    domains' mean powers, each over its own reader's idle window (the job's idle window is
    the longest rank's, which would dilute the others')."""
    gross = m.energy_j
    powers = [d.mean_power_w for d in idle.top_level()] if idle is not None else [None]
    if gross is None or not powers or any(p is None for p in powers):
        return {"net_energy_j": None, "net_energy_per_unit_j": None}
    net = gross - sum(p for p in powers if p is not None) * m.duration_s
    return {"net_energy_j": net / steps, "net_energy_per_unit_j": net / (steps * units_per_step)}


def _rank_device(device: str) -> str:
    """``cuda:LOCAL_RANK`` for a case on CUDA (one GPU per rank), else the CPU."""
    if not device.startswith("cuda"):
        return "cpu"
    import torch

    local = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local)
    return f"cuda:{local}"


def main() -> int:
    from greenbench.distributed.launch import CASE_ENV
    from greenbench.lifeline import tie_to_parent

    channel_fd = os.dup(1)  # the event pipe (see greenbench.distributed.launch)
    os.dup2(2, 1)  # what the workload prints goes to standard error
    tie_to_parent({})  # torchrun's agent is the parent
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    node = int(os.environ.get("GROUP_RANK", "0"))
    reports = rank == 0 or local == 0
    if not reports:
        os.close(channel_fd)
    channel = os.fdopen(channel_fd, "w", buffering=1) if reports else None
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        if channel is not None:
            with lock:
                channel.write(json.dumps(event, default=str) + "\n")

    spec = json.loads(os.environ[CASE_ENV])
    try:
        case = run_case(spec, emit)
        import torch.distributed as dist

        dist.barrier()  # no rank leaves while another may still need the job's store
    except Exception as exc:  # the case's error, reported once, never lost
        error = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        emit({"event": "error", "error": error, "detail": traceback.format_exc()})
        sys.stderr.flush()
        os._exit(1)  # no teardown handshake with ranks that may wait in a collective
    if rank != 0:
        case = CaseRecord(case.workload, case.params, "skipped", unit=case.unit,
                          error=f"node {node} took part in the job; node 0 stores its figures",
                          variants=case.variants)
    emit({"event": "result", "case": case.to_dict()})
    if channel is not None:
        channel.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
