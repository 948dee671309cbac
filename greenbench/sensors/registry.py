"""Every sensor greenbench knows, probed on this machine: measured ones first, estimates after.

Estimates are asked for only for domains no real sensor measures: a CPU estimate when there
is no RAPL package zone, a RAM estimate when there is no DRAM zone. GPUs are never estimated.
"""

from __future__ import annotations

from greenbench.sensors import amdgpu, estimate, nvml, rapl
from greenbench.sensors.base import Probe, Sensor
from greenbench.sensors.cpu_time import PROCESS, Scope


def probe_all(cpu_tdp_w: float | None = None, powercap_root: str | None = None,
              scope: Scope = PROCESS, cpu_tdp_given_as: str = "--cpu-tdp") -> list[Probe]:
    """Probe every backend; never raises for missing hardware. ``scope``: whose CPU time a
    CPU estimate charges (the measured process tree by default); ``cpu_tdp_given_as``:
    where ``cpu_tdp_w`` was set, for the estimate's description."""
    probes = [*rapl.probe(powercap_root), *nvml.probe(), *amdgpu.probe()]
    measured = {p.domain for p in probes if p.available}
    need_cpu = not any(d.startswith("cpu-package:") for d in measured)
    need_ram = not any(d.startswith("dram:") for d in measured)
    probes.extend(estimate.probe(cpu_tdp_w=cpu_tdp_w, need_cpu=need_cpu, need_ram=need_ram,
                                 scope=scope, cpu_tdp_given_as=cpu_tdp_given_as))
    return probes


def available_sensors(probes: list[Probe]) -> list[Sensor]:
    return [p.sensor for p in probes if p.sensor is not None]


def summary_line(probes: list[Probe]) -> str:
    """One line: what is measured, or that nothing is and what the estimate is built from.
    A constant model (RAM from its size) is named apart: it is never inside a total."""
    measured = [p for p in probes if p.available and p.kind.value != "estimate"]
    estimated = [p for p in probes if p.available and p.kind.value == "estimate"
                 and not (p.sensor is not None and p.sensor.constant)]
    constants = [p for p in probes if p.available and p.sensor is not None
                 and p.sensor.constant]
    beside = "; ".join(str(p.details.get("summary", p.domain)) for p in constants)
    line = _measured_line(measured, estimated)
    return f"{line}; beside the total: {beside}" if beside else line


def _measured_line(measured: list[Probe], estimated: list[Probe]) -> str:
    if measured and not estimated:
        return "measuring " + ", ".join(f"{p.domain} ({p.source})" for p in measured)
    basis = "; ".join(str(p.details.get("summary", p.domain)) for p in estimated)
    if not measured and not estimated:
        return "no energy sensor on this machine and no estimate"
    if not measured:
        return f"no energy sensor on this machine: every figure is an ESTIMATE ({basis})"
    names = ", ".join(f"{p.domain} ({p.source})" for p in measured)
    return f"measuring {names}; ESTIMATED: {basis}"
