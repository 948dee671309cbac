"""Build RunRecords in plain sight, for any test that needs stored results.

    run = make_run(n_cases=2, values={"energy_per_unit_j": [1.0, 1.1, 0.9]}, machine_key="a")

Every case gets the given per-repeat values (per step, as records.py defines them), a summary
computed by greenbench.stats, a small measurement per repeat and a short power trace, so that
what a test stores looks like what the runner stores.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from greenbench.measurement import DomainEnergy, Measurement
from greenbench.records import CaseRecord, Repeat, RunRecord
from greenbench.stats import summarize

# Low-noise values around round numbers: energy 2 J per step for 100 units, 0.1 s per step.
DEFAULT_VALUES: dict[str, list[float]] = {
    "energy_per_unit_j": [0.0200, 0.0202, 0.0199, 0.0201, 0.0198],
    "energy_j": [2.00, 2.02, 1.99, 2.01, 1.98],
    "net_energy_j": [1.50, 1.52, 1.49, 1.51, 1.48],
    "net_energy_per_unit_j": [0.0150, 0.0152, 0.0149, 0.0151, 0.0148],
    "time_s": [0.100, 0.101, 0.099, 0.1005, 0.0995],
    "power_w": [20.0, 20.1, 20.0, 19.9, 20.0],
    "throughput_per_s": [1000.0, 990.0, 1010.0, 995.0, 1005.0],
    "quality:loss": [0.50, 0.50, 0.50, 0.50, 0.50],
}

_ids = itertools.count(1)
_EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)


def scaled(values: Mapping[str, Sequence[float]], factor: float,
           metrics: Sequence[str] = ("energy_per_unit_j", "energy_j", "net_energy_j",
                                     "net_energy_per_unit_j")) -> dict[str, list[float]]:
    """A copy of ``values`` with ``metrics`` multiplied by ``factor`` (1.3: a 30% regression)."""
    return {k: [x * factor for x in v] if k in metrics else list(v) for k, v in values.items()}


def make_case(
    workload: str = "toy",
    params: Mapping[str, Any] | None = None,
    values: Mapping[str, Sequence[float]] | None = None,
    *,
    estimate: bool = False,
    status: str = "ok",
    unit: str = "samples",
    with_trace: bool = True,
) -> CaseRecord:
    """One case whose repeats carry ``values`` (metric -> one value per repeat)."""
    values = DEFAULT_VALUES if values is None else values
    n = max((len(v) for v in values.values()), default=0)
    method = "estimate" if estimate else "counter"
    repeats = []
    for i in range(n):
        metrics = {k: v[i] for k, v in values.items() if i < len(v)}
        energy = metrics.get("energy_j")
        repeats.append(Repeat(
            steps=10, units=1000.0,
            measurement=window(f"repeat {i}", 1.0, None if energy is None else energy * 10,
                               method, start_s=10.0 + i),
            metrics=metrics,
        ))
    case = CaseRecord(
        workload=workload, params=dict(params or {"batch": 8}), status=status, unit=unit,
        units_per_step=100.0, repeats=repeats,
        idle=window("idle", 1.0, 5.0, method),
        quality_metric="loss" if "quality:loss" in values else None,
    )
    for metric in sorted(values):
        if case.values(metric):
            case.summary[metric] = summarize(case.values(metric))
    if any(s.high_cv for s in case.summary.values()):
        case.flags.append("high CV")
    if estimate:
        case.flags.append("estimate: some energy figures come from a power model")
    if with_trace:
        case.trace = {"t_s": [0.0, 0.1, 0.2, 0.3],
                      "power_w": {"cpu-package:0": [19.5, 20.25, 20.0, 19.875]},
                      "phases": [{"name": "repeat 0", "start_s": 0.0, "end_s": 0.3}]}
    return case


def window(name: str, duration_s: float, energy_j: float | None, method: str = "counter",
           *, domain: str = "cpu-package:0", start_s: float = 0.0) -> Measurement:
    """A measured window of one domain: ``energy_j`` over ``duration_s`` by ``method``."""
    source = "estimate:cpu-tdp" if method == "estimate" else "rapl"
    power = None if energy_j is None else energy_j / duration_s
    return Measurement(name, start_s, start_s + duration_s, [DomainEnergy(
        domain, energy_j, method, source, power, power, 10)])


def make_run(
    n_cases: int = 1,
    values: Mapping[str, Sequence[float]] | None = None,
    *,
    machine_key: str = "machine-a",
    estimate: bool = False,
    run_id: str | None = None,
    created_utc: str | None = None,
    status: str = "complete",
    workload: str = "toy",
    label: str | None = None,
) -> RunRecord:
    """A run of ``n_cases`` cases (params ``batch`` = 8, 16, 32, ...), all with ``values``."""
    serial = next(_ids)
    sensor = ({"domain": "cpu-package:0", "source": "cpu-tdp", "kind": "estimate"} if estimate
              else {"domain": "cpu-package:0", "source": "rapl", "kind": "counter"})
    return RunRecord(
        id=run_id or f"20250101-{serial:06d}-{serial * 7919 % 0xFFFFFF:06x}",
        # One second apart, in creation order, so "latest" is the run made last.
        created_utc=created_utc or (_EPOCH + timedelta(seconds=serial)).isoformat(),
        status=status,
        machine={"hostname": f"host-{machine_key}", "key": machine_key, "cpu_model": "Test CPU",
                 "cpu_logical": 2, "gpus": []},
        software={"python": "3.12.0", "greenbench": "0.1.0", "git_commit": "abc123"},
        config={"device": "cpu", "repeats": 5, "min_duration_s": 0.5},
        sensors=[{**sensor, "available": True, "reason": None}],
        cases=[make_case(workload, {"batch": 8 * 2**i}, values, estimate=estimate)
               for i in range(n_cases)],
        label=label,
    )
