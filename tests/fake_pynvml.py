"""A stand-in for ``pynvml`` (nvidia-ml-py) with configurable GPUs, for tests on machines without.

It keeps the parts of the real module's shape that callers depend on:

- ``NVMLError(code)`` returns the subclass for that code (``NVMLError_NotSupported``, ...), and
  each subclass can be raised bare, as in nvidia-ml-py;
- every function except ``nvmlInit`` raises ``NVMLError_Uninitialized`` before ``nvmlInit``;
- device functions take the handle from ``nvmlDeviceGetHandleByIndex``, not an index;
- units are NVML's: millijoules, milliwatts, MHz; strings are ``str``.

Use::

    fake = make_pynvml([FakeGpu(energy_mj=5_000)])
    install(monkeypatch, fake)      # sys.modules["pynvml"] = fake, NVML init cache cleared
"""

from __future__ import annotations

import math
import os
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

# Error codes as in nvidia-ml-py (pynvml.py, "NVML_ERROR_*").
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_UNKNOWN = 999

_ERROR_TEXT = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}

NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1
NVML_FEATURE_DISABLED = 0
NVML_FEATURE_ENABLED = 1
# field values and power scopes as in nvidia-ml-py (NVML_FI_DEV_*, NVML_POWER_SCOPE_*)
NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_POWER_SCOPE_GPU = 0
NVML_POWER_SCOPE_MODULE = 1
NVML_POWER_SCOPE_MEMORY = 2
NVML_VALUE_TYPE_UNSIGNED_INT = 1

#: in FakeGpu.processes and process_samples: the process that asks NVML (a worker whose pid a
#: test cannot know in advance)
SELF_PID = -1


class PartTimeLoad:
    """A GPU's true draw over time and what NVML makes of it, on a (virtual) clock.

    - power (``nvmlDeviceGetPowerUsage``): refreshed every ``power_period_s``; each value is the
      mean draw over only the last ``sampled_s`` of the period before it, as on A100/H100 (25 ms
      of each 100 ms, Yang et al., SC'24): a load that changes within the period is seen in part;
    - energy (``nvmlDeviceGetTotalEnergyConsumption``): the exact integral of the draw, published
      in steps of ``energy_periods_s`` (cycled: NVML's counter moves every 20-100 ms).

    ``true_j(a, b)`` is the energy really drawn, for tests to assert against.
    """

    def __init__(self, clock: Any, watts: Callable[[float], float], *,
                 power_period_s: float = 0.1, sampled_s: float = 0.025,
                 energy_periods_s: tuple[float, ...] = (0.1,), start_mj: int = 1_000_000,
                 resolution_s: float = 0.0005) -> None:
        self.clock, self.watts = clock, watts
        self.power_period_s, self.sampled_s = power_period_s, sampled_s
        self.energy_periods_s = energy_periods_s
        self.start_mj = start_mj
        self.resolution_s = resolution_s
        self.t0 = clock.monotonic()
        self._cumulative = [0.0]  # joules from t0 to t0 + k * resolution_s

    def true_j(self, a: float, b: float) -> float:
        return self._integral(b) - self._integral(a)

    def power_mw(self) -> int:
        t = self.clock.monotonic()
        published = self.t0 + math.floor((t - self.t0) / self.power_period_s + 1e-9) * \
            self.power_period_s
        start = max(self.t0, published - self.sampled_s)
        if published <= start:
            return round(1000 * self.watts(published))
        return round(1000 * self.true_j(start, published) / (published - start))

    def energy_mj(self) -> int:
        t = self.clock.monotonic()
        published, k = self.t0, 0
        while True:
            step = self.energy_periods_s[k % len(self.energy_periods_s)]
            if published + step > t + 1e-9:
                break
            published += step
            k += 1
        return self.start_mj + round(1000 * self._integral(published))

    def _integral(self, t: float) -> float:
        """Joules from t0 to t: the midpoint rule on a grid of ``resolution_s``, kept."""
        h = self.resolution_s
        k = max(0, math.floor((t - self.t0) / h + 1e-9))
        while len(self._cumulative) <= k:
            i = len(self._cumulative)
            self._cumulative.append(self._cumulative[-1] + self.watts(self.t0 + (i - 0.5) * h) * h)
        rest = t - (self.t0 + k * h)
        return self._cumulative[k] + (self.watts(t - rest / 2) * rest if rest > 0 else 0.0)


class NVMLError(Exception):
    """``NVMLError(code)`` becomes the matching subclass, as in nvidia-ml-py."""

    _value_class: dict[int, type[NVMLError]] = {}
    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._value_class.get(value, NVMLError)
        error = Exception.__new__(cls)
        error.value = value
        return error

    def __init__(self, value: int | None = None) -> None:
        super().__init__(self.value)

    def __str__(self) -> str:
        return _ERROR_TEXT.get(self.value, f"NVML Error with code {self.value}")


def _error_classes() -> dict[str, type[NVMLError]]:
    """``NVMLError_NotSupported`` and friends, one per code, raisable without arguments."""
    classes: dict[str, type[NVMLError]] = {}
    for name, code in list(globals().items()):
        if not name.startswith("NVML_ERROR_"):
            continue
        words = string.capwords(name.removeprefix("NVML_ERROR_"), "_").replace("_", "")
        class_name = f"NVMLError_{words}"

        def new(cls: type[NVMLError], *args: Any, _code: int = code) -> NVMLError:
            error = Exception.__new__(cls)
            error.value = _code
            return error

        cls = type(class_name, (NVMLError,), {"__new__": new})
        NVMLError._value_class[code] = cls
        classes[class_name] = cls
    return classes


ERROR_CLASSES = _error_classes()
globals().update(ERROR_CLASSES)


@dataclass
class FakeGpu:
    """One GPU. ``None`` in a reading means NVML answers NotSupported for it."""

    name: str = "NVIDIA A100-SXM4-40GB"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    #: nvmlDeviceGetTotalEnergyConsumption, mJ since driver load (None: before Volta)
    energy_mj: int | None = 1_000_000
    #: nvmlDeviceGetPowerUsage, mW
    power_mw: int | None = 250_000
    #: nvmlDeviceGetEnforcedPowerLimit, mW
    power_limit_mw: int | None = 400_000
    sm_clock_mhz: int | None = 1410
    memory_clock_mhz: int | None = 1215
    #: nvmlDeviceGetPerformanceState: 0 = P0
    performance_state: int | None = 0
    #: current MIG mode (None: the GPU has no MIG, as before Ampere)
    mig_mode: int | None = NVML_DEVICE_MIG_DISABLE
    #: UUIDs of MIG instances on this GPU
    mig_uuids: list[str] = field(default_factory=list)
    #: function name -> NVML error code it raises (e.g. a lost GPU)
    errors: dict[str, int] = field(default_factory=dict)
    #: nvmlDeviceGetPowerManagementLimitConstraints, mW (None: limits not supported)
    limit_range_mw: tuple[int, int] | None = (100_000, 400_000)
    #: nvmlDeviceGetPowerManagementDefaultLimit, mW
    default_limit_mw: int = 400_000
    #: whether nvmlDeviceSetPowerManagementLimit is allowed (root); else NO_PERMISSION
    may_set_limit: bool = False
    #: every limit set, mW, in order (power_limit_mw holds the last)
    limits_set: list[int] = field(default_factory=list)
    #: when set, power and energy follow this draw over time (replacing power_mw, energy_mj)
    load: PartTimeLoad | None = None
    #: nvmlDeviceGetComputeRunningProcesses: pid -> used GPU memory in bytes
    processes: dict[int, int] = field(default_factory=dict)
    #: nvmlDeviceGetProcessUtilization: (pid, timestamp in us, SM %) samples
    process_samples: list[tuple[int, int, int]] = field(default_factory=list)
    #: nvmlDeviceGetAccountingMode (None: not supported) and, per pid, gpuUtilization in %
    accounting_mode: int | None = NVML_FEATURE_DISABLED
    accounting_util: dict[int, int] = field(default_factory=dict)
    #: module power (GPU + CPU + memory, Grace Hopper) in mW; None: no module scope
    module_power_mw: int | None = None


@dataclass(frozen=True)
class _Handle:
    gpu: FakeGpu
    mig_uuid: str | None = None


class FakePynvml(ModuleType):
    """The module object; device functions are methods so ``fake.nvmlInit()`` reads as usual."""

    def __init__(
        self,
        gpus: list[FakeGpu],
        *,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        super().__init__("pynvml")
        self.gpus = gpus
        self.init_error = init_error
        self.driver_version = driver_version
        self.initialised = False
        self.init_calls = 0
        for name, value in globals().items():
            if name.startswith(("NVML_", "NVMLError")):
                setattr(self, name, value)

    # --- library ---

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._ready()
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        self._ready()
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._ready()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._ready()
        if not isinstance(index, int) or not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(self.gpus[index])

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _Handle:
        self._ready()
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return _Handle(gpu)
            if uuid in gpu.mig_uuids:
                return _Handle(gpu, mig_uuid=uuid)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, handle: _Handle) -> _Handle:
        gpu = self._gpu(handle, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle")
        if handle.mig_uuid is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(gpu)

    # --- device queries ---

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        gpu = self._gpu(handle, "nvmlDeviceGetUUID")
        return handle.mig_uuid or gpu.uuid

    def nvmlDeviceGetIndex(self, handle: _Handle) -> int:
        return self.gpus.index(self._gpu(handle, "nvmlDeviceGetIndex"))

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        value = self._reading(handle, "nvmlDeviceGetTotalEnergyConsumption", "energy_mj")
        load = handle.gpu.load
        return load.energy_mj() if load is not None else value

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        value = self._reading(handle, "nvmlDeviceGetPowerUsage", "power_mw")
        load = handle.gpu.load
        return load.power_mw() if load is not None else value

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[SimpleNamespace]:
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=_pid(pid), usedGpuMemory=used, gpuInstanceId=0xFFFFFFFF,
                                computeInstanceId=0xFFFFFFFF)
                for pid, used in gpu.processes.items()]

    def nvmlDeviceGetProcessUtilization(self, handle: _Handle, timeStamp: int
                                        ) -> list[SimpleNamespace]:
        """Samples newer than ``timeStamp`` (us); NotFound when there are none, as in NVML."""
        gpu = self._gpu(handle, "nvmlDeviceGetProcessUtilization")
        samples = [SimpleNamespace(pid=_pid(pid), timeStamp=t, smUtil=sm, memUtil=0, encUtil=0,
                                   decUtil=0)
                   for pid, t, sm in gpu.process_samples if t > timeStamp]
        if not samples:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    def nvmlDeviceGetAccountingMode(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetAccountingMode", "accounting_mode")

    def nvmlDeviceGetAccountingPids(self, handle: _Handle) -> list[int]:
        gpu = self._gpu(handle, "nvmlDeviceGetAccountingPids")
        if gpu.accounting_mode != NVML_FEATURE_ENABLED:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return list(gpu.accounting_util)

    def nvmlDeviceGetAccountingStats(self, handle: _Handle, pid: int) -> SimpleNamespace:
        gpu = self._gpu(handle, "nvmlDeviceGetAccountingStats")
        if gpu.accounting_mode != NVML_FEATURE_ENABLED:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if pid not in gpu.accounting_util:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return SimpleNamespace(gpuUtilization=gpu.accounting_util[pid], memoryUtilization=0,
                               maxMemoryUsage=gpu.processes.get(pid), time=0, startTime=0,
                               isRunning=1)

    def nvmlDeviceGetFieldValues(self, handle: _Handle, fieldIds: list[Any]
                                 ) -> list[SimpleNamespace]:
        """Ids or (id, scope) pairs; each value carries its own ``nvmlReturn``, as in NVML."""
        gpu = self._gpu(handle, "nvmlDeviceGetFieldValues")
        values = []
        for asked in fieldIds:
            field_id, scope = asked if isinstance(asked, tuple) else (asked, NVML_POWER_SCOPE_GPU)
            reading: int | None = None
            if field_id in (NVML_FI_DEV_POWER_INSTANT, NVML_FI_DEV_POWER_AVERAGE):
                if scope == NVML_POWER_SCOPE_MODULE:
                    reading = gpu.module_power_mw
                elif scope == NVML_POWER_SCOPE_GPU and gpu.power_mw is not None:
                    reading = gpu.load.power_mw() if gpu.load is not None else gpu.power_mw
            values.append(SimpleNamespace(
                fieldId=field_id, scopeId=scope, timestamp=0, latencyUsec=0,
                valueType=NVML_VALUE_TYPE_UNSIGNED_INT,
                nvmlReturn=NVML_SUCCESS if reading is not None else NVML_ERROR_NOT_SUPPORTED,
                value=SimpleNamespace(uiVal=reading or 0)))
        return values

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetEnforcedPowerLimit", "power_limit_mw")

    def nvmlDeviceGetPowerManagementLimit(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetPowerManagementLimit", "power_limit_mw")

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetPowerManagementDefaultLimit",
                             "default_limit_mw")

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: _Handle) -> list[int]:
        gpu = self._gpu(handle, "nvmlDeviceGetPowerManagementLimitConstraints")
        if gpu.limit_range_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return list(gpu.limit_range_mw)

    def nvmlDeviceSetPowerManagementLimit(self, handle: _Handle, limit: int) -> None:
        """As NVML: root only (NO_PERMISSION), and within the constraints (INVALID_ARGUMENT)."""
        gpu = self._gpu(handle, "nvmlDeviceSetPowerManagementLimit")
        if gpu.limit_range_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        if not gpu.may_set_limit:
            raise NVMLError(NVML_ERROR_NO_PERMISSION)
        low, high = gpu.limit_range_mw
        if not isinstance(limit, int) or not low <= limit <= high:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu.power_limit_mw = limit
        gpu.limits_set.append(limit)

    def nvmlDeviceGetClockInfo(self, handle: _Handle, clock_type: int) -> int:
        field_name = {NVML_CLOCK_SM: "sm_clock_mhz", NVML_CLOCK_MEM: "memory_clock_mhz"}.get(
            clock_type
        )
        if field_name is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self._reading(handle, "nvmlDeviceGetClockInfo", field_name)

    def nvmlDeviceGetPerformanceState(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetPerformanceState", "performance_state")

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        mode = self._reading(handle, "nvmlDeviceGetMigMode", "mig_mode")
        return [mode, mode]

    # --- plumbing ---

    def _ready(self) -> None:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: Any, function: str) -> FakeGpu:
        self._ready()
        if not isinstance(handle, _Handle):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if function in handle.gpu.errors:
            raise NVMLError(handle.gpu.errors[function])
        return handle.gpu

    def _reading(self, handle: Any, function: str, field_name: str) -> int:
        value = getattr(self._gpu(handle, function), field_name)
        if value is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(value)


def _pid(pid: int | str) -> int:
    """A pid as NVML reports it (a JSON round trip makes dict keys text)."""
    return os.getpid() if int(pid) == SELF_PID else int(pid)


def make_pynvml(
    gpus: list[FakeGpu] | None = None,
    *,
    init_error: int | None = None,
    driver_version: str = "550.54.15",
) -> FakePynvml:
    """A fresh stand-in; ``gpus`` defaults to one A100 with the energy counter."""
    return FakePynvml(
        [FakeGpu()] if gpus is None else gpus, init_error=init_error, driver_version=driver_version
    )


def install(monkeypatch: Any, fake: ModuleType | None) -> None:
    """Make ``import pynvml`` return ``fake`` (None: raise ImportError) for this test.

    Also clears greenbench's remembered NVML initialisation, before and after the test.
    """
    from greenbench.sensors import nvml

    nvml._forget_init()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    # monkeypatch undoes in reverse order: forget the fake's init once the test is over
    monkeypatch.setattr(nvml, "_init_state", None)
