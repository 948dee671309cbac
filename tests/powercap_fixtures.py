"""Fake Linux powercap trees for tests, laid out the way real machines lay them out.

The zones live nested under ``<base>/sys/devices/virtual/powercap/<control type>/``, and
``<base>/sys/class/powercap`` holds one relative link per control type and per zone (subzones
included), exactly like sysfs. Each zone has ``name``, ``energy_uj``, ``max_energy_range_uj``,
``enabled``, an empty ``power/`` directory and a ``subsystem`` link back to the class directory
(which a careless walker would loop through)::

    tree = make_powercap_tree(tmp_path, packages=[intel_package(0), intel_package(1)])
    tree.set_energy_uj("intel-rapl:0", 5_000_000)
    probes = rapl.probe(tree.root)

Zone indices follow list order unless a :class:`ZoneSpec` sets ``index``, so
``intel_package(0, subzones=("dram", "core"))`` puts ``dram`` at ``intel-rapl:0:0``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: ``max_energy_range_uj`` on Intel parts with a 61 uJ energy unit (about 262 kJ)
INTEL_MAX_ENERGY_RANGE_UJ = 262_143_328_850
#: ``max_energy_range_uj`` on AMD Zen, 15.3 uJ energy unit (about 65.5 kJ)
AMD_MAX_ENERGY_RANGE_UJ = 65_532_610_987


@dataclass
class ZoneSpec:
    """One zone to create. ``None`` leaves a file out; a ``str`` is written verbatim."""

    name: str | None
    energy_uj: int | str | None = 0
    max_energy_range_uj: int | str | None = INTEL_MAX_ENERGY_RANGE_UJ
    subzones: list[ZoneSpec] = field(default_factory=list)
    #: the number in the directory name; defaults to the position in its list
    index: int | None = None


def subzone(
    name: str,
    *,
    energy_uj: int | str | None = 0,
    max_energy_range_uj: int | str | None = INTEL_MAX_ENERGY_RANGE_UJ,
    index: int | None = None,
) -> ZoneSpec:
    return ZoneSpec(name, energy_uj, max_energy_range_uj, index=index)


def intel_package(
    package: int,
    *,
    subzones: Sequence[str | ZoneSpec] = ("core", "uncore", "dram"),
    energy_uj: int | str | None = 0,
    index: int | None = None,
) -> ZoneSpec:
    """``package-N`` with Intel's range and, by default, core, uncore and dram subzones."""
    return ZoneSpec(
        f"package-{package}",
        energy_uj,
        INTEL_MAX_ENERGY_RANGE_UJ,
        [s if isinstance(s, ZoneSpec) else subzone(s) for s in subzones],
        index=index,
    )


def amd_package(
    package: int,
    *,
    die: int | None = None,
    subzones: Sequence[str | ZoneSpec] = (),
    energy_uj: int | str | None = 0,
    index: int | None = None,
) -> ZoneSpec:
    """An AMD Zen package zone: AMD's range, no DRAM; ``die`` gives ``package-N-die-D``."""
    name = f"package-{package}" if die is None else f"package-{package}-die-{die}"
    return ZoneSpec(
        name,
        energy_uj,
        AMD_MAX_ENERGY_RANGE_UJ,
        [
            s
            if isinstance(s, ZoneSpec)
            else subzone(s, max_energy_range_uj=AMD_MAX_ENERGY_RANGE_UJ)
            for s in subzones
        ],
        index=index,
    )


def psys(*, energy_uj: int | str | None = 0, index: int | None = None) -> ZoneSpec:
    """The platform zone, a top-level sibling of the packages."""
    return ZoneSpec("psys", energy_uj, INTEL_MAX_ENERGY_RANGE_UJ, index=index)


@dataclass
class PowercapTree:
    #: the ``/sys/class/powercap`` equivalent: pass it to ``probe`` or GREENBENCH_POWERCAP_ROOT
    root: Path
    #: the ``/sys/devices/virtual/powercap`` equivalent (the same zones, nested)
    devices_root: Path
    #: zone directory name (``intel-rapl:0:2``) -> its real directory
    zones: dict[str, Path]

    def zone(self, zone_id: str) -> Path:
        return self.zones[zone_id]

    def write(self, zone_id: str, filename: str, text: str) -> None:
        """Rewrite a file in place (same inode, so an already open descriptor sees it)."""
        # "w" truncates the existing file rather than replacing it
        (self.zones[zone_id] / filename).write_text(text)

    def set_energy_uj(self, zone_id: str, microjoules: int) -> None:
        self.write(zone_id, "energy_uj", f"{microjoules}\n")


def make_powercap_tree(
    base: str | os.PathLike[str],
    packages: Sequence[ZoneSpec] = (),
    *,
    mmio: Sequence[ZoneSpec] = (),
) -> PowercapTree:
    """Build ``<base>/sys`` with an ``intel-rapl`` tree of ``packages`` (any top-level zones,
    ``psys`` included) and, when ``mmio`` is given, an ``intel-rapl-mmio`` tree."""
    sys_dir = Path(base) / "sys"
    class_dir = sys_dir / "class" / "powercap"
    devices_dir = sys_dir / "devices" / "virtual" / "powercap"
    class_dir.mkdir(parents=True, exist_ok=True)
    devices_dir.mkdir(parents=True, exist_ok=True)
    tree = PowercapTree(class_dir, devices_dir, {})
    for control_type, specs in (("intel-rapl", packages), ("intel-rapl-mmio", mmio)):
        if not specs:
            continue
        control_dir = devices_dir / control_type
        control_dir.mkdir()
        (control_dir / "enabled").write_text("1\n")
        _link(class_dir / control_type, control_dir)
        for position, spec in enumerate(specs):
            _make_zone(tree, control_dir, control_type, spec, position)
    return tree


def _make_zone(
    tree: PowercapTree, parent_dir: Path, parent_id: str, spec: ZoneSpec, position: int
) -> None:
    zone_id = f"{parent_id}:{position if spec.index is None else spec.index}"
    zone_dir = parent_dir / zone_id
    zone_dir.mkdir()
    if spec.name is not None:
        (zone_dir / "name").write_text(f"{spec.name}\n")
    for filename, value in (
        ("energy_uj", spec.energy_uj),
        ("max_energy_range_uj", spec.max_energy_range_uj),
    ):
        if value is not None:
            (zone_dir / filename).write_text(f"{value}\n" if isinstance(value, int) else value)
    (zone_dir / "enabled").write_text("0\n")
    (zone_dir / "power").mkdir()
    _link(zone_dir / "subsystem", tree.root)
    _link(tree.root / zone_id, zone_dir)
    tree.zones[zone_id] = zone_dir
    for child_position, child in enumerate(spec.subzones):
        _make_zone(tree, zone_dir, zone_id, child, child_position)


def _link(link: Path, target: Path) -> None:
    """A relative symlink, as sysfs makes them."""
    link.symlink_to(os.path.relpath(target, link.parent))
