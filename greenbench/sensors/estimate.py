"""CPU and RAM power *estimates*, for machines where nothing measures them (VMs, no RAPL).

Both are sensors of kind ``estimate``: watts from a model, integrated over time like polled
power, and always labelled as estimates. The registry asks :func:`probe` only for the domains no
real sensor reads.

- CPU (``cpu-package:0``, source ``estimate:cpu-tdp``): ``P = TDP x (0.1 + 0.9 x load^3)``
  (:func:`cpu_power_w`) with the machine-wide CPU load from ``psutil.cpu_times()``. The TDP
  comes, in this order, from the ``cpu_tdp_w`` argument (the CLI's ``--cpu-tdp WATTS``), the
  ``GREENBENCH_CPU_TDP`` environment variable, CodeCarbon's table by model name
  (:mod:`greenbench.sensors.cpu_tdp`), or 4 W per logical CPU.
- RAM (``dram:0``, source ``estimate:ram-size``): a constant 0.375 W per GiB of memory.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psutil

from greenbench.errors import UserError
from greenbench.sensors import cpu_tdp
from greenbench.sensors.base import Probe, Sensor, SensorKind, SensorReadError
from greenbench.sensors.cpu_tdp import TdpMatch

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

CPU_FORMULA = "P = TDP x (0.1 + 0.9 x load^3), load = machine-wide CPU busy share in [0, 1]"
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
            return f"{_w(self.tdp_w)} TDP from --cpu-tdp"
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
            "table": self.table or f"{_NO_TABLE}: pip install codecarbon for its CPU TDPs",
            "logical_cpus": self.logical_cpus,
            "sockets": self.sockets,
            "hypervisor": self.hypervisor,
            "override": OVERRIDE_HINT,
        }


_NO_TABLE = "CodeCarbon not installed (no TDP table)"


def resolve_cpu_tdp(
    cpu_tdp_w: float | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    model_name: str | None = None,
    logical_cpus: int | None = None,
    sockets: int | None = None,
    hypervisor: bool | None = None,
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


class CpuEstimateSensor(Sensor):
    """The whole machine's CPU power, estimated from its TDP and CPU load, watts.

    Domain ``cpu-package:0`` stands for *all* CPU packages together: the load is machine-wide
    and the TDP covers every socket, so there is no per-socket split to offer.

    Each read returns ``cpu_power_w(tdp_w, load)`` where ``load`` is the share of CPU time spent
    busy (total - idle - iowait, over all logical CPUs) since the previous read; the first read
    measures from the sensor's creation. One exception keeps the estimate unbiased: reads closer
    together than ``min_load_span_s`` measure from the read before the previous one instead.
    The kernel counts CPU time in 10 ms ticks, so over a few ticks the load can only be 0, 1/2,
    1, ... and the cube of such a jumpy load overstates the mean power (at a steady 50%,
    alternating 0 and 1 would give 55% of the TDP instead of 21%).

    Before any CPU time has been counted since creation the load is unknown and reads as 0
    (10% of the TDP). Thread-safe: the meter reads from its sampling thread and from the
    caller's thread at window edges.
    """

    domain = "cpu-package:0"
    kind = SensorKind.ESTIMATE
    source = "estimate:cpu-tdp"
    #: the value changes when the kernel's CPU time counters do: every tick, 1/USER_HZ = 10 ms
    update_period_s = 0.01

    def __init__(self, tdp: CpuTdp, *, min_load_span_s: float = 0.1):
        self.tdp = tdp
        self.min_load_span_s = min_load_span_s
        self._lock = threading.Lock()
        # baseline for the first read; taking it here makes the first read cover the time
        # since creation, as the meter expects
        self._base = _cpu_times_or_raise()
        self._before_base: Any = None

    def read_value(self) -> float:
        with self._lock:
            # sampled under the lock, so baselines only ever move forward in time
            now = _cpu_times_or_raise()
            load = self._load_until(now)
        return cpu_power_w(self.tdp.tdp_w, load)

    def _load_until(self, now: Any) -> float:
        """Busy share from the baseline to ``now``; moves the baseline when the span is long
        enough (caller holds the lock)."""
        span_cpu_s = _total_s(now) - _total_s(self._base)
        if span_cpu_s >= self.min_load_span_s * self.tdp.logical_cpus:
            load = _busy_share(self._base, now)
            self._before_base, self._base = self._base, now
            return load
        if self._before_base is not None:
            return _busy_share(self._before_base, now)
        return _busy_share(self._base, now)

    def info(self) -> dict[str, Any]:
        return {
            **self.tdp.to_info(),
            "formula": CPU_FORMULA,
            "load": "psutil.cpu_times() deltas: busy = total - idle - iowait (guest not counted "
            "twice), over all logical CPUs",
            "min_load_span_s": self.min_load_span_s,
            "estimate": True,
        }


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
    cpu_tdp_w: float | None = None, need_cpu: bool = True, need_ram: bool = True
) -> list[Probe]:
    """Probes for the estimate sensors asked for; ``details["summary"]`` says what each is
    built from. Raises :class:`UserError` for an invalid ``cpu_tdp_w`` (the CLI's --cpu-tdp)
    or ``GREENBENCH_CPU_TDP``, checked even when the CPU estimate is not needed."""
    probes: list[Probe] = []
    if need_cpu:
        probes.append(_probe_cpu(resolve_cpu_tdp(cpu_tdp_w)))
    else:
        # a mistyped --cpu-tdp is reported even when RAPL makes it unnecessary
        override_cpu_tdp(cpu_tdp_w)
    if need_ram:
        probes.append(_probe_ram())
    return probes


def _probe_cpu(tdp: CpuTdp) -> Probe:
    probe_ = Probe(CpuEstimateSensor.domain, CpuEstimateSensor.source, SensorKind.ESTIMATE)
    probe_.details = {"summary": tdp.summary(), "tdp_w": tdp.tdp_w, "tdp_source": tdp.source}
    try:
        probe_.sensor = CpuEstimateSensor(tdp)
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


def _cpu_times_or_raise() -> Any:
    try:
        return psutil.cpu_times()
    except (OSError, psutil.Error) as e:
        raise SensorReadError(f"cannot read CPU times: {e}") from e


def _total_s(times: Any) -> float:
    """CPU seconds of all kinds, summed over logical CPUs. Linux already counts guest time in
    user time (and guest_nice in nice), so they come out once."""
    return float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _busy_share(before: Any, after: Any) -> float:
    """Share of CPU time spent busy between two samples, in [0, 1]; 0 when none elapsed."""
    total = _total_s(after) - _total_s(before)
    if total <= 0:
        return 0.0
    waiting = (after.idle - before.idle) + (
        getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0)
    )
    # counters can step back a little when CPUs go offline: keep the share in range
    return min(1.0, max(0.0, (total - waiting) / total))


def _w(watts: float) -> str:
    return f"{watts:g} W"
