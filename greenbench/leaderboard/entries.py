"""The rows of the leaderboard: one per measured case of a run that passes the rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from greenbench.records import CaseRecord, RunRecord
from greenbench.submission.tier import Tier, case_tier

ENERGY = "energy_per_unit_j"
THROUGHPUT = "throughput_per_s"
#: parameters that name a case's numeric precision, in the order they are looked for
PRECISION_PARAMS = ("precision", "dtype")
NOT_STATED = "not stated"


@dataclass(frozen=True)
class Entry:
    run_id: str
    run_label: str | None
    created_utc: str
    workload: str
    unit: str
    params: dict[str, Any]
    hardware: str
    precision: str
    tier: Tier
    #: how the energy was obtained, in words: ``counter (rapl)``, ``ESTIMATE (cpu-tdp)``
    method: str
    energy_j: float
    energy_low_j: float | None
    energy_high_j: float | None
    ci_level: float
    ci_method: str
    repeats: int
    cv: float | None
    throughput: float | None
    #: the run's report, relative to the page
    report: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_entries(run: RunRecord) -> list[Entry]:
    """A row per case of ``run`` with an energy-per-unit summary."""
    return [e for case in run.cases if (e := _entry(run, case)) is not None]


def report_path(run_id: str) -> str:
    return f"runs/{run_id}/index.html"


def hardware_class(run: RunRecord, case: CaseRecord) -> str:
    """What the case ran on: its GPUs (``1 x NVIDIA H100``) when it ran on a GPU, else the
    CPU (``CPU: AMD EPYC, 2 threads``); a multi-host job's adds its hosts (``4 hosts of 8 x
    NVIDIA H100``, after the run's machine)."""
    hosts = len((run.job or {}).get("hosts") or [])
    one = _one_machine(run, case, max(hosts, 1))
    return f"{hosts} hosts of {one}" if hosts > 1 else one


def _one_machine(run: RunRecord, case: CaseRecord, hosts: int) -> str:
    gpus = [g for g in run.machine.get("gpus") or [] if isinstance(g, dict)]
    device = str(run.config.get("device") or "cpu")
    if gpus and not device.startswith("cpu"):
        # a job's window names each host's domains <host id>/<domain>
        counted = {d.domain for r in case.repeats[:1] for d in r.measurement.top_level()
                   if d.domain.rsplit("/", 1)[-1].startswith("gpu")}
        names = sorted({str(g.get("name") or "GPU") for g in gpus})
        return f"{max(len(counted) // hosts, 1)} x {' / '.join(names)}"
    threads = run.machine.get("cpu_logical")
    shown = f", {threads} threads" if threads else ""
    return f"CPU: {run.machine.get('cpu_model') or 'unknown model'}{shown}"


def _entry(run: RunRecord, case: CaseRecord) -> Entry | None:
    from greenbench.results_format import energy_method, median_interval
    from greenbench.units import method_label

    energy = case.summary.get(ENERGY)
    if case.status != "ok" or energy is None:
        return None
    low, high = median_interval(ENERGY, energy)
    throughput = case.summary.get(THROUGHPUT)
    method = energy_method(case, run.is_estimate)
    sources = sorted({d.source.removeprefix("estimate:") for r in case.repeats
                      for d in r.measurement.top_level()})
    precision = next((str(case.params[p]) for p in PRECISION_PARAMS if p in case.params),
                     NOT_STATED)
    return Entry(
        run_id=run.id, run_label=run.label, created_utc=run.created_utc,
        workload=case.workload, unit=case.unit, params=dict(case.params),
        hardware=hardware_class(run, case), precision=precision, tier=case_tier(case, run),
        method=method_label(method, ", ".join(sources)),
        energy_j=energy.median, energy_low_j=low, energy_high_j=high,
        ci_level=energy.ci_level, ci_method=energy.ci_method, repeats=energy.n, cv=energy.cv,
        throughput=throughput.median if throughput is not None else None,
        report=report_path(run.id),
    )
