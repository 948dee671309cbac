"""CPU and RAM power *estimates*, for machines where nothing measures them (VMs, no RAPL).

Both are sensors of kind ``estimate``: watts from a model, integrated over time like polled
power, and always labelled as estimates. The registry asks :func:`probe` only for the domains no
real sensor reads.

- CPU (``cpu-package:0``, source ``estimate:cpu-tdp:<scope>``): by default the measured
  process tree's share, ``E = TDP / logical CPUs x its CPU-seconds``; ``--scope thread`` the
  same for one thread; ``--scope machine`` CodeCarbon's ``P = TDP x (0.1 + 0.9 x load^3)``
  (:func:`cpu_power_w`) over the machine's load. The TDP
  comes, in this order, from the ``cpu_tdp_w`` argument (the CLI's ``--cpu-tdp WATTS``), the
  ``GREENBENCH_CPU_TDP`` environment variable, CodeCarbon's table by model name
  (:mod:`greenbench.sensors.cpu_tdp`), or 4 W per logical CPU.
- RAM (``dram:0``, source ``estimate:ram-size``): a constant 0.375 W per GiB of memory,
  reported beside totals (``constant``), added to them only when the user asks.

Figures from CodeCarbon 3.3.2's source (``external/hardware.py``, ``external/ram.py``,
``core/cpu.py``, ``core/resource_tracker.py``), read to choose these models:

- Its machine-wide "cpu_load" mode computes ``tdp * (0.1 + 0.9 * (load/100) ** 3)``, load being
  the system-wide busy share of ``psutil.cpu_times()`` (total minus idle minus iowait, guest
  time taken out of the total because Linux already counts it in user time) since its previous
  reading. (A linear ``max(tdp * load, 0.1 * tdp)`` helper sits beside it but is not what the
  tracker calls.) It multiplies the table TDP by the number of sockets.
- An unknown model gets ``DEFAULT_POWER_PER_CORE = 4`` W per logical CPU (``psutil.cpu_count()``).
  CodeCarbon then multiplies that by the sockets too, counting a 2-socket machine twice; here
  only a table TDP, which is per chip, is multiplied.
- RAM v3: 5 W per DIMM on x86 with a 10 W floor, the DIMM count guessed from the memory size;
  before v3: 3 W per 8 GB (0.375 W/GB).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psutil

from greenbench.errors import UserError
from greenbench.sensors import cpu_tdp, cpu_time
from greenbench.sensors.base import ModelSensor, Probe, Sensor, SensorKind, SensorReadError
from greenbench.sensors.cpu_tdp import TdpMatch
from greenbench.sensors.cpu_time import PROCESS, CpuTimes, Scope

#: the environment variable that sets the CPU TDP when ``--cpu-tdp`` is not given
CPU_TDP_ENV = "GREENBENCH_CPU_TDP"
#: watts per logical CPU when the model is unknown (CodeCarbon's DEFAULT_POWER_PER_CORE)
FALLBACK_W_PER_THREAD = 4.0
#: highest TDP accepted, watts: the biggest server CPUs are about 500 W per socket, so this
#: leaves room for a 4-socket machine while catching milliwatts or kilowatts typed by mistake
MAX_CPU_TDP_W = 2000.0
#: share of the TDP drawn at zero load in the CPU power model
IDLE_SHARE = 0.1
#: watts per GiB of memory (3 W per 8 GB module, Crucial's rule of thumb for DDR3/DDR4)
RAM_W_PER_GIB = 0.375

#: the model per scope: the machine's curve for the machine, a linear share for processes
FORMULAS: dict[str, str] = {
    "machine": "P = TDP x (0.1 + 0.9 x load^3), load = the machine's busy CPU-seconds / "
               "CPU-seconds available",
    "process": "E = TDP / logical CPUs x CPU-seconds of the measured process tree",
    "thread": "E = TDP / logical CPUs x CPU-seconds of the measuring thread",
}
#: the estimate's source names the scope charged, so that results record it as its own method
SOURCES: dict[str, str] = {"process": "estimate:cpu-tdp:process",
                           "thread": "estimate:cpu-tdp:thread",
                           "machine": "estimate:cpu-tdp:machine"}
OVERRIDE_HINT = f"override with --cpu-tdp WATTS or {CPU_TDP_ENV}=WATTS"

TdpSource = Literal["--cpu-tdp", "env", "table", "fallback"]


def cpu_power_w(tdp_w: float, load: float) -> float:
    """CPU power in watts at a load in [0, 1]: ``tdp_w x (0.1 + 0.9 x load^3)``.

    CodeCarbon's machine-wide model: an idle CPU draws 10% of its TDP, a fully loaded one its
    TDP, and in between power rises with the cube of the load (the usual rationale: clocks and
    voltage rise with load, and dynamic power goes as frequency x voltage^2). At load 0.5 that
    is 21.25% of the TDP. Raises ValueError for a load outside [0, 1] or a negative TDP.
    """
    if not 0.0 <= load <= 1.0:
        raise ValueError(f"load must be in [0, 1], got {load}")
    if tdp_w < 0:
        raise ValueError(f"tdp_w must be >= 0, got {tdp_w}")
    return tdp_w * (IDLE_SHARE + (1.0 - IDLE_SHARE) * load**3)


@dataclass(frozen=True)
class CpuTdp:
    """The TDP the CPU estimate uses, and everything it was worked out from."""

    #: the CPU's model string as the OS reports it ("" when unknown)
    model_name: str
    #: the TDP of all the machine's CPUs together, watts
    tdp_w: float
    #: where ``tdp_w`` came from
    source: TdpSource
    #: the table row for ``model_name``, also when an override won (None: no certain match)
    match: TdpMatch | None
    logical_cpus: int
    sockets: int
    #: the table's TDP is multiplied by ``sockets`` only on bare metal: a VM's virtual socket
    #: count says nothing about physical chips
    hypervisor: bool
    #: where the table came from (path and CodeCarbon version); None: CodeCarbon not installed
    table: str | None
    #: where a ``cpu_tdp_w`` override was given: the option, or the settings file and key
    given_as: str = "--cpu-tdp"

    @property
    def table_chips(self) -> int:
        """How many chips the table's TDP is counted for."""
        return 1 if self.hypervisor else self.sockets

    @property
    def fallback_tdp_w(self) -> float:
        return FALLBACK_W_PER_THREAD * self.logical_cpus

    def derivation(self) -> str:
        """How ``tdp_w`` was obtained, in a few words (no model name)."""
        if self.source == "--cpu-tdp":
            return f"{_w(self.tdp_w)} TDP from {self.given_as}"
        if self.source == "env":
            return f"{_w(self.tdp_w)} TDP from {CPU_TDP_ENV}"
        if self.source == "table" and self.match is not None:
            found = f"'{self.match.table_name}' in CodeCarbon's table ({self.match.how} match)"
            if self.table_chips == 1:
                return f"{found}: {_w(self.tdp_w)} TDP"
            chips = f"{_w(self.match.tdp_w)} x {self.table_chips} sockets"
            return f"{found}: {chips} = {_w(self.tdp_w)} TDP"
        return (
            f"fallback: {_w(FALLBACK_W_PER_THREAD)}/thread x {self.logical_cpus} threads"
            f" = {_w(self.tdp_w)} TDP"
        )

    def summary(self) -> str:
        """One line for people, e.g. ``CPU: AMD EPYC, not in CodeCarbon's table: 4 W/thread x
        2 threads = 8 W TDP (override with --cpu-tdp WATTS or GREENBENCH_CPU_TDP=WATTS)``."""
        name = self.model_name or "unknown model"
        if self.source in ("--cpu-tdp", "env"):
            return f"CPU: {name}, {self.derivation()}"
        if self.source == "table":
            note = "; TDP of the whole chip, the VM may get a share" if self.hypervisor else ""
            return f"CPU: {name} = {self.derivation()}{note} ({OVERRIDE_HINT})"
        why = "not in CodeCarbon's table" if self.table else _NO_TABLE
        fallback = self.derivation().removeprefix("fallback: ")
        return f"CPU: {name}, {why}: {fallback} ({OVERRIDE_HINT})"

    def to_info(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "tdp_w": self.tdp_w,
            "tdp_source": self.source,
            "tdp_derivation": self.derivation(),
            "table_entry": self.match.table_name if self.match else None,
            "table_tdp_w": self.match.tdp_w if self.match else None,
            "match": self.match.how if self.match else "none",
            "fallback": (
                f"{_w(FALLBACK_W_PER_THREAD)}/thread x {self.logical_cpus} threads"
                f" = {_w(self.fallback_tdp_w)}"
            ),
            "table": self.table or f"{_NO_TABLE}: pip install 'greenbench[carbon]'",
            "logical_cpus": self.logical_cpus,
            "sockets": self.sockets,
            "hypervisor": self.hypervisor,
            "override": OVERRIDE_HINT,
        }


#: no brackets: the summary is printed through rich markup, which would swallow "[carbon]"
_NO_TABLE = "CodeCarbon's TDP table not installed (greenbench's carbon extra)"


def resolve_cpu_tdp(
    cpu_tdp_w: float | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    model_name: str | None = None,
    logical_cpus: int | None = None,
    sockets: int | None = None,
    hypervisor: bool | None = None,
    given_as: str = "--cpu-tdp",
) -> CpuTdp:
    """Work out the machine's CPU TDP: argument > ``GREENBENCH_CPU_TDP`` > table > fallback.

    An override is the TDP of all sockets together. Arguments left at None are read from this
    machine (``environ`` from ``os.environ``). Raises :class:`UserError` for an override that
    is not a number of watts in (0, 2000].
    """
    environ = os.environ if environ is None else environ
    model_name = cpu_tdp.cpu_model_name() if model_name is None else model_name
    logical_cpus = logical_cpus or psutil.cpu_count(logical=True) or os.cpu_count() or 1
    sockets = cpu_tdp.cpu_socket_count() if sockets is None else sockets
    if hypervisor is None:
        hypervisor = cpu_tdp.running_under_hypervisor()

    table = cpu_tdp.load_cpu_power_table()
    match = None if table is None else cpu_tdp.lookup_tdp(model_name, table)

    source: TdpSource
    override = override_cpu_tdp(cpu_tdp_w, environ)
    if override is not None:
        tdp_w, source = override
    elif match is not None:
        tdp_w, source = match.tdp_w * (1 if hypervisor else sockets), "table"
    else:
        tdp_w, source = FALLBACK_W_PER_THREAD * logical_cpus, "fallback"
    return CpuTdp(
        model_name=model_name,
        tdp_w=tdp_w,
        source=source,
        match=match,
        logical_cpus=logical_cpus,
        sockets=sockets,
        hypervisor=hypervisor,
        table=None if table is None else table.source,
        given_as=given_as,
    )


def override_cpu_tdp(
    cpu_tdp_w: float | None, environ: Mapping[str, str] | None = None
) -> tuple[float, TdpSource] | None:
    """The user's TDP, watts, and where it was set: ``cpu_tdp_w`` (the CLI's --cpu-tdp) before
    ``GREENBENCH_CPU_TDP``; None when neither is set. Raises a one-line :class:`UserError` for a
    value that is not a number of watts in (0, 2000]."""
    if cpu_tdp_w is not None:
        return _checked_tdp_w(cpu_tdp_w, f"--cpu-tdp {cpu_tdp_w}"), "--cpu-tdp"
    raw = (os.environ if environ is None else environ).get(CPU_TDP_ENV, "").strip()
    if not raw:
        return None
    return _checked_tdp_w(raw, f"{CPU_TDP_ENV}={raw}"), "env"


class CpuEstimateSensor(ModelSensor):
    """CPU power estimated from the TDP and the CPU time of whoever is charged, watts.

    Domain ``cpu-package:0`` stands for *all* CPU packages together: the TDP covers every
    socket, so there is no per-socket split to offer. Over an interval the load is the busy
    CPU-seconds of the charged scope (:mod:`greenbench.sensors.cpu_time`: the measured process
    tree by default, one thread, or the whole machine) divided by the CPU-seconds available.
    For the machine the energy is ``cpu_power_w(tdp_w, load) x seconds``, CodeCarbon's curve
    with its 10% idle floor. For a process tree or a thread it is their *share*: ``tdp_w x
    load x seconds``, i.e. TDP / logical CPUs per busy CPU-second. The share is linear on
    purpose: then it depends on the work's CPU time alone. A curve with an idle floor applied
    to a share would charge the time the work spent waiting for a busy machine (the floor x
    the longer wall time) and under-charge its cube of a smaller load: the same code would
    cost more beside a neighbour, the failure the process scope exists to avoid. The meter
    asks for the energy once per window, from the CPU times at the window's own edges.

    The kernel counts CPU time in 10 ms ticks: over a window of ``w`` seconds the load is
    uncertain by about two ticks per CPU over ``w``; the meter flags windows shorter than ten
    ticks. Thread-safe: the meter reads from its sampling thread and at window edges.
    """

    domain = "cpu-package:0"
    #: the value changes when the kernel's CPU time counters do: every tick, 1/USER_HZ = 10 ms
    update_period_s = 0.01

    def __init__(self, tdp: CpuTdp, scope: Scope = PROCESS,
                 reader: Callable[[bool], CpuTimes] | None = None) -> None:
        self.tdp = tdp
        self.scope = scope
        self.source = SOURCES[scope]
        self._lock = threading.Lock()
        self._reader = reader if reader is not None else _reader(scope, tdp.logical_cpus)

    def read_state(self, edge: bool) -> CpuTimes:
        with self._lock:
            return self._reader(edge)

    def energy_j(self, before: CpuTimes, after: CpuTimes, dt_s: float) -> float:
        load = load_between(before, after)
        if self.scope == "machine":
            return cpu_power_w(self.tdp.tdp_w, load) * max(0.0, dt_s)
        # a share of the machine: each busy CPU-second costs TDP / logical CPUs, so the
        # figure depends on the work's CPU time alone, not on how long a busy machine made
        # it wait (an idle floor or a convex curve over a share would charge the waiting)
        return self.tdp.tdp_w * load * max(0.0, dt_s)

    def info(self) -> dict[str, Any]:
        return {
            **self.tdp.to_info(),
            "formula": FORMULAS[self.scope],
            "scope": self.scope,
            "load": cpu_time.describe(self.scope),
            "estimate": True,
        }


def load_between(before: CpuTimes, after: CpuTimes) -> float:
    """Busy share between two CPU-time readings, in [0, 1]; 0 when no time was available.
    Counters can step back a little when CPUs go offline: the share is kept in range."""
    available = after.available_s - before.available_s
    if available <= 0:
        return 0.0
    return min(1.0, max(0.0, (after.busy_s - before.busy_s) / available))


def _reader(scope: Scope, logical_cpus: int) -> Callable[[bool], CpuTimes]:
    if scope == "machine":
        return cpu_time.machine_reader()
    if scope == "thread":
        return cpu_time.ThreadReader(threading.get_native_id(), logical_cpus)
    return cpu_time.ProcessTreeReader(logical_cpus=logical_cpus)


class RamEstimateSensor(Sensor):
    """Memory power as a constant ``w_per_gib x memory size``, watts (default 0.375 W/GiB).

    Of METHODOLOGY's two models this takes the per-GB one (3 W per 8 GB): its only input, the
    memory size, is known everywhere, and it gives a VM or container the share of power that
    goes with its share of memory. CodeCarbon v3's 5 W per DIMM needs the DIMM count, which no
    VM can see; CodeCarbon guesses it from the size anyway, in steps (16 GiB -> 10 W, 17 GiB ->
    20 W) with a 10 W floor that charges a small VM for modules it shares. Its weak side:
    modern high-capacity server DIMMs draw less per GiB, so large servers are overstated.

    The size is ``psutil.virtual_memory().total`` in GiB (2^30 bytes, the unit DIMM sizes are
    quoted in), a little under the installed memory (the kernel keeps some). Memory power
    hardly follows use, so the estimate is constant.
    """

    domain = "dram:0"
    kind = SensorKind.ESTIMATE
    source = "estimate:ram-size"
    constant = True
    #: constant, so exact over any window: the finest period, never the reason a window looks
    #: too short or a poll too slow
    update_period_s = 0.001

    def __init__(self, memory_bytes: int | None = None, *, w_per_gib: float = RAM_W_PER_GIB):
        if memory_bytes is None:
            memory_bytes = int(psutil.virtual_memory().total)
        self.memory_bytes = memory_bytes
        self.w_per_gib = w_per_gib
        self.memory_gib = memory_bytes / 2**30
        self.power_w = self.memory_gib * w_per_gib

    def read_value(self) -> float:
        return self.power_w

    def summary(self) -> str:
        return (
            f"RAM: {self.memory_gib:.1f} GiB x {self.w_per_gib:g} W/GiB = {self.power_w:.1f} W, "
            "constant"
        )

    def info(self) -> dict[str, Any]:
        return {
            "memory_bytes": self.memory_bytes,
            "memory_gib": round(self.memory_gib, 3),
            "memory_source": "psutil.virtual_memory().total",
            "w_per_gib": self.w_per_gib,
            "formula": f"P = {self.w_per_gib:g} W/GiB x memory size (constant)",
            "estimate": True,
        }


def probe(
    cpu_tdp_w: float | None = None, need_cpu: bool = True, need_ram: bool = True,
    scope: Scope = PROCESS, cpu_tdp_given_as: str = "--cpu-tdp",
) -> list[Probe]:
    """Probes for the estimate sensors asked for; ``details["summary"]`` says what each is
    built from. Raises :class:`UserError` for an invalid ``cpu_tdp_w`` (the CLI's --cpu-tdp)
    or ``GREENBENCH_CPU_TDP``, checked even when the CPU estimate is not needed."""
    probes: list[Probe] = []
    if need_cpu:
        probes.append(_probe_cpu(resolve_cpu_tdp(cpu_tdp_w, given_as=cpu_tdp_given_as), scope))
    else:
        # a mistyped --cpu-tdp is reported even when RAPL makes it unnecessary
        override_cpu_tdp(cpu_tdp_w)
    if need_ram:
        probes.append(_probe_ram())
    return probes


def _probe_cpu(tdp: CpuTdp, scope: Scope) -> Probe:
    probe_ = Probe(CpuEstimateSensor.domain, SOURCES[scope], SensorKind.ESTIMATE)
    probe_.details = {"summary": f"{tdp.summary()}; charging the {cpu_time.describe(scope)}",
                      "tdp_w": tdp.tdp_w, "tdp_source": tdp.source, "scope": scope}
    try:
        probe_.sensor = CpuEstimateSensor(tdp, scope)
    except SensorReadError as e:
        probe_.reason = str(e)
        probe_.remedy = "psutil must be able to read the CPU times (/proc/stat on Linux)"
        return probe_
    if tdp.source == "fallback":
        probe_.remedy = f"give the CPU's TDP: {OVERRIDE_HINT} (all sockets together)"
    return probe_


def _probe_ram() -> Probe:
    probe_ = Probe(RamEstimateSensor.domain, RamEstimateSensor.source, SensorKind.ESTIMATE)
    try:
        sensor = RamEstimateSensor()
    except (OSError, psutil.Error) as e:
        probe_.reason = f"cannot read the memory size: {e}"
        probe_.remedy = "psutil must be able to read the memory size (/proc/meminfo on Linux)"
        return probe_
    probe_.sensor = sensor
    probe_.details = {"summary": sensor.summary(), "power_w": sensor.power_w}
    return probe_


def _checked_tdp_w(value: float | str, setting: str) -> float:
    """``value`` in watts if it is a plausible TDP; ``setting`` shows it as the user wrote it."""
    try:
        tdp_w = float(value)
    except (TypeError, ValueError):
        tdp_w = float("nan")
    # written so that NaN fails too
    if not 0 < tdp_w <= MAX_CPU_TDP_W:
        raise UserError(
            f"{setting}: give the TDP of all CPU sockets together in watts, "
            f"more than 0 and at most {MAX_CPU_TDP_W:g} (e.g. 150)"
        )
    return tdp_w


def _w(watts: float) -> str:
    return f"{watts:g} W"
