"""A stand-in for ``amdsmi`` (ROCm's AMD SMI Python package) with configurable GPUs.

It keeps the parts of the real module's shape that callers depend on (ROCm/amdsmi,
py-interface/amdsmi_interface.py and amdsmi_exception.py, and the Python API reference):

- ``AmdSmiLibraryException(err_code)`` derives from ``AmdSmiException`` and answers
  ``get_error_code()``; every call but ``amdsmi_init`` raises it with ``NOT_INIT`` before init;
- ``amdsmi_get_energy_count`` returns ``energy_accumulator`` (or, like releases before ROCm 6.4,
  ``power``), ``counter_resolution`` in µJ per tick and ``timestamp``;
- ``amdsmi_get_power_info`` returns watts, with the string ``"N/A"`` for fields a part lacks;
- ``amdsmi_get_power_cap_info`` returns microwatts; ``amdsmi_get_clock_info`` MHz.

Use::

    fake = make_amdsmi([FakeAmdGpu(energy_ticks=1_000)])
    install(monkeypatch, fake)      # sys.modules["amdsmi"] = fake, init cache cleared
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import IntEnum
from types import ModuleType
from typing import Any

NA = "N/A"


class AmdSmiRetCode(IntEnum):
    """The status codes the stand-in uses (values as in amdsmi_wrapper.AMDSMI_STATUS_*)."""

    SUCCESS = 0
    ERR_INVAL = 1
    ERR_NOT_SUPPORTED = 2
    ERR_NO_PERM = 10
    INIT_ERROR = 18
    ERR_NOT_FOUND = 31
    NOT_INIT = 32
    DRIVER_NOT_LOADED = 34


class AmdSmiClkType(IntEnum):
    SYS = 0
    GFX = 0x1
    MEM = 0x4


class AmdSmiException(Exception):
    """Base smi exception class."""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int) -> None:
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        self.err_info = f"AMDSMI_STATUS_{AmdSmiRetCode(err_code).name}"

    def __str__(self) -> str:
        return f"An error occured with code: {self.err_code}({self.err_info})"

    def get_error_code(self) -> int:
        return self.err_code


@dataclass
class FakeAmdGpu:
    """One GPU. ``None`` in a reading makes AMD SMI answer NOT_SUPPORTED."""

    market_name: str = "AMD Instinct MI300X"
    uuid: str = "5fff74b5-0000-1000-8000-000000000000"
    #: the energy accumulator, in ticks (None: no counter)
    energy_ticks: int | None = 1_000_000
    #: microjoules per tick
    counter_resolution_uj: float = 15.3
    #: name the accumulator "power", as amdsmi did before ROCm 6.4
    legacy_energy_key: bool = False
    #: amdsmi_get_power_info's answer (W, "N/A" where the part lacks a field)
    power_info: dict[str, Any] | None = field(
        default_factory=lambda: {
            "socket_power": 350,
            "current_socket_power": 350,
            "average_socket_power": NA,
            "gfx_voltage": NA,
            "soc_voltage": NA,
            "mem_voltage": NA,
            "power_limit": 750,
        }
    )
    #: amdsmi_get_power_cap_info's power_cap, µW
    power_cap_uw: int | None = 750_000_000
    #: amdsmi_get_power_cap_info's range and default, µW
    min_power_cap_uw: int = 0
    max_power_cap_uw: int = 750_000_000
    default_power_cap_uw: int = 750_000_000
    #: whether amdsmi_set_power_cap is allowed (root); else ERR_NO_PERM
    may_set_cap: bool = False
    #: every cap set, µW, in order (power_cap_uw holds the last)
    caps_set: list[int] = field(default_factory=list)
    gfx_clock_mhz: int | None = 2100
    memory_clock_mhz: int | None = 1300
    driver_version: str = "6.8.5"
    #: amdsmi_get_gpu_enumeration_info's hip_id: HIP's index of this GPU (None: not reported,
    #: as before ROCm 6.4)
    hip_id: int | None = 0
    #: function name -> status code it raises
    errors: dict[str, int] = field(default_factory=dict)


class amdsmi_processor_handle:  # noqa: N801 - the real class's name
    def __init__(self, gpu: FakeAmdGpu) -> None:
        self.gpu = gpu


class FakeAmdSmi(ModuleType):
    """The module object; functions are methods so ``fake.amdsmi_init()`` reads as usual."""

    def __init__(self, gpus: list[FakeAmdGpu], *, init_error: int | None = None) -> None:
        super().__init__("amdsmi")
        self.gpus = gpus
        self.init_error = init_error
        self.initialised = False
        self.init_calls = 0
        self.AmdSmiRetCode = AmdSmiRetCode
        self.AmdSmiClkType = AmdSmiClkType
        self.AmdSmiException = AmdSmiException
        self.AmdSmiLibraryException = AmdSmiLibraryException
        self.amdsmi_processor_handle = amdsmi_processor_handle
        self._handles = [amdsmi_processor_handle(gpu) for gpu in gpus]

    def amdsmi_init(self, flags: int = 0) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.initialised = True

    def amdsmi_shut_down(self) -> None:
        self._ready()
        self.initialised = False

    def amdsmi_get_processor_handles(self) -> list[amdsmi_processor_handle]:
        self._ready()
        return list(self._handles)

    def amdsmi_get_gpu_asic_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_gpu_asic_info")
        return {"market_name": gpu.market_name, "vendor_id": 0x1002, "vendor_name": "AMD"}

    def amdsmi_get_gpu_device_uuid(self, handle: Any) -> str:
        return self._gpu(handle, "amdsmi_get_gpu_device_uuid").uuid

    def amdsmi_get_gpu_driver_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_gpu_driver_info")
        return {"driver_name": "amdgpu", "driver_version": gpu.driver_version, "driver_date": NA}

    def amdsmi_get_gpu_enumeration_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_gpu_enumeration_info")
        info: dict[str, Any] = {"drm_render": 128, "drm_card": 0, "hsa_id": 1, "oam_id": NA}
        if gpu.hip_id is not None:
            info["hip_id"] = gpu.hip_id
        return info

    def amdsmi_get_energy_count(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_energy_count")
        if gpu.energy_ticks is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        key = "power" if gpu.legacy_energy_key else "energy_accumulator"
        return {key: gpu.energy_ticks, "counter_resolution": gpu.counter_resolution_uj,
                "timestamp": 1_700_000_000_000}

    def amdsmi_get_power_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_power_info")
        if gpu.power_info is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        return dict(gpu.power_info)

    def amdsmi_get_power_cap_info(self, handle: Any, sensor_ind: int = 0) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_power_cap_info")
        if gpu.power_cap_uw is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        return {"power_cap": gpu.power_cap_uw, "default_power_cap": gpu.default_power_cap_uw,
                "dpm_cap": 0, "min_power_cap": gpu.min_power_cap_uw,
                "max_power_cap": gpu.max_power_cap_uw}

    def amdsmi_set_power_cap(self, handle: Any, sensor_ind: int, cap: int) -> None:
        """As AMD SMI: root only (ERR_NO_PERM), and within the range (ERR_INVAL)."""
        gpu = self._gpu(handle, "amdsmi_set_power_cap")
        if gpu.power_cap_uw is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        if not gpu.may_set_cap:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NO_PERM)
        if not isinstance(cap, int) or not gpu.min_power_cap_uw <= cap <= gpu.max_power_cap_uw:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_INVAL)
        gpu.power_cap_uw = cap
        gpu.caps_set.append(cap)

    def amdsmi_get_clock_info(self, handle: Any, clock_type: AmdSmiClkType) -> dict[str, Any]:
        gpu = self._gpu(handle, "amdsmi_get_clock_info")
        if not isinstance(clock_type, AmdSmiClkType):
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_INVAL)
        mhz = {AmdSmiClkType.GFX: gpu.gfx_clock_mhz, AmdSmiClkType.MEM: gpu.memory_clock_mhz}.get(
            clock_type
        )
        if mhz is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        return {"clk": mhz, "min_clk": 100, "max_clk": mhz, "clk_locked": False,
                "clk_deep_sleep": False}

    def _ready(self) -> None:
        if not self.initialised:
            raise AmdSmiLibraryException(AmdSmiRetCode.NOT_INIT)

    def _gpu(self, handle: Any, function: str) -> FakeAmdGpu:
        self._ready()
        if not isinstance(handle, amdsmi_processor_handle):
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_INVAL)
        if function in handle.gpu.errors:
            raise AmdSmiLibraryException(handle.gpu.errors[function])
        return handle.gpu


def make_amdsmi(
    gpus: list[FakeAmdGpu] | None = None, *, init_error: int | None = None
) -> FakeAmdSmi:
    """A fresh stand-in; ``gpus`` defaults to one MI300X with the energy counter."""
    return FakeAmdSmi([FakeAmdGpu()] if gpus is None else gpus, init_error=init_error)


def install(monkeypatch: Any, fake: ModuleType | None) -> None:
    """Make ``import amdsmi`` return ``fake`` (None: raise ImportError) for this test.

    Also clears greenbench's remembered AMD SMI initialisation, before and after the test.
    """
    from greenbench.sensors import amdgpu

    amdgpu._forget_init()
    monkeypatch.setitem(sys.modules, "amdsmi", fake)
    # monkeypatch undoes in reverse order: forget the fake's init once the test is over
    monkeypatch.setattr(amdgpu, "_init_state", None)
