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

import string
import sys
from dataclasses import dataclass, field
from types import ModuleType
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
        return self._reading(handle, "nvmlDeviceGetTotalEnergyConsumption", "energy_mj")

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetPowerUsage", "power_mw")

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        return self._reading(handle, "nvmlDeviceGetEnforcedPowerLimit", "power_limit_mw")

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
