"""AMD GPUs through AMD SMI (module ``amdsmi``, shipped with ROCm).

(This module is called ``amdgpu`` so that it never shadows the ``amdsmi`` package.)

Per visible GPU one sensor, chosen by what the GPU supports:

- :class:`AmdSmiEnergySensor` (kind ``counter``): ``amdsmi_get_energy_count``, an accumulator of
  ticks times ``counter_resolution`` microjoules, read here in joules. The counter is wrong on some
  parts (it stood still on MI100s, ROCm/amdsmi#38 and AMDResearch/hpcfund#21), so its
  ``cross_check`` is an :class:`AmdSmiPowerSensor` for the same GPU: the meter integrates it beside
  the counter, and :func:`counter_agrees` says whether the two match.
- :class:`AmdSmiPowerSensor` (kind ``power``): ``amdsmi_get_power_info``, socket power in watts;
  used alone where there is no energy counter.

Domains are ``gpu:N`` where N is the index the framework sees (torch ``cuda:N`` on ROCm). Visibility
is read from ``ROCR_VISIBLE_DEVICES`` (applied first, by the ROCm runtime) and then
``HIP_VISIBLE_DEVICES`` (or ``CUDA_VISIBLE_DEVICES``, which HIP honours when
``HIP_VISIBLE_DEVICES`` is unset), each a list of indices into what the previous step left.

Known limitations:

- Only indices are understood in those variables; a UUID entry makes the probe say so instead of
  guessing.
- HIP's device order is not always AMD SMI's. The two are matched through the ``hip_id`` of
  ``amdsmi_get_gpu_enumeration_info`` (ROCm 6.4 and newer, as torch.cuda does); with an older amdsmi
  HIP device N is taken to be AMD SMI GPU N and each probe carries a warning.
- Partitioned GPUs (MI300 in CPX, DPX or QPX mode) and the two dies of an MI250/MI250X appear as
  separate GPUs; AMD SMI reports power for the whole package on one of them only, which this
  module does not try to detect.
- AMD SMI does not run in virtual-machine guests (its documentation says so).

``amdsmi`` is imported lazily and initialised once per process; nothing here raises at import time
and :func:`probe` never raises.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from greenbench.polled_power import CITATION, PartTimeMitigation
from greenbench.sensors.base import Probe, Sensor, SensorKind, SensorReadError, device_facts

SOURCE = "amdsmi"

#: the domain of probes that concern every GPU at once (no library, no driver, none visible)
ALL_GPUS = "gpu:*"

#: fields of amdsmi_get_power_info holding socket power in watts, in order of preference: the
#: instantaneous value (MI300 and newer), the average (MI200 and earlier, Navi), and the unified
#: field of recent releases that mirrors whichever of the two the part has
POWER_FIELDS = ("current_socket_power", "average_socket_power", "socket_power")

# AMD does not document how often the energy accumulator and socket power refresh; assume the
# slow end seen on NVIDIA (100 ms) so that window-length checks err on the safe side.
AMD_UPDATE_PERIOD_S = 0.1


def probe() -> list[Probe]:
    """One probe per GPU the framework sees, plus process-wide probes (domain ``gpu:*``).

    Never raises: a missing library, a failed initialisation, unusable visibility variables and a
    failing GPU each become an unavailable :class:`Probe` with a reason and a remedy.
    """
    loaded = load_amdsmi()
    if isinstance(loaded, Unavailable):
        return [_all_gpus_unavailable(loaded.reason, loaded.remedy)]
    amdsmi = loaded
    try:
        with amdsmi_lock:
            handles = list(amdsmi.amdsmi_get_processor_handles())
    except amdsmi.AmdSmiException as err:
        return [
            _all_gpus_unavailable(
                f"AMD SMI failed while listing GPUs: {_amdsmi_error_text(err)}",
                "Check that amd-smi list shows the GPUs.",
            )
        ]
    if not handles:
        return [
            _all_gpus_unavailable(
                "AMD SMI is running but lists no AMD GPU",
                "In a container, pass the GPUs in (--device /dev/kfd --device /dev/dri).",
            )
        ]

    visible, problem = _visible_indices(len(handles))
    probes: list[Probe] = []
    if problem:
        probes.append(
            _all_gpus_unavailable(
                problem,
                "List GPUs by index (as amd-smi list numbers them), each once, in "
                "ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES.",
            )
        )
    elif not visible:
        probes.append(
            _all_gpus_unavailable(
                "A visibility variable (ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES or "
                "CUDA_VISIBLE_DEVICES) is set but empty: no GPU is visible to this process",
                "Unset it or list the GPUs to use.",
            )
        )
    hip_to_amdsmi = _hip_to_amdsmi_indices(amdsmi, handles)
    order_warning = ""
    if hip_to_amdsmi is None and len(handles) > 1:
        order_warning = (
            "This amdsmi cannot say which HIP device each GPU is (amdsmi_get_gpu_enumeration_info "
            "arrived in ROCm 6.4): HIP device N is taken to be AMD SMI GPU N, which AMD does not "
            "guarantee. Check the UUID in the facts, or update ROCm."
        )
    for framework_index, hip_index in enumerate(visible):
        domain = f"gpu:{framework_index}"
        amdsmi_index = hip_to_amdsmi[hip_index] if hip_to_amdsmi else hip_index
        try:
            found = _probe_gpu(amdsmi, handles[amdsmi_index], domain, amdsmi_index)
        except amdsmi.AmdSmiException as err:
            found = Probe(
                domain,
                SOURCE,
                SensorKind.COUNTER,
                reason=f"AMD SMI failed on GPU {amdsmi_index}: {_amdsmi_error_text(err)}",
                remedy="Check amd-smi metric for this GPU.",
            )
        if order_warning:
            found.details["warning"] = order_warning
        probes.append(found)
    return probes


def gpu_facts() -> list[dict[str, Any]]:
    """Facts about every visible AMD GPU, for storing with a machine description.

    Each dict holds ``domain`` and what the sensor's ``info()`` holds (name, UUID, AMD SMI index,
    driver version, power limit in W, clocks in MHz, method). Empty when AMD SMI is unavailable.
    """
    return device_facts(probe())


class _AmdSmiSensor(Sensor):
    """What both AMD SMI sensors share: one GPU, identified by framework and AMD SMI index."""

    source = SOURCE
    update_period_s = AMD_UPDATE_PERIOD_S
    #: power readings are averages that lag load by up to a second
    settle_s = 1.0
    method = ""

    def __init__(self, amdsmi: ModuleType, handle: Any, domain: str, amdsmi_index: int) -> None:
        self._amdsmi = amdsmi
        self._handle = handle
        self.domain = domain
        self.amdsmi_index = amdsmi_index

    def info(self) -> dict[str, Any]:
        facts = _device_facts(self._amdsmi, self._handle)
        facts["amdsmi_index"] = self.amdsmi_index
        facts["method"] = self.method
        return facts

    def _read_error(self, what: str, err: Exception) -> SensorReadError:
        detail = _amdsmi_error_text(err) if isinstance(err, self._amdsmi.AmdSmiException) else err
        return SensorReadError(
            f"{self.domain} (AMD SMI GPU {self.amdsmi_index}): {what} failed: {detail}"
        )


class AmdSmiEnergySensor(_AmdSmiSensor):
    """Energy accumulated since the driver loaded (or the GPU was reset), in joules.

    AMD SMI gives a tick count and the microjoules per tick (``counter_resolution``, e.g.
    15.3 µJ on MI100). The tick count is a 64-bit integer (``uint64_t *energy_accumulator`` in
    the C API): at 15.3 µJ a tick it holds about 2.8e14 J, millennia at 1 kW, so ``wrap_j`` is None.
    """

    kind = SensorKind.COUNTER
    wrap_j = None
    method = "counter"

    def __init__(
        self,
        amdsmi: ModuleType,
        handle: Any,
        domain: str,
        amdsmi_index: int,
        resolution_uj: float,
        cross_check: AmdSmiPowerSensor | None,
    ) -> None:
        super().__init__(amdsmi, handle, domain, amdsmi_index)
        self.resolution = resolution_uj * 1e-6  # J
        self.cross_check = cross_check

    def read_value(self) -> float:
        """Joules since the driver loaded."""
        try:
            with amdsmi_lock:
                reading = self._amdsmi.amdsmi_get_energy_count(self._handle)
            microjoules, _resolution_uj = _energy_uj(reading)
        except (self._amdsmi.AmdSmiException, _NotReported) as err:
            raise self._read_error("reading the energy counter", err) from err
        return microjoules * 1e-6

    def info(self) -> dict[str, Any]:
        facts = super().info()
        facts["counter_resolution_uj"] = self.resolution * 1e6
        return facts


class AmdSmiPowerSensor(_AmdSmiSensor):
    """Socket power in watts, from one field of ``amdsmi_get_power_info``.

    AMD SMI reports whole watts; ``average_socket_power`` is a moving average, so integrate it
    over long windows.
    """

    kind = SensorKind.POWER
    resolution = 1.0  # W: AMD SMI reports integers
    method = "power"
    #: set where this sensor is the measurement (not a counter's cross-check): the protocol's
    #: polled-power mitigations (greenbench.polled_power)
    part_time: PartTimeMitigation | None = None

    def __init__(
        self, amdsmi: ModuleType, handle: Any, domain: str, amdsmi_index: int, power_field: str
    ) -> None:
        super().__init__(amdsmi, handle, domain, amdsmi_index)
        self.power_field = power_field

    def read_value(self) -> float:
        """Watts, now (or averaged by the firmware, for ``average_socket_power``)."""
        try:
            with amdsmi_lock:
                info = self._amdsmi.amdsmi_get_power_info(self._handle)
        except self._amdsmi.AmdSmiException as err:
            raise self._read_error("reading power", err) from err
        watts = _as_number(info.get(self.power_field))
        if watts is None:
            not_reported = _NotReported(f"{self.power_field}={info.get(self.power_field)!r}")
            raise self._read_error("reading power", not_reported)
        return watts

    def info(self) -> dict[str, Any]:
        facts = super().info()
        facts["power_field"] = self.power_field
        if self.part_time is not None:
            facts["polled_power"] = self.part_time.to_dict()
        return facts


# --- AMD SMI initialisation ----------------------------------------------------------------


@dataclass(frozen=True)
class Unavailable:
    """Why the library cannot be used here, and what to do (also read by greenbench.gpu)."""

    reason: str
    remedy: str


class _NotReported(Exception):
    """AMD SMI answered, but without a usable number ("N/A", a missing key)."""


# Every amdsmi call goes through this lock: reads from several threads at once were reported to
# make the energy counter go backwards (ROCm/amdsmi#115), and the sampling thread reads while the
# main thread may probe.
amdsmi_lock = threading.RLock()
# (the amdsmi module that was initialised, the error amdsmi_init raised or None); keyed by module
# so that a different amdsmi (a test's stand-in) is initialised afresh
_init_state: tuple[ModuleType, BaseException | None] | None = None

_IGNORE_WITHOUT_AMD = " Ignore this on machines without AMD GPUs."


def load_amdsmi() -> ModuleType | Unavailable:
    """The initialised ``amdsmi`` module, or why there is none (``amdsmi_init`` runs once)."""
    global _init_state
    try:
        # amdsmi prints to stdout when it cannot find libamd_smi.so; keep that out of our output
        with contextlib.redirect_stdout(io.StringIO()):
            import amdsmi
    except ImportError as err:
        return Unavailable(
            f"amdsmi not installed ({err})",
            "Install the amdsmi Python package that matches your ROCm version (pip install "
            "/opt/rocm/share/amd_smi, or pip install amdsmi==<ROCm version>)."
            + _IGNORE_WITHOUT_AMD,
        )
    # Importing amdsmi also loads libamd_smi.so: a missing or mismatched ROCm surfaces here as
    # OSError, AttributeError or KeyError rather than ImportError.
    except Exception as err:
        return Unavailable(
            f"amdsmi is installed but failed to load: {type(err).__name__}: {err}",
            "Install ROCm (set ROCM_PATH if it is not under /opt/rocm) and an amdsmi package no "
            "older than it." + _IGNORE_WITHOUT_AMD,
        )
    with amdsmi_lock:
        if _init_state is None or _init_state[0] is not amdsmi:
            try:
                amdsmi.amdsmi_init()
                _init_state = (amdsmi, None)
            except amdsmi.AmdSmiException as err:
                _init_state = (amdsmi, err)
        error = _init_state[1]
    if error is None:
        return amdsmi
    return Unavailable(
        f"AMD SMI could not start: {_amdsmi_error_text(error)}",
        "Load the amdgpu kernel driver and check that amd-smi list works (AMD SMI does not run "
        "in virtual-machine guests)." + _IGNORE_WITHOUT_AMD,
    )


def _forget_init() -> None:
    """Forget the AMD SMI initialisation outcome, so the next probe initialises again (tests)."""
    global _init_state
    with amdsmi_lock:
        _init_state = None


def _amdsmi_error_text(err: BaseException) -> str:
    """AMD SMI's words and the class; ``AmdSmiLibraryException`` carries the status code."""
    return f"{err} ({type(err).__name__})"


# --- which GPUs the framework sees ---------------------------------------------------------


def _visible_indices(count: int) -> tuple[list[int], str]:
    """AMD SMI indices of framework devices 0, 1, ...; and why entries were ignored, if any.

    ``ROCR_VISIBLE_DEVICES`` picks from all GPUs, then ``HIP_VISIBLE_DEVICES`` (or, when that is
    unset, ``CUDA_VISIBLE_DEVICES``) picks from what is left. The first entry that is not a valid
    index ends its list, and the probe says so.
    """
    hip_variable = (
        "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in os.environ else "CUDA_VISIBLE_DEVICES"
    )
    visible = list(range(count))
    problems: list[str] = []
    for variable in ("ROCR_VISIBLE_DEVICES", hip_variable):
        value = os.environ.get(variable)
        if value is None:
            continue
        visible, problem = _pick(variable, value, visible)
        if problem:
            problems.append(problem)
    return visible, "; ".join(problems)


def _pick(variable: str, value: str, available: list[int]) -> tuple[list[int], str]:
    entries = [entry.strip() for entry in value.split(",")]
    picked: list[int] = []
    for position, entry in enumerate(entries):
        if entry.isdigit() and int(entry) < len(available) and available[int(entry)] not in picked:
            picked.append(available[int(entry)])
            continue
        ignored = entries[position:]
        if not any(ignored):  # a trailing comma: nothing of substance was ignored
            break
        if entry.startswith("GPU-"):
            why = "is a UUID, which greenbench's AMD backend does not map (use indices)"
        elif entry.isdigit() and int(entry) < len(available):
            why = "repeats an earlier entry"
        else:
            why = f"is not an index below {len(available)}"
        return picked, (
            f"{variable}={value!r}: entry {entry!r} {why}; it and every entry after it "
            f"({', '.join(repr(e) for e in ignored)}) are ignored"
        )
    return picked, ""


def _hip_to_amdsmi_indices(amdsmi: Any, handles: list[Any]) -> dict[int, int] | None:
    """HIP's index of each GPU -> its AMD SMI index, or None where amdsmi cannot tell.

    The two orders are not always the same (torch.cuda maps them the same way, through the
    ``hip_id`` of ``amdsmi_get_gpu_enumeration_info``, available since ROCm 6.4).
    """
    mapping: dict[int, int] = {}
    for amdsmi_index, handle in enumerate(handles):
        try:
            with amdsmi_lock:
                hip_id = amdsmi.amdsmi_get_gpu_enumeration_info(handle).get("hip_id")
        # AttributeError: an amdsmi older than the function
        except (amdsmi.AmdSmiException, AttributeError):
            return None
        if isinstance(hip_id, bool) or not isinstance(hip_id, int):
            return None
        mapping[hip_id] = amdsmi_index
    # every GPU must have its own HIP index for the map to be trusted
    return mapping if set(mapping) == set(range(len(handles))) else None


# --- probing -------------------------------------------------------------------------------


def _probe_gpu(amdsmi: Any, handle: Any, domain: str, amdsmi_index: int) -> Probe:
    """The best sensor one GPU offers: the energy counter (cross-checked) or socket power."""
    details: dict[str, Any] = {}
    power: AmdSmiPowerSensor | None = None
    power_field = _power_field(amdsmi, handle, details)
    if power_field is not None:
        power = AmdSmiPowerSensor(amdsmi, handle, domain, amdsmi_index, power_field)

    resolution_uj = _energy_resolution_uj(amdsmi, handle, details)
    if resolution_uj is not None:
        counter = AmdSmiEnergySensor(
            amdsmi, handle, domain, amdsmi_index, resolution_uj, cross_check=power
        )
        return Probe(domain, SOURCE, SensorKind.COUNTER, sensor=counter, details=details)
    if power is not None:
        # what one reading covers is not published for AMD parts: the polled path's
        # mitigations apply as on NVIDIA's
        power.part_time = PartTimeMitigation(
            reading=f"unknown share of each update ({power_field})",
            why="this GPU has no energy accumulator")
        details["note"] = (f"polled power ({power.part_time.why}): repeats of at least 5 s "
                           "and 32 steps, random pauses and the rise time discarded "
                           f"({CITATION})")
        return Probe(domain, SOURCE, SensorKind.POWER, sensor=power, details=details)
    return Probe(
        domain,
        SOURCE,
        SensorKind.COUNTER,
        reason=f"AMD SMI GPU {amdsmi_index} reports neither an energy counter nor socket power",
        remedy="Update ROCm and amdsmi; some parts and virtual machines expose neither.",
        details={**details, "gpu": _device_facts(amdsmi, handle)},
    )


def _energy_resolution_uj(amdsmi: Any, handle: Any, details: dict[str, Any]) -> float | None:
    """Microjoules per tick when the GPU has a working energy counter call, else None."""
    try:
        with amdsmi_lock:
            reading = amdsmi.amdsmi_get_energy_count(handle)
        _microjoules, resolution_uj = _energy_uj(reading)
    except (amdsmi.AmdSmiException, _NotReported) as err:
        details["energy_counter"] = f"unavailable: {err}"
        return None
    return resolution_uj


def _energy_uj(reading: dict[str, Any]) -> tuple[float, float]:
    """(microjoules accumulated, microjoules per tick) from ``amdsmi_get_energy_count``."""
    # The tick count is "energy_accumulator" in current amdsmi; older releases called the same
    # counter "power" (marked deprecated in the ROCm 6.4 documentation).
    raw_ticks = reading.get("energy_accumulator", reading.get("power"))
    raw_resolution = reading.get("counter_resolution")
    ticks, resolution_uj = _as_number(raw_ticks), _as_number(raw_resolution)
    if ticks is None or resolution_uj is None or resolution_uj <= 0:
        raise _NotReported(
            f"energy_accumulator/power={raw_ticks!r}, counter_resolution={raw_resolution!r}"
        )
    return ticks * resolution_uj, resolution_uj


def _power_field(amdsmi: Any, handle: Any, details: dict[str, Any]) -> str | None:
    """The first of :data:`POWER_FIELDS` holding a plausible wattage on this GPU, else None."""
    try:
        with amdsmi_lock:
            info = amdsmi.amdsmi_get_power_info(handle)
    except amdsmi.AmdSmiException as err:
        details["power"] = f"unavailable: {_amdsmi_error_text(err)}"
        return None
    for name in POWER_FIELDS:
        # "N/A" means the part lacks the field; 0 W means it does not report it (a powered GPU
        # draws tens of watts even idle; the second die of an MI250X reads 0)
        watts = _as_number(info.get(name))
        if watts is not None and watts > 0:
            return name
    details["power"] = "unavailable: " + ", ".join(f"{n}={info.get(n)!r}" for n in POWER_FIELDS)
    return None


def _all_gpus_unavailable(reason: str, remedy: str) -> Probe:
    return Probe(ALL_GPUS, SOURCE, SensorKind.COUNTER, reason=reason, remedy=remedy)


# --- facts ---------------------------------------------------------------------------------


def _device_facts(amdsmi: Any, handle: Any) -> dict[str, Any]:
    """What AMD SMI tells about a GPU; a field it refuses or answers "N/A" is left out."""
    queries: dict[str, Any] = {
        "name": lambda: amdsmi.amdsmi_get_gpu_asic_info(handle)["market_name"],
        "uuid": lambda: amdsmi.amdsmi_get_gpu_device_uuid(handle),
        "driver_version": lambda: amdsmi.amdsmi_get_gpu_driver_info(handle)["driver_version"],
        # power_cap is in microwatts
        "power_limit_w": lambda: amdsmi.amdsmi_get_power_cap_info(handle)["power_cap"] / 1e6,
        "gfx_clock_mhz": lambda: _current_clock(
            amdsmi.amdsmi_get_clock_info(handle, amdsmi.AmdSmiClkType.GFX)
        ),
        "memory_clock_mhz": lambda: _current_clock(
            amdsmi.amdsmi_get_clock_info(handle, amdsmi.AmdSmiClkType.MEM)
        ),
    }
    facts: dict[str, Any] = {}
    for key, query in queries.items():
        try:
            with amdsmi_lock:
                value = query()
        # KeyError: a field this amdsmi release lacks; TypeError: "N/A" in arithmetic;
        # AttributeError: a function or enum this release lacks
        except (amdsmi.AmdSmiException, KeyError, TypeError, AttributeError):
            continue
        if value is not None and value != "N/A":
            facts[key] = value
    return facts


def _current_clock(info: dict[str, Any]) -> Any:
    """MHz; the field is ``clk`` in current amdsmi and ``cur_clk`` in older releases."""
    return info["clk"] if "clk" in info else info["cur_clk"]


def _as_number(value: Any) -> float | None:
    """The value as a float, or None where AMD SMI gave no number ("N/A", None, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
