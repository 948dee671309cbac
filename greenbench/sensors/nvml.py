"""NVIDIA GPUs through NVML (package ``nvidia-ml-py``, module ``pynvml``).

Per visible GPU one sensor, chosen by what the GPU supports:

- :class:`NvmlEnergySensor` (kind ``counter``): ``nvmlDeviceGetTotalEnergyConsumption``,
  millijoules since the driver loaded (Volta and newer), read here in joules. Its ``cross_check``
  is an :class:`NvmlPowerSensor` for the same GPU, which the meter integrates beside it.
- :class:`NvmlPowerSensor` (kind ``power``): ``nvmlDeviceGetPowerUsage``, milliwatts, read here
  in watts; used alone on GPUs without the energy counter, or on every GPU where
  ``GREENBENCH_NVML_METHOD=power`` asks for polling. Used alone it carries the protocol's
  part-time-power mitigations (:mod:`greenbench.polled_power`).
- :class:`NvmlModulePowerSensor` (kind ``power``, domain ``module:N``): on Grace Hopper the
  module's power (GPU, Grace CPU and their memory), NVML field ``NVML_FI_DEV_POWER_INSTANT`` at
  scope ``NVML_POWER_SCOPE_MODULE``. It overlaps ``gpu:N`` and the CPU's domains, so it is
  recorded beside the total, never added (:func:`greenbench.attribution.module_overlaps`).

Each GPU sensor also answers who else uses its GPU (:meth:`_NvmlSensor.processes`,
:meth:`_NvmlSensor.sm_use`), for :mod:`greenbench.gpu_share`.

Domains are ``gpu:N`` where N is the index the framework sees (torch ``cuda:N``), so a measurement
lines up with the device the work ran on. ``CUDA_VISIBLE_DEVICES`` is read the way CUDA (and
``torch.cuda._parse_visible_devices``) reads it:

- unset: every GPU, in NVML order;
- empty: no GPU;
- indices (``"1,0"``) or GPU UUIDs (``"GPU-8d0e..."``, a unique prefix is enough): those GPUs in
  that order; the first entry that names no GPU ends the list, and a repeated entry makes the list
  empty;
- MIG instance UUIDs (``"MIG-..."``): each becomes an unavailable probe, because NVML reports power
  and energy for the whole GPU, never for one MIG slice.

NVML numbers GPUs by PCI bus; CUDA by default numbers them fastest first
(``CUDA_DEVICE_ORDER=FASTEST_FIRST``). On a machine with identical GPUs the two orders agree; with
different models they may not, and the probe says so (set ``CUDA_DEVICE_ORDER=PCI_BUS_ID``).

``pynvml`` is imported lazily and NVML is initialised once per process; nothing here raises at
import time, and :func:`probe` never raises.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from greenbench.polled_power import CITATION, PartTimeMitigation
from greenbench.sensors.base import Probe, Sensor, SensorKind, SensorReadError, device_facts

SOURCE = "nvml"

#: ``power`` makes polled power the measurement on every GPU, counter or not
METHOD_ENV = "GREENBENCH_NVML_METHOD"

#: GPUs whose power value averages only 25 ms of each 100 ms (Yang et al., SC'24: A100, H100;
#: the A800/H800/H200/GH200 share those chips)
PART_TIME_MODELS = ("A100", "A800", "H100", "H800", "H200", "GH200")

#: the domain of probes that concern every GPU at once (no library, no driver, none visible)
ALL_GPUS = "gpu:*"

MIG_REASON = "MIG instances cannot be measured separately: NVML reports power for the whole GPU"
MIG_REMEDY = (
    "Measure on a GPU with MIG disabled (nvidia-smi -i <gpu> -mig 0, as root, with no work "
    "running), or attribute the whole GPU's energy yourself; every MIG instance on a GPU shares "
    "the one power and energy reading."
)

# The counter and the power value refresh every 20-100 ms depending on the GPU generation
# (METHODOLOGY.md, "GPUs: NVML"); the slow end is the safe assumption for window-length checks.
NVML_UPDATE_PERIOD_S = 0.1


def probe() -> list[Probe]:
    """One probe per GPU the framework sees, plus process-wide probes (domain ``gpu:*``).

    Never raises: a missing library, a missing driver, an empty or invalid
    ``CUDA_VISIBLE_DEVICES`` and a failing GPU each become an unavailable :class:`Probe` with a
    reason and a remedy.
    """
    loaded = load_nvml()
    if isinstance(loaded, Unavailable):
        return [_all_gpus_unavailable(loaded.reason, loaded.remedy)]
    pynvml = loaded
    try:
        return _probe_visible_gpus(pynvml)
    except pynvml.NVMLError as err:
        return [
            _all_gpus_unavailable(
                f"NVML failed while listing GPUs: {_nvml_error_text(err)}",
                "Check that nvidia-smi lists the GPUs; a GPU that fell off the bus or needs a "
                "reset cannot be measured.",
            )
        ]


def gpu_facts() -> list[dict[str, Any]]:
    """Facts about every visible GPU, for storing with a machine description.

    Each dict holds ``domain`` and what :meth:`NvmlEnergySensor.info` holds (name, UUID, NVML
    index, driver version, power limit in W, clocks in MHz, performance state, method); a GPU
    that cannot be measured (MIG) still gets the facts NVML gives about it; a GPU whose module
    power NVML reports (Grace Hopper) has ``power_scope_module`` True (the module is one GPU,
    not another device). Empty when NVML is unavailable.
    """
    probes = probe()
    modules = {"gpu:" + p.domain.removeprefix("module:") for p in probes
               if p.domain.startswith("module:")}
    facts = device_facts([p for p in probes if not p.domain.startswith("module:")])
    for gpu in facts:
        if gpu["domain"] in modules:
            gpu["power_scope_module"] = True
    return facts


class _NvmlSensor(Sensor):
    """What both NVML sensors share: one GPU, identified by framework and NVML index."""

    source = SOURCE
    update_period_s = NVML_UPDATE_PERIOD_S
    #: power readings are averages that lag load by up to a second
    settle_s = 1.0
    method = ""

    def __init__(self, pynvml: ModuleType, handle: Any, domain: str, nvml_index: int) -> None:
        self._nvml = pynvml
        self._handle = handle
        self.domain = domain
        self.nvml_index = nvml_index

    def info(self) -> dict[str, Any]:
        facts = _device_facts(self._nvml, self._handle)
        facts.setdefault("nvml_index", self.nvml_index)
        facts["method"] = self.method
        return facts

    def _read_error(self, what: str, err: Exception) -> SensorReadError:
        return SensorReadError(
            f"{self.domain} (NVML GPU {self.nvml_index}): {what} failed: {_nvml_error_text(err)}"
        )

    def processes(self) -> dict[int, int | None]:
        """pid -> GPU memory in bytes (None: unknown) of every compute process on this GPU.

        In a container NVML may list host pids, which this process cannot see as its own."""
        try:
            found = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except self._nvml.NVMLError as err:
            raise self._read_error("listing its processes", err) from err
        return {int(p.pid): p.usedGpuMemory for p in found}

    def sm_use(self, since_us: int) -> dict[int, float] | None:
        """pid -> mean SM utilisation (%) in NVML's per-process samples newer than
        ``since_us`` (Unix time in microseconds); {} when there were none; None when this GPU
        or driver keeps no per-process samples."""
        try:
            samples = self._nvml.nvmlDeviceGetProcessUtilization(self._handle, since_us)
        except (self._nvml.NVMLError_NotSupported, self._nvml.NVMLError_FunctionNotFound):
            return None
        except self._nvml.NVMLError_NotFound:
            return {}
        except self._nvml.NVMLError as err:
            if getattr(err, "value", None) == self._nvml.NVML_SUCCESS:
                return {}  # nvidia-ml-py raises "success" when the count is 0: no samples
            raise self._read_error("reading per-process utilisation", err) from err
        by_pid: dict[int, list[int]] = {}
        for sample in samples:
            by_pid.setdefault(int(sample.pid), []).append(int(sample.smUtil))
        return {pid: sum(v) / len(v) for pid, v in by_pid.items()}

    def lifetime_use(self, pids: list[int]) -> dict[int, float] | None:
        """pid -> GPU utilisation (%) over each process's life, from NVML accounting (on where
        ``nvidia-smi -am 1`` turned it on); None when accounting is off or unsupported."""
        nvml = self._nvml
        try:
            if nvml.nvmlDeviceGetAccountingMode(self._handle) != nvml.NVML_FEATURE_ENABLED:
                return None
        except nvml.NVMLError:
            return None
        use: dict[int, float] = {}
        for pid in pids:
            try:
                use[pid] = float(nvml.nvmlDeviceGetAccountingStats(self._handle, pid)
                                 .gpuUtilization)
            except nvml.NVMLError:
                continue
        return use


class NvmlEnergySensor(_NvmlSensor):
    """Total energy since the driver loaded, in joules (NVML reports millijoules).

    The NVML counter is 64-bit millijoules, so it does not wrap in practice (``wrap_j`` is None).
    """

    kind = SensorKind.COUNTER
    resolution = 1e-3  # J: one millijoule
    wrap_j = None
    method = "counter"

    def __init__(
        self,
        pynvml: ModuleType,
        handle: Any,
        domain: str,
        nvml_index: int,
        cross_check: NvmlPowerSensor | None,
    ) -> None:
        super().__init__(pynvml, handle, domain, nvml_index)
        self.cross_check = cross_check

    def read_value(self) -> float:
        """Joules since the driver loaded."""
        try:
            millijoules = self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
        except self._nvml.NVMLError as err:
            raise self._read_error("reading total energy", err) from err
        return millijoules / 1000.0


class NvmlPowerSensor(_NvmlSensor):
    """Board power in watts (NVML reports milliwatts).

    On A100/H100 this value covers only part of each update period, and on some parts it is a
    one-second average (METHODOLOGY.md, "part-time" power): integrate it over long windows.
    """

    kind = SensorKind.POWER
    resolution = 1e-3  # W: one milliwatt
    method = "power"
    #: set where this sensor is the measurement (not a counter's cross-check): what the
    #: protocol does about the reading's part-time coverage
    part_time: PartTimeMitigation | None = None

    def info(self) -> dict[str, Any]:
        facts = super().info()
        if self.part_time is not None:
            facts["polled_power"] = self.part_time.to_dict()
        return facts

    def read_value(self) -> float:
        """Watts, now."""
        try:
            milliwatts = self._nvml.nvmlDeviceGetPowerUsage(self._handle)
        except self._nvml.NVMLError as err:
            raise self._read_error("reading power", err) from err
        return milliwatts / 1000.0


class NvmlModulePowerSensor(_NvmlSensor):
    """A Grace Hopper module's power in watts: GPU, Grace CPU and memory together.

    ``overlaps`` names the domains this power already contains: its GPU and the host's CPU
    and DRAM domains (a Grace Hopper module's CPU is the host's CPU, which RAPL or the CPU
    estimate may also report). It is recorded beside totals, never added to them.
    """

    kind = SensorKind.POWER
    resolution = 1e-3
    method = "power (module scope)"

    def __init__(self, pynvml: ModuleType, handle: Any, gpu_domain: str, nvml_index: int
                 ) -> None:
        super().__init__(pynvml, handle, "module:" + gpu_domain.removeprefix("gpu:"),
                         nvml_index)
        self.overlaps = (gpu_domain, "cpu-package:", "dram:")

    def info(self) -> dict[str, Any]:
        return {**super().info(), "power_scope": "module",
                "overlaps": [d.rstrip(":") for d in self.overlaps]}

    def read_value(self) -> float:
        """Watts, now, for the whole module."""
        return _module_power_mw(self._nvml, self._handle, self._read_error) / 1000.0


# --- NVML initialisation -------------------------------------------------------------------


@dataclass(frozen=True)
class Unavailable:
    """Why the library cannot be used here, and what to do (also read by greenbench.gpu)."""

    reason: str
    remedy: str


_init_lock = threading.Lock()
# (the pynvml module that was initialised, the error nvmlInit raised or None); keyed by module so
# that a different pynvml (a test's stand-in) is initialised afresh
_init_state: tuple[ModuleType, BaseException | None] | None = None


def load_nvml() -> ModuleType | Unavailable:
    """The initialised ``pynvml`` module, or why there is none.

    ``nvmlInit`` runs once per process (its outcome, success or failure, is remembered): NVML
    keeps a reference count per init, and a failed init does not start working on a retry without
    a driver change. NVML is never shut down; the process exit releases it.
    """
    global _init_state
    try:
        import pynvml
    except ImportError as err:
        return Unavailable(
            f"nvidia-ml-py not installed ({err})",
            "pip install nvidia-ml-py (a greenbench dependency, so its absence means a broken "
            "install); ignore this on machines without NVIDIA GPUs.",
        )
    with _init_lock:
        if _init_state is None or _init_state[0] is not pynvml:
            try:
                pynvml.nvmlInit()
                _init_state = (pynvml, None)
            except pynvml.NVMLError as err:
                _init_state = (pynvml, err)
        error = _init_state[1]
    if error is None:
        return pynvml
    return Unavailable(
        f"NVML could not start: {_nvml_error_text(error)}", _init_remedy(pynvml, error)
    )


def _forget_init() -> None:
    """Forget the NVML initialisation outcome, so the next probe initialises again (tests)."""
    global _init_state
    with _init_lock:
        _init_state = None


def _init_remedy(pynvml: ModuleType, error: BaseException) -> str:
    ignore = " Ignore this on machines without NVIDIA GPUs."
    code = getattr(error, "value", None)
    if code == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return (
            "libnvidia-ml.so.1 was not found: install the NVIDIA driver; in a container, start it "
            "with GPU access (e.g. docker run --gpus all with the NVIDIA Container Toolkit)."
            + ignore
        )
    if code == pynvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return (
            "The NVIDIA kernel driver is not loaded: load it (modprobe nvidia) or reinstall it."
            + ignore
        )
    if code == pynvml.NVML_ERROR_NO_PERMISSION:
        return "This user may not open the NVIDIA devices (/dev/nvidia*): check their permissions."
    if code == pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return "The NVIDIA driver was upgraded without a reboot: reboot (or reload the driver)."
    return "Check that nvidia-smi works; install or load the NVIDIA driver." + ignore


def _nvml_error_text(err: BaseException) -> str:
    """``Driver Not Loaded (NVMLError_DriverNotLoaded)``: NVML's words and the class to search."""
    return f"{err} ({type(err).__name__})"


# --- which GPUs the framework sees ---------------------------------------------------------


@dataclass
class _Selection:
    """The GPUs ``CUDA_VISIBLE_DEVICES`` makes visible, in framework order."""

    #: NVML index of framework device 0, 1, ...
    nvml_indices: list[int] = field(default_factory=list)
    #: MIG instance UUIDs, when the variable names MIG instances (framework order)
    mig_uuids: list[str] = field(default_factory=list)
    #: whether GPUs were named by UUID (then CUDA's device order does not matter)
    by_uuid: bool = False
    #: why entries were ignored, "" when none were
    problem: str = ""


_LEADING_INTEGER = re.compile(r"[+-]?\d+")


def _select_gpus(value: str | None, uuids: list[str]) -> _Selection:
    """Mirror CUDA's reading of ``CUDA_VISIBLE_DEVICES`` over the GPUs NVML lists (``uuids``).

    The rules follow ``torch.cuda._parse_visible_devices`` and ``_transform_uuid_to_ordinals``:
    numbers are read like C's ``strtoul`` (``"1gpu"`` is 1), a UUID may be a unique prefix, the
    first invalid entry ends the list, a repeated one empties it.
    """
    if value is None:
        return _Selection(nvml_indices=list(range(len(uuids))))
    entries = [entry.strip() for entry in value.split(",")]
    if entries[0].startswith("MIG-"):
        migs: list[str] = []
        for entry in entries:
            if not entry.startswith("MIG-"):
                break
            if entry in migs:
                return _Selection(problem=_repeated_problem(value, entry))
            migs.append(entry)
        return _Selection(mig_uuids=migs)

    by_uuid = entries[0].startswith("GPU-")
    chosen: list[int] = []
    problem = ""
    for position, entry in enumerate(entries):
        index = _uuid_index(entry, uuids) if by_uuid else _ordinal(entry, len(uuids))
        if index is None:
            ignored = entries[position:]
            # a trailing comma ("0,1,") leaves an empty last entry: harmless, not worth a word
            if any(ignored):
                problem = (
                    f"CUDA_VISIBLE_DEVICES={value!r}: entry {entry!r} does not name one of the "
                    f"{len(uuids)} GPUs NVML sees, so CUDA ignores it and every entry after it "
                    f"({', '.join(repr(e) for e in ignored)})"
                )
            break
        if index in chosen:
            return _Selection(by_uuid=by_uuid, problem=_repeated_problem(value, entry))
        chosen.append(index)
    return _Selection(nvml_indices=chosen, by_uuid=by_uuid, problem=problem)


def _ordinal(entry: str, count: int) -> int | None:
    match = _LEADING_INTEGER.match(entry)
    if match is None:
        return None
    index = int(match.group())
    return index if 0 <= index < count else None


def _uuid_index(entry: str, uuids: list[str]) -> int | None:
    if not entry.startswith("GPU-"):
        return None
    matches = [i for i, uuid in enumerate(uuids) if uuid.startswith(entry)]
    return matches[0] if len(matches) == 1 else None


def _repeated_problem(value: str, entry: str) -> str:
    return (
        f"CUDA_VISIBLE_DEVICES={value!r} names {entry!r} twice, which makes CUDA show no GPU at all"
    )


# --- probing -------------------------------------------------------------------------------


def _probe_visible_gpus(pynvml: Any) -> list[Probe]:
    count = pynvml.nvmlDeviceGetCount()
    if count == 0:
        return [
            _all_gpus_unavailable(
                "NVML is running but lists no NVIDIA GPU",
                "In a container, start it with GPU access (docker run --gpus all); otherwise "
                "check nvidia-smi.",
            )
        ]
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    uuids = [_text(pynvml.nvmlDeviceGetUUID(handle)) for handle in handles]
    visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    selection = _select_gpus(visible_devices, uuids)

    probes: list[Probe] = []
    if selection.problem:
        probes.append(
            _all_gpus_unavailable(
                selection.problem,
                "Fix CUDA_VISIBLE_DEVICES: list indices below the GPU count or UUIDs from "
                "nvidia-smi -L, each once.",
            )
        )
    elif visible_devices is not None and not selection.nvml_indices and not selection.mig_uuids:
        probes.append(
            _all_gpus_unavailable(
                "CUDA_VISIBLE_DEVICES is set but empty: no GPU is visible to this process",
                "Unset CUDA_VISIBLE_DEVICES or list the GPUs to use.",
            )
        )

    for framework_index, mig_uuid in enumerate(selection.mig_uuids):
        probes.append(_mig_instance_probe(pynvml, f"gpu:{framework_index}", mig_uuid))

    warning = "" if selection.by_uuid else _device_order_warning(pynvml, handles)
    for framework_index, nvml_index in enumerate(selection.nvml_indices):
        domain = f"gpu:{framework_index}"
        try:
            found = _probe_gpu(pynvml, handles[nvml_index], domain, nvml_index)
            module = _module_probe(pynvml, handles[nvml_index], domain, nvml_index)
        except pynvml.NVMLError as err:
            found = Probe(
                domain,
                SOURCE,
                SensorKind.COUNTER,
                reason=f"NVML failed on GPU {nvml_index}: {_nvml_error_text(err)}",
                remedy="Check nvidia-smi; a GPU that is lost or needs a reset cannot be measured.",
            )
            module = None
        if warning:
            found.details["warning"] = warning
        probes.append(found)
        if module is not None:
            probes.append(module)
    return probes


def _probe_gpu(pynvml: Any, handle: Any, domain: str, nvml_index: int) -> Probe:
    """The best sensor one GPU offers: the energy counter (cross-checked) or polled power."""
    if _mig_enabled(pynvml, handle):
        return Probe(
            domain,
            SOURCE,
            SensorKind.COUNTER,
            reason=MIG_REASON,
            remedy=MIG_REMEDY,
            details={"gpu": {**_device_facts(pynvml, handle), "mig_enabled": True}},
        )
    power: NvmlPowerSensor | None = NvmlPowerSensor(pynvml, handle, domain, nvml_index)
    if not _supported(pynvml, pynvml.nvmlDeviceGetPowerUsage, handle):
        power = None
    forced = os.environ.get(METHOD_ENV, "").strip().lower() == "power"
    if not (forced and power is not None) and _supported(
            pynvml, pynvml.nvmlDeviceGetTotalEnergyConsumption, handle):
        counter = NvmlEnergySensor(pynvml, handle, domain, nvml_index, cross_check=power)
        return Probe(domain, SOURCE, SensorKind.COUNTER, sensor=counter)
    if power is not None:
        name = _text(pynvml.nvmlDeviceGetName(handle))
        power.part_time = PartTimeMitigation(
            reading=_part_time_reading(name),
            why=f"{METHOD_ENV}=power asked for polled power" if forced
            else "this GPU has no total-energy counter")
        note = (f"polled power ({power.part_time.why}): one reading covers "
                f"{power.part_time.reading}; repeats of at least 5 s and 32 steps, random "
                f"pauses and the rise time discarded ({CITATION})")
        return Probe(domain, SOURCE, SensorKind.POWER, sensor=power, details={"note": note})
    return Probe(
        domain,
        SOURCE,
        SensorKind.COUNTER,
        reason=f"NVML GPU {nvml_index} reports neither total energy nor power",
        remedy="This GPU model or driver does not expose power readings; nothing to fix here.",
        details={"gpu": _device_facts(pynvml, handle)},
    )


def _part_time_reading(name: str) -> str:
    """What one power value covers, as far as is known for this model."""
    if any(model in name for model in PART_TIME_MODELS):
        return "about 25 ms of each 100 ms (A100/H100 class)"
    return "unknown share of each update (many parts average over 1 s)"


def _module_probe(pynvml: Any, handle: Any, domain: str, nvml_index: int) -> Probe | None:
    """The module power of a Grace Hopper GPU; None where NVML has no module scope."""
    fields = getattr(pynvml, "NVML_FI_DEV_POWER_INSTANT", None)
    if fields is None or not hasattr(pynvml, "nvmlDeviceGetFieldValues"):
        return None  # an nvidia-ml-py older than the field
    try:
        _module_power_mw(pynvml, handle, lambda what, err: err)
    except pynvml.NVMLError:
        return None
    sensor = NvmlModulePowerSensor(pynvml, handle, domain, nvml_index)
    note = (f"module power: {domain}, the Grace CPU and their memory in one figure; shown "
            "beside totals, never added to them")
    return Probe(sensor.domain, SOURCE, SensorKind.POWER, sensor=sensor, details={"note": note})


def _module_power_mw(pynvml: Any, handle: Any, error: Any) -> int:
    """Module-scope instantaneous power in mW; raises ``error(what, NVMLError)``."""
    try:
        [value] = pynvml.nvmlDeviceGetFieldValues(
            handle, [(pynvml.NVML_FI_DEV_POWER_INSTANT, pynvml.NVML_POWER_SCOPE_MODULE)])
        if value.nvmlReturn != pynvml.NVML_SUCCESS:
            raise pynvml.NVMLError(value.nvmlReturn)
    except pynvml.NVMLError as err:
        raise error("reading module power", err) from err
    return int(value.value.uiVal)


def _supported(pynvml: Any, query: Any, handle: Any) -> bool:
    """Whether a query works on this GPU; errors other than "not supported" propagate."""
    try:
        query(handle)
    # NotSupported: the GPU lacks the feature (e.g. total energy before Volta);
    # FunctionNotFound: the driver predates the function.
    except (pynvml.NVMLError_NotSupported, pynvml.NVMLError_FunctionNotFound):
        return False
    return True


def _mig_enabled(pynvml: Any, handle: Any) -> bool:
    try:
        current_mode, _pending_mode = pynvml.nvmlDeviceGetMigMode(handle)
    except pynvml.NVMLError:
        # GPUs without MIG support (everything before A100/H100) answer NotSupported
        return False
    return bool(current_mode == pynvml.NVML_DEVICE_MIG_ENABLE)


def _mig_instance_probe(pynvml: Any, domain: str, mig_uuid: str) -> Probe:
    details: dict[str, Any] = {"mig_uuid": mig_uuid}
    try:
        instance = pynvml.nvmlDeviceGetHandleByUUID(mig_uuid)
        parent = pynvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(instance)
        details["gpu"] = {**_device_facts(pynvml, parent), "mig_enabled": True}
    except pynvml.NVMLError:
        pass  # the reason stands without the parent GPU's facts
    return Probe(
        domain, SOURCE, SensorKind.COUNTER, reason=MIG_REASON, remedy=MIG_REMEDY, details=details
    )


def _device_order_warning(pynvml: Any, handles: list[Any]) -> str:
    if os.environ.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return ""
    names = {_text(pynvml.nvmlDeviceGetName(handle)) for handle in handles}
    if len(names) < 2:
        return ""
    return (
        "GPUs of different models: NVML numbers them by PCI bus but CUDA, unless "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID, fastest first, so gpu:N may not be torch's cuda:N. "
        "Set CUDA_DEVICE_ORDER=PCI_BUS_ID or list GPUs by UUID in CUDA_VISIBLE_DEVICES."
    )


def _all_gpus_unavailable(reason: str, remedy: str) -> Probe:
    return Probe(ALL_GPUS, SOURCE, SensorKind.COUNTER, reason=reason, remedy=remedy)


# --- facts ---------------------------------------------------------------------------------


def _device_facts(pynvml: Any, handle: Any) -> dict[str, Any]:
    """What NVML tells about a GPU; a field NVML refuses is left out."""
    queries: dict[str, Any] = {
        "name": lambda: _text(pynvml.nvmlDeviceGetName(handle)),
        "uuid": lambda: _text(pynvml.nvmlDeviceGetUUID(handle)),
        "nvml_index": lambda: pynvml.nvmlDeviceGetIndex(handle),
        "driver_version": lambda: _text(pynvml.nvmlSystemGetDriverVersion()),
        "power_limit_w": lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0,
        "sm_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
        "memory_clock_mhz": lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
        "performance_state": lambda: _pstate(pynvml.nvmlDeviceGetPerformanceState(handle)),
    }
    facts: dict[str, Any] = {}
    for key, query in queries.items():
        try:
            value = query()
        # AttributeError: an older nvidia-ml-py without the function
        except (pynvml.NVMLError, AttributeError):
            continue
        if value is not None:
            facts[key] = value
    return facts


def _pstate(value: int) -> str | None:
    """``P0`` (full performance) to ``P15``; NVML's 32 means unknown."""
    return f"P{value}" if 0 <= value <= 15 else None


def _text(value: str | bytes) -> str:
    """NVML strings: ``str`` from current nvidia-ml-py, ``bytes`` from old releases."""
    return value.decode() if isinstance(value, bytes) else value
