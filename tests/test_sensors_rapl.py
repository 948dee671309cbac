"""RAPL through powercap, on fake sysfs trees built in tmp_path (see powercap_fixtures)."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from greenbench.sensors import rapl
from greenbench.sensors.base import Probe, SensorKind, SensorReadError, unwrap_delta_j
from tests.powercap_fixtures import (
    AMD_MAX_ENERGY_RANGE_UJ,
    INTEL_MAX_ENERGY_RANGE_UJ,
    PowercapTree,
    amd_package,
    intel_package,
    make_powercap_tree,
    psys,
    subzone,
)

INTEL_WRAP_J = INTEL_MAX_ENERGY_RANGE_UJ / 1e6
AMD_WRAP_J = AMD_MAX_ENERGY_RANGE_UJ / 1e6


def by_domain(probes: list[Probe]) -> dict[str, Probe]:
    """The probe for each domain: the available one if any (never more than one)."""
    available = [p.domain for p in probes if p.available]
    assert len(available) == len(set(available)), f"a domain is counted twice: {available}"
    found: dict[str, Probe] = {}
    for p in probes:
        if p.available or p.domain not in found:
            found[p.domain] = p
    return found


def sensor_of(probe: Probe) -> rapl.RaplSensor:
    assert probe.available, probe.reason
    assert isinstance(probe.sensor, rapl.RaplSensor)
    return probe.sensor


@pytest.fixture
def two_socket_intel(tmp_path: Path) -> PowercapTree:
    tree = make_powercap_tree(tmp_path, packages=[intel_package(0), intel_package(1)])
    for n, zone_id in enumerate(sorted(tree.zones)):
        tree.set_energy_uj(zone_id, 1_000_000 * (n + 1) + 250_000)
    return tree


# --- discovery and naming -------------------------------------------------------------------


def test_every_intel_zone_is_found_once_with_domain_and_part_of(two_socket_intel):
    probes = rapl.probe(two_socket_intel.root, cpu_vendor="GenuineIntel")

    assert [(p.domain, p.sensor.part_of if p.sensor else "-") for p in probes] == [
        ("cpu-package:0", None),
        ("cpu-core:0", "cpu-package:0"),
        ("cpu-uncore:0", "cpu-package:0"),
        ("dram:0", None),
        ("cpu-package:1", None),
        ("cpu-core:1", "cpu-package:1"),
        ("cpu-uncore:1", "cpu-package:1"),
        ("dram:1", None),
    ]
    assert {p.source for p in probes} == {"rapl"}
    assert all(p.kind is SensorKind.COUNTER for p in probes)
    assert [p.details["zone"].rsplit("/", 1)[-1] for p in probes] == [
        "intel-rapl:0",
        "intel-rapl:0:0",
        "intel-rapl:0:1",
        "intel-rapl:0:2",
        "intel-rapl:1",
        "intel-rapl:1:0",
        "intel-rapl:1:1",
        "intel-rapl:1:2",
    ]


def test_domain_comes_from_the_name_file_not_the_index(tmp_path):
    tree = make_powercap_tree(tmp_path, packages=[intel_package(0, subzones=("dram", "core"))])
    tree.set_energy_uj("intel-rapl:0:0", 7_000_000)  # dram sits at index 0 here
    tree.set_energy_uj("intel-rapl:0:1", 3_000_000)

    found = by_domain(rapl.probe(tree.root))

    assert sensor_of(found["dram:0"]).read_value() == 7.0
    assert sensor_of(found["dram:0"]).zone_dir.name == "intel-rapl:0:0"
    assert sensor_of(found["cpu-core:0"]).read_value() == 3.0
    assert sensor_of(found["cpu-core:0"]).part_of == "cpu-package:0"
    assert "cpu-uncore:0" not in found


def test_walking_the_devices_tree_finds_the_same_zones(two_socket_intel):
    from_class = rapl.probe(two_socket_intel.root)
    from_devices = rapl.probe(two_socket_intel.devices_root)

    assert [p.domain for p in from_devices] == [p.domain for p in from_class]
    assert len(from_class) == 8
    # Under the class directory every zone is read through its flat link.
    assert all(Path(p.details["zone"]).parent == two_socket_intel.root for p in from_class)


def test_amd_packages_without_dram(tmp_path):
    tree = make_powercap_tree(
        tmp_path, packages=[amd_package(0, energy_uj=12_345_678), amd_package(1, energy_uj=42)]
    )

    probes = rapl.probe(tree.root, cpu_vendor="AuthenticAMD")

    assert [p.domain for p in probes] == ["cpu-package:0", "cpu-package:1"]
    sensor = sensor_of(probes[0])
    assert sensor.wrap_j == pytest.approx(65_532.610987)
    assert sensor.read_value() == pytest.approx(12.345678)
    assert sensor_of(probes[1]).read_value() == pytest.approx(42e-6)
    assert sensor.info()["cpu_vendor"] == "AuthenticAMD"


def test_amd_die_zones_mirror_one_package_counter_and_count_once(tmp_path):
    tree = make_powercap_tree(
        tmp_path,
        packages=[
            amd_package(0, die=0, subzones=("core",)),
            amd_package(0, die=1, subzones=("core",)),
            amd_package(1, die=0),
            amd_package(1, die=1),
        ],
    )

    probes = rapl.probe(tree.root, cpu_vendor="AuthenticAMD")

    assert [(p.domain, p.available) for p in probes] == [
        ("cpu-package:0", True),
        ("cpu-core:0", True),
        ("cpu-package:0", False),
        ("cpu-core:0", False),
        ("cpu-package:1", True),
        ("cpu-package:1", False),
    ]
    assert probes[2].reason.startswith("duplicate of intel-rapl:0 ")
    assert "package-wide" in probes[2].reason
    assert probes[3].reason.startswith("duplicate of intel-rapl:0:0")


def test_intel_die_zones_are_distinct_domains(tmp_path):
    tree = make_powercap_tree(
        tmp_path,
        packages=[
            intel_package(0, subzones=("dram",)),
            intel_package(0, subzones=("dram",), index=1),
        ],
    )
    tree.write("intel-rapl:0", "name", "package-0-die-0\n")
    tree.write("intel-rapl:1", "name", "package-0-die-1\n")

    probes = rapl.probe(tree.root, cpu_vendor="GenuineIntel")

    assert [(p.domain, p.available) for p in probes] == [
        ("cpu-package:0-die-0", True),
        ("dram:0-die-0", True),
        ("cpu-package:0-die-1", True),
        ("dram:0-die-1", True),
    ]


def test_psys_is_platform_and_kept_out_of_totals(tmp_path):
    tree = make_powercap_tree(tmp_path, packages=[intel_package(0, subzones=()), psys(index=1)])

    probes = rapl.probe(tree.root)

    assert [p.domain for p in probes] == ["cpu-package:0", "platform:0"]
    platform = sensor_of(probes[1])
    assert platform.part_of == "platform"
    assert platform.max_power_w == rapl.ASSUMED_MAX_PLATFORM_POWER_W


def test_mmio_duplicate_of_msr_package_is_reported_not_counted(tmp_path):
    tree = make_powercap_tree(
        tmp_path, packages=[intel_package(0)], mmio=[intel_package(0, subzones=())]
    )

    probes = rapl.probe(tree.root)

    mmio = [p for p in probes if p.source == "rapl-mmio"]
    assert len(mmio) == 1
    assert mmio[0].domain == "cpu-package:0"
    assert not mmio[0].available
    assert mmio[0].reason == "duplicate of intel-rapl:0"
    assert sensor_of(by_domain(probes)["cpu-package:0"]).source == "rapl"


def test_mmio_zone_is_used_when_the_msr_twin_is_unreadable(tmp_path):
    tree = make_powercap_tree(
        tmp_path,
        packages=[intel_package(0, subzones=())],
        mmio=[intel_package(0, subzones=(), energy_uj=2_500_000)],
    )
    tree.write("intel-rapl:0", "energy_uj", "")

    probes = rapl.probe(tree.root)

    assert [(p.source, p.available) for p in probes] == [("rapl", False), ("rapl-mmio", True)]
    assert sensor_of(probes[1]).read_value() == 2.5


def test_unknown_zone_name_is_reported_and_not_read(tmp_path):
    tree = make_powercap_tree(
        tmp_path,
        packages=[
            intel_package(
                0,
                subzones=(
                    "core",
                    subzone("gpu-tile"),
                ),
            )
        ],
    )

    probes = rapl.probe(tree.root)

    unknown = probes[-1]
    assert unknown.domain == "unknown:intel-rapl:0:1"
    assert not unknown.available
    assert "'gpu-tile'" in unknown.reason


# --- missing trees and unreadable or garbled files ------------------------------------------


def test_missing_root_gives_one_probe_that_says_why_and_what_to_do(tmp_path):
    probes = rapl.probe(tmp_path / "no-such-dir")

    assert len(probes) == 1
    (p,) = probes
    assert (p.domain, p.source, p.available) == ("cpu-package:*", "rapl", False)
    assert "no powercap tree" in p.reason
    assert "intel_rapl_msr" in p.remedy and "intel_rapl_common" in p.remedy
    assert rapl.ROOT_ENV in p.remedy


def test_root_without_rapl_zones(tmp_path):
    (tmp_path / "dtpm").mkdir()

    (p,) = rapl.probe(tmp_path)

    assert not p.available
    assert p.reason == f"no RAPL zones under {tmp_path}"


def test_root_env_var_is_honoured(two_socket_intel, monkeypatch):
    monkeypatch.setenv(rapl.ROOT_ENV, str(two_socket_intel.root))
    assert len([p for p in rapl.probe() if p.available]) == 8

    monkeypatch.setenv(rapl.ROOT_ENV, str(two_socket_intel.root / "nowhere"))
    (missing,) = rapl.probe()
    assert str(two_socket_intel.root / "nowhere") in missing.reason


def emulate_non_root_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make os.open refuse files with no read bit, as the kernel does for a non-root user.

    Tests run as root here, where chmod 000 stops nothing; this makes them mean the same for
    root and non-root.
    """
    real_open = os.open

    def open_as_user(path: str | os.PathLike[str], flags: int, *args: Any, **kwargs: Any) -> int:
        if stat.S_IMODE(os.stat(path).st_mode) & 0o444 == 0:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_as_user)


def assert_root_only(p: Probe, root: Path) -> None:
    assert not p.available
    assert "root only" in p.reason and "5.10" in p.reason
    assert "as root" in p.remedy
    assert f"chmod a+r {root}/intel-rapl*:*/energy_uj" in p.remedy
    assert "udev" in p.remedy
    assert "privileged helper" in p.remedy


def test_root_only_energy_uj_gives_reason_and_all_remedies(two_socket_intel, monkeypatch):
    (two_socket_intel.zone("intel-rapl:0") / "energy_uj").chmod(0)
    emulate_non_root_open(monkeypatch)

    probes = rapl.probe(two_socket_intel.root)

    assert_root_only(probes[0], two_socket_intel.root)
    assert [p.available for p in probes] == [False] + [True] * 7


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_root_only_energy_uj_with_real_permissions(two_socket_intel):
    (two_socket_intel.zone("intel-rapl:1:2") / "energy_uj").chmod(0)

    probes = rapl.probe(two_socket_intel.root)

    assert_root_only(probes[-1], two_socket_intel.root)


def test_permission_error_on_the_first_read_also_says_root_only(two_socket_intel, monkeypatch):
    # Some filesystems let the open through and refuse the read instead.
    def refuse(fd: int, n: int, offset: int) -> bytes:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "pread", refuse)

    probes = rapl.probe(two_socket_intel.root)

    assert len(probes) == 8
    for p in probes:
        assert_root_only(p, two_socket_intel.root)


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("max_energy_range_uj", "n/a\n", "max_energy_range_uj is not an integer: 'n/a'"),
        ("max_energy_range_uj", "0\n", "max_energy_range_uj is not positive: 0"),
        ("max_energy_range_uj", None, "cannot read"),
        ("energy_uj", "12x\n", "energy_uj is not an integer: b'12x\\n'"),
        ("energy_uj", "", "energy_uj is not an integer: b''"),
        ("energy_uj", "-5\n", "energy_uj is negative: -5"),
        ("energy_uj", None, "cannot open"),
        ("name", None, "cannot read"),
    ],
)
def test_missing_or_garbled_files_make_that_zone_unavailable(tmp_path, filename, content, expected):
    tree = make_powercap_tree(tmp_path, packages=[intel_package(0, subzones=("dram",))])
    path = tree.zone("intel-rapl:0:0") / filename
    if content is None:
        path.unlink()
    else:
        path.write_text(content)

    probes = rapl.probe(tree.root)

    assert probes[0].available
    assert not probes[1].available
    assert expected in probes[1].reason
    assert probes[1].remedy


# --- reading and wraparound -----------------------------------------------------------------


def test_reads_return_raw_energy_in_joules(two_socket_intel):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])

    assert package.read_value() == 1.25
    two_socket_intel.set_energy_uj("intel-rapl:0", 262_143_328_849)
    reading = package.read()
    assert reading.value == 262_143.328849
    assert reading.t_s > 0


def test_wrap_inside_a_window_is_added_back(two_socket_intel):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])
    two_socket_intel.set_energy_uj("intel-rapl:0", INTEL_MAX_ENERGY_RANGE_UJ - 1_500_000)
    before = package.read_value()
    two_socket_intel.set_energy_uj("intel-rapl:0", 2_000_000)
    after = package.read_value()

    assert after < before
    assert unwrap_delta_j(before, after, package.wrap_j) == pytest.approx(3.5, abs=1e-6)


def test_amd_wrap_inside_a_window(tmp_path):
    tree = make_powercap_tree(tmp_path, packages=[amd_package(0)])
    (probe,) = rapl.probe(tree.root, cpu_vendor="AuthenticAMD")
    package = sensor_of(probe)
    tree.set_energy_uj("intel-rapl:0", AMD_MAX_ENERGY_RANGE_UJ - 10)
    before = package.read_value()
    tree.set_energy_uj("intel-rapl:0", 90)

    assert unwrap_delta_j(before, package.read_value(), package.wrap_j) == pytest.approx(
        100e-6, abs=1e-9
    )


def test_unwrap_delta_without_wrap_is_a_plain_difference():
    assert unwrap_delta_j(10.0, 12.5, INTEL_WRAP_J) == 2.5
    assert unwrap_delta_j(10.0, 10.0, INTEL_WRAP_J) == 0.0
    assert unwrap_delta_j(65_000.0, 1.0, AMD_WRAP_J) == pytest.approx(533.610987)
    with pytest.raises(ValueError):
        unwrap_delta_j(5.0, 1.0, 0.0)


def test_failed_read_raises_with_path_and_errno_text(two_socket_intel, monkeypatch):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])

    def io_error(fd: int, n: int, offset: int) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "pread", io_error)
    with pytest.raises(SensorReadError) as raised:
        package.read_value()

    message = str(raised.value)
    assert str(two_socket_intel.root / "intel-rapl:0" / "energy_uj") in message
    assert "Input/output error" in message and f"errno {errno.EIO}" in message


def test_garbage_at_read_time_raises_instead_of_returning_zero(two_socket_intel):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])
    two_socket_intel.write("intel-rapl:0", "energy_uj", "\n")

    with pytest.raises(SensorReadError, match="not an integer"):
        package.read_value()


def test_closed_sensor_raises(two_socket_intel):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])
    package.close()
    package.close()  # twice is harmless

    with pytest.raises(SensorReadError, match="errno"):
        package.read_value()


def test_reads_from_many_threads_agree(two_socket_intel):
    package = sensor_of(rapl.probe(two_socket_intel.root)[0])
    values: list[float] = []
    lock = threading.Lock()

    def sample() -> None:
        for _ in range(200):
            v = package.read_value()
            with lock:
                values.append(v)

    threads = [threading.Thread(target=sample) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert values == [1.25] * 800


# --- wrap guarantee and metadata ------------------------------------------------------------


def test_max_poll_interval_sees_every_wrap_at_the_assumed_power(tmp_path):
    tree = make_powercap_tree(
        tmp_path, packages=[intel_package(0, subzones=()), amd_package(1, index=1)]
    )
    intel, amd = (sensor_of(p) for p in rapl.probe(tree.root))

    assert intel.max_power_w == amd.max_power_w == 1000.0
    # half of range / power: 262,143.33 J / 1000 W / 2 and 65,532.61 J / 1000 W / 2
    assert intel.max_poll_interval_s() == pytest.approx(131.0717, abs=1e-4)
    assert amd.max_poll_interval_s() == pytest.approx(32.7663, abs=1e-4)
    for sensor in (intel, amd):
        interval = sensor.max_poll_interval_s()
        assert interval is not None
        assert sensor.max_power_w * interval < sensor.wrap_j


def test_resolution_is_the_energy_unit_behind_the_range(tmp_path):
    tree = make_powercap_tree(
        tmp_path, packages=[intel_package(0, subzones=()), amd_package(1, index=1)]
    )
    intel, amd = (sensor_of(p) for p in rapl.probe(tree.root))

    assert intel.resolution == pytest.approx(61.035e-6, rel=1e-6)  # the kernel keeps nJ
    assert amd.resolution == pytest.approx(15.2588e-6, rel=1e-4)  # 15.3 uJ
    assert intel.update_period_s == 0.001


def test_info_names_the_zone(two_socket_intel):
    dram = by_domain(rapl.probe(two_socket_intel.root, cpu_vendor="GenuineIntel"))["dram:1"]

    assert sensor_of(dram).info() == {
        "zone": str(two_socket_intel.root / "intel-rapl:1:2"),
        "zone_name": "dram",
        "max_energy_range_uj": INTEL_MAX_ENERGY_RANGE_UJ,
        "energy_unit_j": pytest.approx(61.035e-6, rel=1e-4),
        "cpu_vendor": "GenuineIntel",
    }
    assert dram.to_dict()["info"]["zone_name"] == "dram"
