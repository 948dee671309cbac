"""What a run stores: the run (machine, software, configuration, sensors) and its cases.

These are typed dataclasses end to end: a repeat holds its
:class:`~greenbench.measurement.Measurement`, a case its idle one, its :class:`Warmup` and one
:class:`~greenbench.stats.Summary` per metric. ``to_dict`` / ``from_dict`` are the one converter
between them and JSON, so the results store, the export format and the worker protocol share one
definition. The exported format is documented in docs/results-format.md; bump ``FORMAT_VERSION``
on any change to it (this converter writes version 2 and reads every version-1 and
version-2 document; version 2 added ``run.job``, the distributed job of a multi-host run).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from greenbench.measurement import Measurement
from greenbench.stats import Summary

FORMAT_VERSION = 2


@dataclass
class Warmup:
    """What the warm-up found: the calibrated step, and the metered warm-up window where
    there was one (the runner meters it; the pytest plugin's warm-up rounds are not)."""

    measurement: Measurement | None = None
    #: the calibrated time of one step (s), and the steps each repeat runs
    step_s: float | None = None
    steps_per_repeat: int | None = None
    #: how long the protocol let power settle before the idle baseline (s)
    settle_s: float | None = None
    #: warm-up rounds run, and the shortest repeat allowed (pytest plugin)
    rounds: int | None = None
    min_repeat_s: float | None = None

    _CALIBRATION = ("step_s", "steps_per_repeat", "settle_s", "rounds", "min_repeat_s")

    def to_dict(self) -> dict[str, Any]:
        """Flat, as version 1 stores it: the window's fields beside the calibration's."""
        window = self.measurement.to_dict() if self.measurement is not None else {}
        calibration = {k: v for k in self._CALIBRATION if (v := getattr(self, k)) is not None}
        return {**window, **calibration}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Warmup:
        # Version 1 pytest-plugin documents named the rounds' figures differently.
        aliases = {"call_s": "step_s", "iterations": "steps_per_repeat",
                   "min_round_s": "min_repeat_s"}
        calibration = {aliases.get(k, k): v for k, v in data.items()
                       if aliases.get(k, k) in cls._CALIBRATION}
        window = Measurement.from_dict(data) if "domains" in data else None
        return cls(measurement=window, **calibration)


@dataclass
class Repeat:
    steps: int
    units: float
    measurement: Measurement
    metrics: dict[str, float | None]
    quality: dict[str, float] | None = None
    #: the worker process (0, 1, ...) of its case that ran it: the unit of replication
    process: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "units": self.units,
                "measurement": self.measurement.to_dict(), "metrics": dict(self.metrics),
                "quality": None if self.quality is None else dict(self.quality),
                "process": self.process}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Repeat:
        d = dict(data)
        d["measurement"] = Measurement.from_dict(d["measurement"])
        return cls(**d)


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
    idle: Measurement | None = None
    warmup: Warmup | None = None
    #: metric -> its statistics over the repeats
    summary: dict[str, Summary] = field(default_factory=dict)
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

    @property
    def warmup_window(self) -> Measurement | None:
        """The metered warm-up window, if there was one."""
        return self.warmup.measurement if self.warmup is not None else None

    def values(self, metric: str) -> list[float]:
        """The per-repeat values of one metric (None values left out)."""
        return [v for r in self.repeats if (v := r.metrics.get(metric)) is not None]

    def to_dict(self) -> dict[str, Any]:
        typed = {"repeats", "idle", "warmup", "summary"}
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in typed}
        return {**{k: _plain(v) for k, v in d.items()},
                "repeats": [r.to_dict() for r in self.repeats],
                "idle": self.idle.to_dict() if self.idle is not None else None,
                "warmup": self.warmup.to_dict() if self.warmup is not None else None,
                "summary": {k: s.to_dict() for k, s in self.summary.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        d = dict(data)
        d["repeats"] = [Repeat.from_dict(r) for r in d.get("repeats", [])]
        d["idle"] = Measurement.from_dict(d["idle"]) if d.get("idle") else None
        d["warmup"] = Warmup.from_dict(d["warmup"]) if d.get("warmup") else None
        d["summary"] = {k: Summary.from_dict(s) for k, s in d.get("summary", {}).items()}
        return cls(**d)


@dataclass
class RunRecord:
    id: str
    created_utc: str
    status: str  # running | complete | interrupted | failed (read as died: see run_owner)
    machine: dict[str, Any]
    software: dict[str, Any]
    config: dict[str, Any]
    sensors: list[dict[str, Any]]
    cases: list[CaseRecord] = field(default_factory=list)
    footprint: dict[str, Any] | None = None
    label: str | None = None
    #: the distributed job a multi-host run measured (world size, hosts and who read what):
    #: a greenbench.distributed.record.JobRecord's to_dict; None for a run on one host
    job: dict[str, Any] | None = None

    @property
    def machine_key(self) -> str:
        return str(self.machine.get("key", ""))

    @property
    def is_estimate(self) -> bool:
        return any(s.get("kind") == "estimate" for s in self.sensors)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "cases"}
        return {**d, "cases": [c.to_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        d = dict(data)
        d["cases"] = [CaseRecord.from_dict(c) for c in d.get("cases", [])]
        return cls(**d)


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a plain field (dicts and lists copied, so that a document never
    shares mutable state with the record it came from)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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
