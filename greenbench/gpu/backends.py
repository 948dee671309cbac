"""The GPU a device name means, and its power limit, through NVML or AMD SMI.

``cuda:N`` is the framework's device N (torch's numbering, ``CUDA_VISIBLE_DEVICES`` applied
as greenbench.sensors.nvml and amdgpu read it; ROCm's torch calls its GPUs ``cuda:N`` too).
Limits are in watts here; NVML speaks milliwatts and AMD SMI microwatts.

- NVML: ``nvmlDeviceGetPowerManagementLimitConstraints`` (the allowed range),
  ``nvmlDeviceGetPowerManagementDefaultLimit``, ``nvmlDeviceGetPowerManagementLimit`` (the
  limit set, what is put back), ``nvmlDeviceGetEnforcedPowerLimit`` (the limit in force, the
  lowest of every limit on the board) and ``nvmlDeviceSetPowerManagementLimit``, which needs
  root (NVML_ERROR_NO_PERMISSION otherwise).
- AMD SMI: ``amdsmi_get_power_cap_info`` (cap, default, min, max) and
  ``amdsmi_set_power_cap``, which needs root (AMDSMI_STATUS_NO_PERM otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from greenbench.errors import UserError

NVML_PERMISSION = ("setting a GPU power limit needs root, or persistence mode "
                   "(sudo nvidia-smi -pm 1) and CAP_SYS_ADMIN for greenbench")
AMD_PERMISSION = ("setting an AMD GPU power cap needs root (write access to the amdgpu "
                  "hwmon power1_cap)")
#: AMDSMI_STATUS_NO_PERM
_AMD_NO_PERM = 10


class GpuError(UserError):
    """A GPU refused or failed a power-limit call; the message says which and why."""


class NoPermission(GpuError):
    """The user may not set power limits: the message names what is needed."""


class Backend:
    """One library's power-limit calls, in watts."""

    source = ""

    def range_w(self, handle: Any) -> tuple[float, float]:
        raise NotImplementedError

    def default_w(self, handle: Any) -> float:
        raise NotImplementedError

    def limit_w(self, handle: Any) -> float:
        raise NotImplementedError

    def in_force_w(self, handle: Any) -> float:
        raise NotImplementedError

    def set_w(self, handle: Any, watts: float) -> None:
        raise NotImplementedError

    def by_uuid(self, uuid: str) -> Any:
        """The handle of the GPU with this UUID, visible or not; GpuError when none has it."""
        raise NotImplementedError


class Nvml(Backend):
    source = "nvml"

    def __init__(self, pynvml: Any) -> None:
        self.m = pynvml

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self.m.NVMLError as err:
            if getattr(err, "value", None) == self.m.NVML_ERROR_NO_PERMISSION:
                raise NoPermission(f"{NVML_PERMISSION}; nothing was changed") from None
            raise GpuError(f"NVML: {what} failed: {err} ({type(err).__name__})") from None

    def range_w(self, handle: Any) -> tuple[float, float]:
        low, high = self._call("reading the allowed power limits",
                               self.m.nvmlDeviceGetPowerManagementLimitConstraints, handle)
        return low / 1000.0, high / 1000.0

    def default_w(self, handle: Any) -> float:
        return float(self._call("reading the default power limit",
                                self.m.nvmlDeviceGetPowerManagementDefaultLimit, handle)) / 1000.0

    def limit_w(self, handle: Any) -> float:
        return float(self._call("reading the power limit",
                                self.m.nvmlDeviceGetPowerManagementLimit, handle)) / 1000.0

    def in_force_w(self, handle: Any) -> float:
        return float(self._call("reading the enforced power limit",
                                self.m.nvmlDeviceGetEnforcedPowerLimit, handle)) / 1000.0

    def set_w(self, handle: Any, watts: float) -> None:
        self._call(f"setting the power limit to {watts:g} W",
                   self.m.nvmlDeviceSetPowerManagementLimit, handle, round(watts * 1000))

    def by_uuid(self, uuid: str) -> Any:
        return self._call(f"finding GPU {uuid}", self.m.nvmlDeviceGetHandleByUUID, uuid)


class AmdSmi(Backend):
    source = "amdsmi"

    def __init__(self, amdsmi: Any) -> None:
        self.m = amdsmi

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        # the lock every amdsmi call in greenbench takes (concurrent reads are unsafe)
        from greenbench.sensors.amdgpu import amdsmi_lock

        try:
            with amdsmi_lock:
                return fn(*args)
        except self.m.AmdSmiException as err:
            code = getattr(err, "get_error_code", lambda: None)()
            no_perm = int(getattr(getattr(self.m, "AmdSmiRetCode", None), "ERR_NO_PERM",
                                  _AMD_NO_PERM))
            if code == no_perm:
                raise NoPermission(f"{AMD_PERMISSION}; nothing was changed") from None
            raise GpuError(f"AMD SMI: {what} failed: {err}") from None

    def _cap(self, handle: Any) -> dict[str, Any]:
        return dict(self._call("reading the power cap", self.m.amdsmi_get_power_cap_info,
                               handle))

    def range_w(self, handle: Any) -> tuple[float, float]:
        cap = self._cap(handle)
        return cap["min_power_cap"] / 1e6, cap["max_power_cap"] / 1e6

    def default_w(self, handle: Any) -> float:
        return float(self._cap(handle)["default_power_cap"]) / 1e6

    def limit_w(self, handle: Any) -> float:
        return float(self._cap(handle)["power_cap"]) / 1e6

    def in_force_w(self, handle: Any) -> float:
        return self.limit_w(handle)  # AMD SMI reports one cap: the one in force

    def set_w(self, handle: Any, watts: float) -> None:
        self._call(f"setting the power cap to {watts:g} W", self.m.amdsmi_set_power_cap,
                   handle, 0, round(watts * 1e6))

    def by_uuid(self, uuid: str) -> Any:
        handles = self._call("listing GPUs", self.m.amdsmi_get_processor_handles)
        for handle in handles:
            if self._call("reading a UUID", self.m.amdsmi_get_gpu_device_uuid, handle) == uuid:
                return handle
        raise GpuError(f"AMD SMI: no GPU has UUID {uuid}")


@dataclass
class Gpu:
    """One GPU the framework sees, with the calls that set its limit."""

    device: str
    domain: str
    name: str
    uuid: str
    backend: Backend
    handle: Any

    @property
    def label(self) -> str:
        return f"{self.device} ({self.name})"

    def range_w(self) -> tuple[float, float]:
        return self.backend.range_w(self.handle)

    def default_w(self) -> float:
        return self.backend.default_w(self.handle)

    def limit_w(self) -> float:
        return self.backend.limit_w(self.handle)

    def in_force_w(self) -> float:
        return self.backend.in_force_w(self.handle)

    def set_w(self, watts: float) -> None:
        self.backend.set_w(self.handle, watts)


def visible_gpus() -> tuple[list[Gpu], list[str]]:
    """The GPUs the framework sees (NVIDIA first, then AMD), and why others are not there."""
    gpus, why = _nvml_gpus()
    if gpus:
        return gpus, why
    amd, amd_why = _amd_gpus()
    return amd, [*why, *amd_why]


def gpu_for(device: str) -> Gpu:
    """The GPU ``device`` (``cuda`` or ``cuda:N``) names; GpuError in one line otherwise."""
    if not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise GpuError(f"--device {device}: no GPU to set a power limit on; use --device "
                       "cuda:N on a machine with an NVIDIA or AMD GPU")
    index = int(device[5:]) if ":" in device else 0
    gpus, why = visible_gpus()
    if not gpus:
        raise GpuError(f"no GPU to set a power limit on: {'; '.join(why) or 'none found'}")
    for gpu in gpus:
        if gpu.device == f"cuda:{index}":
            return gpu
    listed = ", ".join(g.label for g in gpus)
    raise GpuError(f"--device {device}: this machine has {len(gpus)} GPU(s): {listed}")


def backend(source: str) -> Backend:
    """The initialised backend of ``source`` (``nvml`` or ``amdsmi``), for restoring."""
    if source == "nvml":
        return _nvml()
    if source == "amdsmi":
        return _amdsmi()
    raise GpuError(f"unknown GPU library {source!r} in a restore record")


def _nvml() -> Nvml:
    from greenbench.sensors import nvml

    loaded = nvml.load_nvml()
    if isinstance(loaded, nvml.Unavailable):
        raise GpuError(f"NVML: {loaded.reason}")
    return Nvml(loaded)


def _amdsmi() -> AmdSmi:
    from greenbench.sensors import amdgpu

    loaded = amdgpu.load_amdsmi()
    if isinstance(loaded, amdgpu.Unavailable):
        raise GpuError(f"AMD SMI: {loaded.reason}")
    return AmdSmi(loaded)


def _nvml_gpus() -> tuple[list[Gpu], list[str]]:
    from greenbench.sensors import nvml

    gpus: list[Gpu] = []
    why: list[str] = []
    for probe in nvml.probe():
        index = _index(probe, "nvml_index")
        if not _is_gpu(probe.domain):
            continue  # a Grace Hopper module's power: not a device to run on
        if probe.domain == nvml.ALL_GPUS or index is None:
            why.append(f"NVML: {probe.reason}")
            continue
        if probe.reason == nvml.MIG_REASON:
            why.append(f"{probe.domain}: a MIG instance; a power limit is the whole GPU's")
            continue
        pynvml = _nvml()
        handle = pynvml._call("finding a GPU", pynvml.m.nvmlDeviceGetHandleByIndex, index)
        gpus.append(_gpu(probe, pynvml, handle))
    return gpus, why


def _amd_gpus() -> tuple[list[Gpu], list[str]]:
    from greenbench.sensors import amdgpu

    gpus: list[Gpu] = []
    why: list[str] = []
    for probe in amdgpu.probe():
        index = _index(probe, "amdsmi_index")
        if not _is_gpu(probe.domain):
            continue
        if probe.domain == amdgpu.ALL_GPUS or index is None:
            why.append(f"AMD SMI: {probe.reason}")
            continue
        amd = _amdsmi()
        handles = amd._call("listing GPUs", amd.m.amdsmi_get_processor_handles)
        gpus.append(_gpu(probe, amd, handles[index]))
    return gpus, why


def _is_gpu(domain: str) -> bool:
    return domain == "gpu:*" or (domain.startswith("gpu:") and domain[4:].isdigit())


def _index(probe: Any, key: str) -> int | None:
    if probe.sensor is not None:
        value = getattr(probe.sensor, key, None)
    else:
        value = probe.details.get("gpu", {}).get(key)
    return value if isinstance(value, int) else None


def _gpu(probe: Any, lib: Backend, handle: Any) -> Gpu:
    facts = probe.sensor.info() if probe.sensor is not None else probe.details.get("gpu", {})
    number = probe.domain.removeprefix("gpu:")
    return Gpu(device=f"cuda:{number}", domain=probe.domain, name=str(facts.get("name", "GPU")),
               uuid=str(facts.get("uuid", "")), backend=lib, handle=handle)
