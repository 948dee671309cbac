"""What a run stores: the run (machine, software, configuration, sensors) and its cases.

These are plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``), so the
results store, the export format and the worker protocol share one definition. The exported
format is documented in docs/results-format.md; bump ``FORMAT_VERSION`` on any change to it.

Per-repeat metrics are *per step* (one call of the workload's ``step``), so repeats with
different calibrated step counts compare directly:

- ``energy_j``, ``net_energy_j``: gross and net-of-idle energy per step (J);
- ``energy_per_unit_j``, ``net_energy_per_unit_j``: the same per unit (token, sample, ...);
- ``time_s``: wall time per step; ``power_w``: mean power over the repeat (W);
- ``throughput_per_s``: units per second;
- ``domain:<name>:energy_j``: one domain's energy per step;
- ``quality:<name>``, ``metric:<name>``, ``phase:<name>:energy_j``: from the workload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1


@dataclass
class Repeat:
    steps: int
    units: float
    measurement: dict[str, Any]
    metrics: dict[str, float | None]
    quality: dict[str, float] | None = None
    #: the worker process (0, 1, ...) of its case that ran it: the unit of replication
    process: int = 0


@dataclass
class CaseRecord:
    workload: str
    params: dict[str, Any]
    status: str  # ok | failed | skipped | interrupted
    unit: str = "steps"
    units_per_step: float = 1.0
    variants: list[str] = field(default_factory=list)
    error: str | None = None
    #: the end of the worker's stderr or traceback, when the case failed
    error_detail: str | None = None
    repeats: list[Repeat] = field(default_factory=list)
    idle: dict[str, Any] | None = None
    warmup: dict[str, Any] | None = None
    #: metric -> greenbench.stats.Summary.to_dict()
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    #: compact power trace: {"t_s": [...], "power_w": {domain: [...]}, "phases": [...]}
    trace: dict[str, Any] | None = None
    footprint: dict[str, Any] | None = None
    quality_metric: str | None = None
    quality_higher_is_better: bool = False

    @property
    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.workload}[{shown}]" if shown else self.workload

    def values(self, metric: str) -> list[float]:
        """The per-repeat values of one metric (None values left out)."""
        return [v for r in self.repeats if (v := r.metrics.get(metric)) is not None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseRecord:
        d = dict(data)
        d["repeats"] = [Repeat(**r) for r in d.get("repeats", [])]
        return cls(**d)


@dataclass
class RunRecord:
    id: str
    created_utc: str
    status: str  # running | complete | interrupted | failed
    machine: dict[str, Any]
    software: dict[str, Any]
    config: dict[str, Any]
    sensors: list[dict[str, Any]]
    cases: list[CaseRecord] = field(default_factory=list)
    footprint: dict[str, Any] | None = None
    label: str | None = None

    @property
    def machine_key(self) -> str:
        return str(self.machine.get("key", ""))

    @property
    def is_estimate(self) -> bool:
        return any(s.get("kind") == "estimate" for s in self.sensors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        d = dict(data)
        d["cases"] = [CaseRecord.from_dict(c) for c in d.get("cases", [])]
        return cls(**d)


def case_names(cases: Sequence[CaseRecord]) -> list[str]:
    """Short names that still tell the cases apart: the workload, plus the parameters that vary
    among that workload's cases (``attention[mechanism=sdpa, seq_len=1024]``, or ``attention``
    when it has one case). Tables and captions use these instead of every parameter."""
    varying: dict[str, list[str]] = {}
    for workload in dict.fromkeys(c.workload for c in cases):
        group = [c.params for c in cases if c.workload == workload]
        keys = dict.fromkeys(k for p in group for k in p)
        varying[workload] = [k for k in keys if len({repr(p.get(k)) for p in group}) > 1]
    names = []
    for c in cases:
        shown = ", ".join(f"{k}={c.params[k]}" for k in varying[c.workload]
                          if c.params.get(k) is not None)
        names.append(f"{c.workload}[{shown}]" if shown else c.workload)
    return names
