"""CPU package, core, uncore, DRAM and platform energy from RAPL, read through Linux powercap.

Every zone under the powercap root (``/sys/class/powercap`` unless ``GREENBENCH_POWERCAP_ROOT``
says otherwise) in the ``intel-rapl`` tree (MSR, Intel and AMD Zen) and the ``intel-rapl-mmio``
tree becomes one :class:`~greenbench.sensors.base.Probe`. A zone's domain comes from its ``name``
file, never from its index (the index of ``dram`` varies between machines):

=========================  ===========================  ======================
zone ``name``              domain                       ``part_of``
=========================  ===========================  ======================
``package-N``              ``cpu-package:N``            ``None``
``package-N-die-D``        ``cpu-package:N-die-D`` [1]  ``None``
``core`` (under pkg N)     ``cpu-core:N``               ``cpu-package:N``
``uncore`` (under pkg N)   ``cpu-uncore:N``             ``cpu-package:N``
``dram`` (under pkg N)     ``dram:N``                   ``None`` (not in package)
``psys`` (K-th in tree)    ``platform:K``               ``"platform"``
=========================  ===========================  ======================

``psys`` covers the packages and more, so it is kept out of totals. A domain is counted once:
the first available zone for it wins (MSR tree before MMIO tree) and later ones are reported as
``duplicate of <zone>``. [1] On Intel multi-die parts each die has its own counter. On AMD and
Hygon the RAPL counters are package-wide, yet some kernels list one ``package-N-die-D`` zone per
die, each reading the same counter (later kernels fixed this); there every die zone maps to
``cpu-package:N`` so that only one of them is counted.

Wraparound. ``energy_uj`` is a 32-bit hardware counter scaled to microjoules; it goes back to 0
after ``max_energy_range_uj``. :meth:`RaplSensor.read_value` returns the raw value in joules and
the meter adds ``wrap_j`` once per wrap it sees (:func:`unwrap_delta_j`). A wrap is seen only if
less than ``wrap_j`` joules accumulate between two reads, so the poll interval must stay below
``wrap_j / max_power_w``; :meth:`Sensor.max_poll_interval_s` returns half of that. With the
assumed 1000 W per zone (:data:`ASSUMED_MAX_POWER_W`):

- Intel, range 262,143,328,850 uJ = 262,143 J: a wrap at most every 262 s, poll at least every
  131 s (at a realistic 280 W the counter wraps every ~15.6 minutes);
- AMD Zen, range 65,532,610,987 uJ = 65,533 J: a wrap at most every 65.5 s, poll at least every
  32.8 s (at 280 W every ~3.9 minutes).

``psys`` zones assume 4000 W (:data:`ASSUMED_MAX_PLATFORM_POWER_W`), so 32.8 s on Intel.
"""

from __future__ import annotations

import functools
import os
import re
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenbench.sensors.base import Probe, Sensor, SensorKind, SensorReadError

ROOT_ENV = "GREENBENCH_POWERCAP_ROOT"
DEFAULT_ROOT = "/sys/class/powercap"

#: Highest power any single RAPL zone is assumed to draw, in watts. The largest server CPUs sold
#: today are rated at about 500 W per socket (AMD EPYC 9005, Intel Xeon 6900P), and package,
#: core, uncore and DRAM zones are per socket, so 1000 W leaves 2x headroom. Higher only makes
#: polling more frequent; lower could miss a wrap.
ASSUMED_MAX_POWER_W = 1000.0
#: ``psys`` measures a whole platform (sockets, memory, chipset), so it gets more headroom.
ASSUMED_MAX_PLATFORM_POWER_W = 4000.0
#: RAPL updates its counters about every millisecond (Intel SDM vol. 3B, section 15.10.1).
UPDATE_PERIOD_S = 0.001
#: 2**-16 J = 15.3 uJ: the energy status unit of AMD Zen and of Intel parts with ESU = 16
#: (MSR_RAPL_POWER_UNIT; turbostat prints it as "0.000015 Joules"). Used only when the unit
#: cannot be derived from ``max_energy_range_uj`` (see :func:`_energy_unit_j`).
FALLBACK_RESOLUTION_J = 2.0**-16

_REMEDY_NO_TREE = (
    "RAPL needs bare-metal Linux with the intel_rapl_common and intel_rapl_msr kernel modules "
    "loaded (`sudo modprobe intel_rapl_msr`; AMD Zen needs Linux 5.8 or later); containers need "
    "/sys/class/powercap mounted in. Or set GREENBENCH_POWERCAP_ROOT to a powercap tree."
)
_REMEDY_DRIVER = "check the RAPL driver's messages (sudo dmesg | grep -i rapl)"
_REASON_ROOT_ONLY = "energy_uj is readable by root only (Linux 5.10+ fix for a power side channel)"
_AMD_VENDORS = ("AuthenticAMD", "HygonGenuine")
_MSR_CONTROL_TYPE = "intel-rapl"
# Zone directories are named after their control type plus one index per level:
# ``intel-rapl:0`` (package), ``intel-rapl:0:2`` (its third subzone), ``intel-rapl-mmio:0``.
_CONTROL_TYPE_RE = re.compile(r"intel-rapl(?:-[a-z0-9]+)?")
_ZONE_RE = re.compile(r"(?P<control>intel-rapl(?:-[a-z0-9]+)?)(?P<ids>(?::\d+)+)")
_PACKAGE_RE = re.compile(r"package-(?P<package>\d+)(?:-die-(?P<die>\d+))?")
_SUBZONE_DOMAINS = {"core": "cpu-core", "uncore": "cpu-uncore", "dram": "dram"}
# energy_uj holds at most 20 digits and a newline; read no more than that.
_READ_BYTES = 32


def probe(
    root: str | os.PathLike[str] | None = None, *, cpu_vendor: str | None = None
) -> list[Probe]:
    """One :class:`Probe` per RAPL zone under ``root``, available or not. Never raises.

    ``root`` defaults to ``$GREENBENCH_POWERCAP_ROOT``, else ``/sys/class/powercap``; only that
    tree is walked (``/sys/devices/virtual/powercap`` holds the same zones). ``cpu_vendor``
    (``GenuineIntel``, ``AuthenticAMD``) defaults to the one in ``/proc/cpuinfo``.
    """
    if root is None:
        root = os.environ.get(ROOT_ENV) or DEFAULT_ROOT
    root_path = Path(root)
    if not root_path.is_dir():
        return [_tree_probe(f"no powercap tree at {root_path} (usual in containers and VMs)")]
    try:
        zones = _find_zones(root_path)
    except OSError as e:
        return [_tree_probe(f"cannot list {root_path}: {e.strerror or e}")]
    if not zones:
        return [_tree_probe(f"no RAPL zones under {root_path}")]
    vendor = cpu_vendor if cpu_vendor is not None else _cpu_vendor()

    probes: list[Probe] = []
    counted: dict[str, _Zone] = {}  # domain -> the zone read for it
    psys_seen: dict[str, int] = {}
    for zone in zones.values():
        psys_index = psys_seen.get(zone.control, 0)
        if zone.name == "psys":
            psys_seen[zone.control] = psys_index + 1
        found = _probe_zone(zone, zones, vendor, psys_index, root_path)
        if found.sensor is not None and found.domain in counted:
            _mark_duplicate(found, zone, counted[found.domain], zones)
        elif found.sensor is not None:
            counted[found.domain] = zone
        probes.append(found)
    return probes


class RaplSensor(Sensor):
    """One powercap zone's ``energy_uj``, read as raw (not unwrapped) joules.

    The file is opened once and read with ``os.pread`` at offset 0: one system call per read,
    no shared file position, so reads are safe from a sampling thread. sysfs formats the value
    afresh for every read at offset 0 (seq_file resets its buffer there). Raises ``OSError``
    when ``energy_uj`` cannot be opened.
    """

    kind = SensorKind.COUNTER

    def __init__(
        self,
        zone_dir: Path,
        *,
        domain: str,
        source: str,
        zone_name: str,
        max_energy_range_uj: int,
        part_of: str | None = None,
        max_power_w: float = ASSUMED_MAX_POWER_W,
        cpu_vendor: str | None = None,
    ) -> None:
        self.domain = domain
        self.source = source
        self.part_of = part_of
        self.update_period_s = UPDATE_PERIOD_S
        self.resolution = _energy_unit_j(max_energy_range_uj)
        self.wrap_j = max_energy_range_uj / 1e6
        self.max_power_w = max_power_w
        self.zone_dir = zone_dir
        self.zone_name = zone_name
        self.max_energy_range_uj = max_energy_range_uj
        self.cpu_vendor = cpu_vendor
        self._energy_path = zone_dir / "energy_uj"
        self._fd = os.open(self._energy_path, os.O_RDONLY)
        # Closes the descriptor when the sensor is garbage-collected or close() is called.
        self._finalizer = weakref.finalize(self, os.close, self._fd)

    def read_value(self) -> float:
        """Raw ``energy_uj`` in joules; raises :class:`SensorReadError`, never returns 0."""
        try:
            raw = os.pread(self._fd, _READ_BYTES, 0)
        except OSError as e:
            raise SensorReadError(
                f"cannot read {self._energy_path}: {e.strerror or e} (errno {e.errno})"
            ) from e
        try:
            microjoules = int(raw)
        except ValueError:
            raise SensorReadError(f"{self._energy_path} is not an integer: {raw!r}") from None
        if microjoules < 0:
            raise SensorReadError(f"{self._energy_path} is negative: {microjoules}")
        return microjoules / 1e6

    def info(self) -> dict[str, Any]:
        return {
            "zone": str(self.zone_dir),
            "zone_name": self.zone_name,
            "max_energy_range_uj": self.max_energy_range_uj,
            "energy_unit_j": self.resolution,
            "cpu_vendor": self.cpu_vendor,
        }

    def close(self) -> None:
        """Close the counter file; later reads raise :class:`SensorReadError`."""
        self._finalizer()
        self._fd = -1


# --- discovery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Zone:
    dir_name: str  # "intel-rapl:0:2"
    path: Path
    control: str  # "intel-rapl"
    ids: tuple[int, ...]  # (0, 2)
    name: str | None  # contents of the name file, None when unreadable
    name_error: str = ""

    @property
    def parent_dir(self) -> str | None:
        if len(self.ids) == 1:
            return None
        return self.control + "".join(f":{i}" for i in self.ids[:-1])

    def is_die(self, zones: dict[str, _Zone]) -> bool:
        """True for a ``package-N-die-D`` zone and for the subzones of one."""
        package = zones.get(self.parent_dir or "", self)
        return "-die-" in (package.name or "")


def _find_zones(root: Path) -> dict[str, _Zone]:
    """Every RAPL zone under ``root``, in counting order: MSR tree first, then by index.

    ``/sys/class/powercap`` lists every zone flat (links); ``/sys/devices/virtual/powercap``
    nests them under their control type and parent. Both are walked the same way: descend only
    into directories named like a child zone (never into ``subsystem`` or ``device`` links, which
    lead back up), and keep each zone name once.
    """
    found: dict[str, _Zone] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            if directory == root:
                raise
            continue  # an unreadable zone directory: its subzones stay unseen
        for entry in entries:
            match = _ZONE_RE.fullmatch(entry.name)
            if match is None:
                if directory == root and _CONTROL_TYPE_RE.fullmatch(entry.name):
                    pending.append(Path(entry.path))
                continue
            if entry.name in found or not entry.is_dir():
                continue
            ids = tuple(int(i) for i in match["ids"].split(":")[1:])
            name, error = _read_name(Path(entry.path))
            found[entry.name] = _Zone(
                entry.name, Path(entry.path), match["control"], ids, name, error
            )
            pending.append(Path(entry.path))

    def order(zone: _Zone) -> tuple[bool, str, tuple[int, ...]]:
        return (zone.control != _MSR_CONTROL_TYPE, zone.control, zone.ids)

    return {z.dir_name: z for z in sorted(found.values(), key=order)}


def _read_name(zone_dir: Path) -> tuple[str | None, str]:
    try:
        return (zone_dir / "name").read_text().strip(), ""
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read {zone_dir / 'name'}: {getattr(e, 'strerror', None) or e}"


def _probe_zone(
    zone: _Zone, zones: dict[str, _Zone], vendor: str | None, psys_index: int, root: Path
) -> Probe:
    source = "rapl" + zone.control[len(_MSR_CONTROL_TYPE) :]  # rapl, rapl-mmio
    domain_part = _domain(zone, zones, vendor, psys_index)
    details: dict[str, Any] = {"zone": str(zone.path), "zone_name": zone.name}
    if domain_part is None:
        reason = zone.name_error or f"unrecognised RAPL zone name {zone.name!r}"
        return Probe(
            f"unknown:{zone.dir_name}",
            source,
            SensorKind.COUNTER,
            reason=reason + " (not read, so it cannot be counted twice)",
            remedy="report this layout to the greenbench maintainers",
            details=details,
        )
    domain, part_of = domain_part
    unavailable = Probe(domain, source, SensorKind.COUNTER, details=details)

    max_range_uj, error = _read_max_range_uj(zone.path)
    if max_range_uj is None:
        unavailable.reason = error
        unavailable.remedy = _REMEDY_DRIVER
        return unavailable
    max_power_w = ASSUMED_MAX_PLATFORM_POWER_W if zone.name == "psys" else ASSUMED_MAX_POWER_W
    try:
        sensor = RaplSensor(
            zone.path,
            domain=domain,
            source=source,
            zone_name=zone.name or "",
            max_energy_range_uj=max_range_uj,
            part_of=part_of,
            max_power_w=max_power_w,
            cpu_vendor=vendor,
        )
    except PermissionError:
        return _root_only(unavailable, root)
    except OSError as e:
        unavailable.reason = f"cannot open {zone.path / 'energy_uj'}: {e.strerror or e}"
        unavailable.remedy = _REMEDY_DRIVER
        return unavailable
    try:
        sensor.read_value()
    except SensorReadError as e:
        sensor.close()
        if isinstance(e.__cause__, PermissionError):
            return _root_only(unavailable, root)
        unavailable.reason = str(e)
        unavailable.remedy = _REMEDY_DRIVER
        return unavailable
    return Probe(domain, source, SensorKind.COUNTER, sensor=sensor, details=details)


def _domain(
    zone: _Zone, zones: dict[str, _Zone], vendor: str | None, psys_index: int
) -> tuple[str, str | None] | None:
    """``(domain, part_of)`` from the zone's name (and its parent's), or None if unknown."""
    if zone.name is None:
        return None
    if zone.parent_dir is None:
        if zone.name == "psys":
            return f"platform:{psys_index}", "platform"
        label = _package_label(zone.name, vendor)
        return (f"cpu-package:{label}", None) if label is not None else None
    parent = zones.get(zone.parent_dir)
    kind = _SUBZONE_DOMAINS.get(zone.name)
    if parent is None or parent.name is None or kind is None:
        return None
    label = _package_label(parent.name, vendor)
    if label is None:
        return None
    # DRAM energy is not inside the package energy, so it adds to the total.
    return f"{kind}:{label}", None if zone.name == "dram" else f"cpu-package:{label}"


def _package_label(name: str, vendor: str | None) -> str | None:
    """``"0"`` for ``package-0``; ``"0-die-1"`` for an Intel die, ``"0"`` for an AMD die."""
    match = _PACKAGE_RE.fullmatch(name)
    if match is None:
        return None
    if match["die"] is None or vendor in _AMD_VENDORS:
        return match["package"]
    return f"{match['package']}-die-{match['die']}"


def _read_max_range_uj(zone_dir: Path) -> tuple[int | None, str]:
    path = zone_dir / "max_energy_range_uj"
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read {path}: {getattr(e, 'strerror', None) or e}"
    try:
        value = int(text)
    except ValueError:
        return None, f"{path} is not an integer: {text[:40]!r}"
    if value <= 0:
        return None, f"{path} is not positive: {value}"
    return value, ""


def _energy_unit_j(max_energy_range_uj: int) -> float:
    """The counter's step in joules: 61.0 uJ on most Intel parts, 15.3 uJ on AMD Zen.

    The kernel reports ``max_energy_range_uj`` as the 32-bit counter mask times the energy unit
    (``intel_rapl_common.c``: ENERGY_STATUS_MASK scaled to uJ), so dividing recovers the unit.
    ``energy_uj`` is an integer, so the step is never below 1 uJ.
    """
    unit_j = max_energy_range_uj / 0xFFFFFFFF / 1e6
    if not 1e-7 < unit_j < 1e-2:  # not a 32-bit counter as we know it
        return FALLBACK_RESOLUTION_J
    return max(unit_j, 1e-6)


def _tree_probe(reason: str) -> Probe:
    return Probe("cpu-package:*", "rapl", SensorKind.COUNTER, reason=reason, remedy=_REMEDY_NO_TREE)


def _root_only(unavailable: Probe, root: Path) -> Probe:
    unavailable.reason = _REASON_ROOT_ONLY
    unavailable.remedy = (
        "Either run greenbench as root; or make the counters readable, accepting the side "
        f"channel on a shared machine: `sudo chmod a+r {root}/intel-rapl*:*/energy_uj` (until "
        'reboot) or, to keep it, a udev rule: `echo \'ACTION=="add", SUBSYSTEM=="powercap", '
        'RUN+="/bin/chmod a+r /sys%p/energy_uj"\' | sudo tee '
        "/etc/udev/rules.d/70-rapl-read.rules`; or run a privileged helper that reads the "
        "counters and serves them to greenbench."
    )
    return unavailable


def _mark_duplicate(found: Probe, zone: _Zone, counted: _Zone, zones: dict[str, _Zone]) -> None:
    """Turn ``found`` into an unavailable probe: its domain is already read from ``counted``."""
    if isinstance(found.sensor, RaplSensor):
        found.sensor.close()
    found.sensor = None
    found.reason = f"duplicate of {counted.dir_name}"
    if zone.control == counted.control and (zone.is_die(zones) or counted.is_die(zones)):
        found.reason += " (AMD RAPL counters are package-wide: every die zone reads the same one)"
    found.remedy = "none needed: this domain is read from the other zone"


@functools.cache
def _cpu_vendor() -> str | None:
    """``vendor_id`` from /proc/cpuinfo (first CPU only), or None when unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "vendor_id":
                    return value.strip()
                if not line.strip():  # end of the first CPU's block
                    return None
    except OSError:
        return None
    return None
