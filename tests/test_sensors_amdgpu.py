"""AMD SMI sensors, driven by the amdsmi stand-in in fake_amdsmi.py (amdsmi is not installed)."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import math
import sys

import pytest

from greenbench.sensors import amdgpu
from greenbench.sensors.amdgpu import (
    AmdSmiEnergySensor,
    AmdSmiPowerSensor,
    gpu_facts,
    probe,
)
from greenbench.sensors.base import SensorKind, SensorReadError, counter_agrees
from tests import fake_amdsmi
from tests.fake_amdsmi import NA, AmdSmiRetCode, FakeAmdGpu, install, make_amdsmi

VISIBILITY = ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VISIBILITY:
        monkeypatch.delenv(variable, raising=False)


def three_gpus() -> list[FakeAmdGpu]:
    return [FakeAmdGpu(uuid=f"uuid-{i}", energy_ticks=1_000 * (i + 1), hip_id=i) for i in range(3)]


def uuids_of(probes: list) -> list[str]:
    return [p.sensor.info()["uuid"] for p in probes if p.sensor is not None]


# --- counter, old key, power fallback --------------------------------------------------------


def test_counter_path_reads_joules_and_carries_a_power_cross_check(monkeypatch):
    gpu = FakeAmdGpu(energy_ticks=2_000_000, counter_resolution_uj=15.3)
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert (found.domain, found.source, found.kind) == ("gpu:0", "amdsmi", SensorKind.COUNTER)
    sensor = found.sensor
    assert isinstance(sensor, AmdSmiEnergySensor)
    assert sensor.read_value() == pytest.approx(30.6)  # 2e6 ticks x 15.3 µJ
    gpu.energy_ticks = 3_000_000
    assert sensor.read().value == pytest.approx(45.9)
    assert sensor.resolution == pytest.approx(15.3e-6)
    assert sensor.wrap_j is None

    check = sensor.cross_check
    assert isinstance(check, AmdSmiPowerSensor)
    assert (check.domain, check.kind, check.power_field) == (
        "gpu:0",
        SensorKind.POWER,
        "current_socket_power",
    )
    gpu.power_info["current_socket_power"] = 512
    assert check.read_value() == 512.0


def test_counter_under_its_pre_rocm_6_4_key_reads_the_same(monkeypatch):
    gpu = FakeAmdGpu(energy_ticks=1_000_000, counter_resolution_uj=15.259, legacy_energy_key=True)
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert found.kind is SensorKind.COUNTER
    assert found.sensor.read_value() == pytest.approx(15.259)


def test_no_counter_falls_back_to_socket_power(monkeypatch):
    install(monkeypatch, make_amdsmi([FakeAmdGpu(energy_ticks=None)]))

    [found] = probe()

    assert found.kind is SensorKind.POWER
    assert isinstance(found.sensor, AmdSmiPowerSensor)
    assert found.sensor.read_value() == 350.0
    assert found.sensor.cross_check is None
    assert "NOT_SUPPORTED" in found.details["energy_counter"]
    assert found.sensor.info()["method"] == "power"


def test_average_socket_power_is_used_where_current_is_not_reported(monkeypatch):
    gpu = FakeAmdGpu(
        energy_ticks=None,
        power_info={"average_socket_power": 210, "current_socket_power": NA, "gfx_voltage": 900},
    )
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert found.sensor.power_field == "average_socket_power"
    assert found.sensor.read_value() == 210.0


def test_counter_without_power_has_no_cross_check(monkeypatch):
    gpu = FakeAmdGpu(power_info={"current_socket_power": NA, "average_socket_power": NA})
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert found.kind is SensorKind.COUNTER
    assert found.sensor.cross_check is None
    assert "current_socket_power='N/A'" in found.details["power"]


def test_zero_watts_counts_as_not_reported(monkeypatch):
    gpu = FakeAmdGpu(energy_ticks=None, power_info={"average_socket_power": 0})
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert not found.available
    assert "neither an energy counter nor socket power" in found.reason
    assert found.details["gpu"]["name"] == "AMD Instinct MI300X"


# --- read failures ---------------------------------------------------------------------------


def test_a_failed_counter_read_raises_instead_of_returning_zero(monkeypatch):
    gpu = FakeAmdGpu()
    install(monkeypatch, make_amdsmi([gpu]))
    [found] = probe()

    gpu.errors["amdsmi_get_energy_count"] = AmdSmiRetCode.ERR_NO_PERM

    with pytest.raises(SensorReadError, match=r"gpu:0 \(AMD SMI GPU 0\).*code: 10"):
        found.sensor.read()


def test_power_turning_to_na_raises(monkeypatch):
    gpu = FakeAmdGpu(energy_ticks=None)
    install(monkeypatch, make_amdsmi([gpu]))
    [found] = probe()

    gpu.power_info["current_socket_power"] = NA

    with pytest.raises(SensorReadError, match="current_socket_power='N/A'"):
        found.sensor.read_value()


# --- not installed, failing to load, failing to start ----------------------------------------


def test_missing_amdsmi_gives_an_unavailable_probe(monkeypatch):
    install(monkeypatch, None)

    [found] = probe()

    assert (found.domain, found.source, found.available) == ("gpu:*", "amdsmi", False)
    assert found.reason.startswith("amdsmi not installed")
    assert "ROCm version" in found.remedy


class _BrokenAmdSmiFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``amdsmi`` and fails to load it the way a missing libamd_smi.so does."""

    def find_spec(self, name, path=None, target=None):
        if name == "amdsmi":
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        print("Unable to find libamd_smi.so")
        raise OSError("libamd_smi.so: cannot open shared object file")


def test_amdsmi_that_fails_to_load_is_reported_quietly(monkeypatch, capsys):
    amdgpu._forget_init()
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenAmdSmiFinder(), *sys.meta_path])

    [found] = probe()

    assert not found.available
    assert found.reason == (
        "amdsmi is installed but failed to load: OSError: "
        "libamd_smi.so: cannot open shared object file"
    )
    assert "ROCM_PATH" in found.remedy
    assert capsys.readouterr().out == ""


def test_init_failure_gives_an_unavailable_probe_and_init_runs_once(monkeypatch):
    fake = make_amdsmi(init_error=AmdSmiRetCode.DRIVER_NOT_LOADED)
    install(monkeypatch, fake)

    [found] = probe()
    probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert found.reason == (
        "AMD SMI could not start: An error occured with code: 34"
        "(AMDSMI_STATUS_DRIVER_NOT_LOADED) (AmdSmiLibraryException)"
    )
    assert "amdgpu kernel driver" in found.remedy
    assert fake.init_calls == 1


def test_no_gpus_says_so(monkeypatch):
    install(monkeypatch, make_amdsmi([]))

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "lists no AMD GPU" in found.reason


def test_real_probe_on_this_machine_reports_instead_of_raising(monkeypatch):
    amdgpu._forget_init()
    monkeypatch.setattr(amdgpu, "_init_state", None)
    try:
        import amdsmi  # noqa: F401
    except Exception:
        [found] = probe()
        assert (found.domain, found.available) == ("gpu:*", False)
        assert found.reason.startswith(("amdsmi not installed", "amdsmi is installed but"))
    else:
        assert all(p.available or (p.reason and p.remedy) for p in probe())


# --- visibility ------------------------------------------------------------------------------


def test_all_gpus_visible_by_default(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))

    probes = probe()

    assert [p.domain for p in probes] == ["gpu:0", "gpu:1", "gpu:2"]
    assert uuids_of(probes) == ["uuid-0", "uuid-1", "uuid-2"]


def test_hip_visible_devices_selects_and_reorders(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "2,0")

    probes = probe()

    assert [p.domain for p in probes] == ["gpu:0", "gpu:1"]
    assert uuids_of(probes) == ["uuid-2", "uuid-0"]
    assert probes[0].sensor.info()["amdsmi_index"] == 2
    assert probes[0].sensor.read_value() == pytest.approx(3_000 * 15.3e-6)


def test_hip_indices_count_within_what_rocr_left(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "1,2")
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")

    assert uuids_of(probe()) == ["uuid-2"]


def test_cuda_visible_devices_counts_when_hip_visible_devices_is_unset(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert uuids_of(probe()) == ["uuid-1"]

    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "2")
    assert uuids_of(probe()) == ["uuid-2"]


def test_hip_order_differing_from_amd_smi_order_is_followed(monkeypatch):
    gpus = three_gpus()
    for gpu, hip_id in zip(gpus, (2, 0, 1), strict=True):
        gpu.hip_id = hip_id
    install(monkeypatch, make_amdsmi(gpus))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "0,2")

    probes = probe()

    # HIP device 0 is AMD SMI GPU 1, HIP device 2 is AMD SMI GPU 0
    assert uuids_of(probes) == ["uuid-1", "uuid-0"]
    assert [p.sensor.info()["amdsmi_index"] for p in probes] == [1, 0]
    assert all("warning" not in p.details for p in probes)


def test_without_hip_ids_the_orders_are_assumed_equal_and_the_probe_warns(monkeypatch):
    gpus = three_gpus()
    for gpu in gpus:
        gpu.hip_id = None
    install(monkeypatch, make_amdsmi(gpus))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "2")

    [found] = probe()

    assert found.sensor.info()["uuid"] == "uuid-2"
    assert "ROCm 6.4" in found.details["warning"]


def test_a_uuid_entry_is_reported_not_guessed(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("ROCR_VISIBLE_DEVICES", "GPU-4b2c3f0e7a1d9e55")

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "is a UUID" in found.reason and "ROCR_VISIBLE_DEVICES" in found.reason


def test_an_invalid_index_ends_the_list_and_is_reported(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1,5,0")

    probes = probe()

    assert uuids_of(probes) == ["uuid-1"]
    [problem] = [p for p in probes if p.domain == "gpu:*"]
    assert "'5' is not an index below 3" in problem.reason
    assert "'0'" in problem.reason


def test_empty_visibility_means_no_gpu(monkeypatch):
    install(monkeypatch, make_amdsmi(three_gpus()))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "")

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "set but empty" in found.reason


# --- facts -----------------------------------------------------------------------------------


def test_info_records_the_gpu_and_how_it_is_measured(monkeypatch):
    gpu = FakeAmdGpu(uuid="uuid-x", power_cap_uw=750_000_000, gfx_clock_mhz=2100)
    install(monkeypatch, make_amdsmi([gpu]))

    [found] = probe()

    assert found.sensor.info() == {
        "name": "AMD Instinct MI300X",
        "uuid": "uuid-x",
        "driver_version": "6.8.5",
        "power_limit_w": 750.0,
        "gfx_clock_mhz": 2100,
        "memory_clock_mhz": 1300,
        "amdsmi_index": 0,
        "method": "counter",
        "counter_resolution_uj": pytest.approx(15.3),
    }
    assert found.sensor.cross_check.info()["power_field"] == "current_socket_power"


def test_fields_amd_smi_refuses_are_left_out(monkeypatch):
    gpu = FakeAmdGpu(power_cap_uw=None, errors={"amdsmi_get_clock_info": AmdSmiRetCode.ERR_INVAL})
    install(monkeypatch, make_amdsmi([gpu]))

    info = probe()[0].sensor.info()

    assert {"power_limit_w", "gfx_clock_mhz", "memory_clock_mhz"}.isdisjoint(info)
    assert info["name"] == "AMD Instinct MI300X"


def test_gpu_facts_cover_every_visible_gpu(monkeypatch):
    gpus = three_gpus()
    gpus[1].energy_ticks = None
    install(monkeypatch, make_amdsmi(gpus))
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1,2")

    facts = gpu_facts()

    assert [(f["domain"], f["uuid"], f["method"]) for f in facts] == [
        ("gpu:0", "uuid-1", "power"),
        ("gpu:1", "uuid-2", "counter"),
    ]


def test_gpu_facts_are_empty_without_amdsmi(monkeypatch):
    install(monkeypatch, None)
    assert gpu_facts() == []


# --- counter_agrees --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counter_j", "integral_j", "tolerance", "agrees"),
    [
        (1000.0, 1000.0, 0.1, True),
        (1099.0, 1000.0, 0.1, True),
        (901.0, 1000.0, 0.1, True),
        (1101.0, 1000.0, 0.1, False),
        (0.0, 1000.0, 0.1, False),  # a counter that stood still
        (1010.0, 1000.0, 0.005, False),
        (0.0, 0.0, 0.1, True),
        (5.0, 0.0, 0.1, False),
        (-10.0, 1000.0, 0.1, False),  # a counter that went backwards
        (math.nan, 1000.0, 0.1, False),
        (1000.0, math.inf, 0.1, False),
    ],
)
def test_counter_agrees(counter_j, integral_j, tolerance, agrees):
    assert counter_agrees(counter_j, integral_j, tolerance) is agrees


def test_counter_agrees_rejects_a_negative_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        counter_agrees(1.0, 1.0, -0.1)


def test_the_stand_in_is_used_through_sys_modules(monkeypatch):
    fake = make_amdsmi()
    install(monkeypatch, fake)
    probe()
    assert sys.modules["amdsmi"] is fake and fake.init_calls == 1
    assert isinstance(fake.AmdSmiLibraryException(2), fake_amdsmi.AmdSmiException)
