"""NVML sensors, driven by the pynvml stand-in in fake_pynvml.py (this machine has no GPU)."""

from __future__ import annotations

import ctypes
import sys
import threading

import pytest

from greenbench.sensors import nvml
from greenbench.sensors.base import SensorKind, SensorReadError
from greenbench.sensors.nvml import NvmlEnergySensor, NvmlPowerSensor, gpu_facts, probe
from tests import fake_pynvml
from tests.fake_pynvml import FakeGpu, install, make_pynvml

UUID_A = "GPU-aaaaaaaa-1111-1111-1111-111111111111"
UUID_B = "GPU-bbbbbbbb-2222-2222-2222-222222222222"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)


def two_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(uuid=UUID_A, energy_mj=1_000, power_mw=100_000),
        FakeGpu(uuid=UUID_B, energy_mj=2_000, power_mw=200_000),
    ]


def gpu_probes(probes: list) -> dict:
    return {p.domain: p for p in probes if p.domain != nvml.ALL_GPUS}


# --- the counter and the polled path ---------------------------------------------------------


def test_counter_path_reads_joules_and_carries_a_power_cross_check(monkeypatch):
    gpu = FakeGpu(energy_mj=123_456, power_mw=250_500)
    install(monkeypatch, make_pynvml([gpu]))

    [found] = probe()

    assert (found.domain, found.source, found.kind) == ("gpu:0", "nvml", SensorKind.COUNTER)
    sensor = found.sensor
    assert isinstance(sensor, NvmlEnergySensor)
    assert sensor.kind is SensorKind.COUNTER
    assert sensor.read_value() == pytest.approx(123.456)
    gpu.energy_mj = 124_457
    assert sensor.read().value == pytest.approx(124.457)
    assert sensor.wrap_j is None
    assert sensor.resolution == 1e-3
    assert sensor.update_period_s == 0.1

    check = sensor.cross_check
    assert isinstance(check, NvmlPowerSensor)
    assert (check.domain, check.kind) == ("gpu:0", SensorKind.POWER)
    assert check.read_value() == pytest.approx(250.5)


def test_polled_power_when_total_energy_is_not_supported(monkeypatch):
    install(monkeypatch, make_pynvml([FakeGpu(energy_mj=None, power_mw=87_500)]))

    [found] = probe()

    assert found.kind is SensorKind.POWER
    assert isinstance(found.sensor, NvmlPowerSensor)
    assert found.sensor.read_value() == pytest.approx(87.5)
    assert found.sensor.resolution == 1e-3
    assert found.sensor.cross_check is None
    assert found.sensor.info()["method"] == "power"


def test_a_driver_without_the_energy_function_falls_back_to_power(monkeypatch):
    missing = fake_pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
    gpu = FakeGpu(errors={"nvmlDeviceGetTotalEnergyConsumption": missing})
    install(monkeypatch, make_pynvml([gpu]))

    [found] = probe()

    assert found.kind is SensorKind.POWER


def test_counter_without_power_reading_has_no_cross_check(monkeypatch):
    install(monkeypatch, make_pynvml([FakeGpu(energy_mj=5_000, power_mw=None)]))

    [found] = probe()

    assert found.kind is SensorKind.COUNTER
    assert found.sensor is not None and found.sensor.cross_check is None
    assert found.sensor.read_value() == pytest.approx(5.0)


def test_gpu_with_neither_energy_nor_power_is_unavailable(monkeypatch):
    install(monkeypatch, make_pynvml([FakeGpu(energy_mj=None, power_mw=None)]))

    [found] = probe()

    assert not found.available
    assert "neither total energy nor power" in found.reason
    assert found.details["gpu"]["name"] == "NVIDIA A100-SXM4-40GB"


# --- read failures ---------------------------------------------------------------------------


def test_a_failed_counter_read_raises_instead_of_returning_zero(monkeypatch):
    gpu = FakeGpu()
    install(monkeypatch, make_pynvml([gpu]))
    [found] = probe()
    assert found.sensor is not None

    gpu.errors["nvmlDeviceGetTotalEnergyConsumption"] = fake_pynvml.NVML_ERROR_GPU_IS_LOST

    with pytest.raises(SensorReadError, match=r"gpu:0 \(NVML GPU 0\).*GPU is lost"):
        found.sensor.read()


def test_a_failed_power_read_raises(monkeypatch):
    gpu = FakeGpu(energy_mj=None)
    install(monkeypatch, make_pynvml([gpu]))
    [found] = probe()
    assert found.sensor is not None

    gpu.errors["nvmlDeviceGetPowerUsage"] = fake_pynvml.NVML_ERROR_UNKNOWN

    with pytest.raises(SensorReadError, match="reading power failed: Unknown Error"):
        found.sensor.read_value()


def test_a_gpu_failing_during_the_probe_is_reported_and_the_others_still_work(monkeypatch):
    gpus = two_gpus()
    gpus[0].errors["nvmlDeviceGetTotalEnergyConsumption"] = fake_pynvml.NVML_ERROR_GPU_IS_LOST
    install(monkeypatch, make_pynvml(gpus))

    found = gpu_probes(probe())

    assert not found["gpu:0"].available
    assert "GPU is lost" in found["gpu:0"].reason
    assert found["gpu:1"].sensor is not None
    assert found["gpu:1"].sensor.read_value() == pytest.approx(2.0)


# --- no library, no driver -------------------------------------------------------------------


def test_missing_nvidia_ml_py_gives_an_unavailable_probe(monkeypatch):
    install(monkeypatch, None)  # sys.modules["pynvml"] = None makes the import fail

    [found] = probe()

    assert (found.domain, found.source, found.available) == ("gpu:*", "nvml", False)
    assert found.reason.startswith("nvidia-ml-py not installed")
    assert "pip install nvidia-ml-py" in found.remedy
    assert gpu_facts() == []


@pytest.mark.parametrize(
    ("code", "in_reason", "in_remedy"),
    [
        (
            fake_pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
            "NVML Shared Library Not Found (NVMLError_LibraryNotFound)",
            "install the NVIDIA driver",
        ),
        (
            fake_pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
            "Driver Not Loaded (NVMLError_DriverNotLoaded)",
            "modprobe nvidia",
        ),
        (fake_pynvml.NVML_ERROR_UNKNOWN, "Unknown Error (NVMLError_Unknown)", "nvidia-smi"),
    ],
)
def test_nvml_init_failure_gives_an_unavailable_probe(monkeypatch, code, in_reason, in_remedy):
    install(monkeypatch, make_pynvml(init_error=code))

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert found.reason == f"NVML could not start: {in_reason}"
    assert in_remedy in found.remedy
    assert "Ignore this on machines without NVIDIA GPUs" in found.remedy
    assert gpu_facts() == []


def test_nvml_is_initialised_once_even_when_it_fails(monkeypatch):
    working = make_pynvml()
    install(monkeypatch, working)
    probe()
    probe()
    gpu_facts()
    assert working.init_calls == 1

    broken = make_pynvml(init_error=fake_pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    install(monkeypatch, broken)
    probe()
    probe()
    assert broken.init_calls == 1


def test_nvml_is_initialised_once_across_threads(monkeypatch):
    fake = make_pynvml()
    install(monkeypatch, fake)
    start = threading.Barrier(8)
    results: list[int] = []

    def worker() -> None:
        start.wait()
        results.append(len(probe()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [1] * 8
    assert fake.init_calls == 1


def test_nvml_without_gpus_says_so(monkeypatch):
    install(monkeypatch, make_pynvml([]))

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "lists no NVIDIA GPU" in found.reason


# --- MIG -------------------------------------------------------------------------------------


def test_mig_enabled_gpu_is_unavailable_with_the_reason(monkeypatch):
    gpus = two_gpus()
    gpus[0].mig_mode = fake_pynvml.NVML_DEVICE_MIG_ENABLE
    install(monkeypatch, make_pynvml(gpus))

    found = gpu_probes(probe())

    assert not found["gpu:0"].available
    assert found["gpu:0"].reason == (
        "MIG instances cannot be measured separately: NVML reports power for the whole GPU"
    )
    assert "mig" in found["gpu:0"].remedy.lower()
    assert found["gpu:0"].details["gpu"]["uuid"] == UUID_A
    assert found["gpu:1"].available


def test_cuda_visible_devices_naming_a_mig_instance_is_unavailable(monkeypatch):
    mig_uuid = "MIG-11111111-2222-3333-4444-555555555555"
    gpu = FakeGpu(uuid=UUID_A, mig_mode=fake_pynvml.NVML_DEVICE_MIG_ENABLE, mig_uuids=[mig_uuid])
    install(monkeypatch, make_pynvml([gpu]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mig_uuid)

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:0", False)
    assert found.reason == nvml.MIG_REASON
    assert found.details["mig_uuid"] == mig_uuid
    assert found.details["gpu"]["uuid"] == UUID_A  # the parent GPU


# --- CUDA_VISIBLE_DEVICES --------------------------------------------------------------------


def test_unset_cuda_visible_devices_shows_every_gpu_in_nvml_order(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))

    found = gpu_probes(probe())

    assert sorted(found) == ["gpu:0", "gpu:1"]
    assert found["gpu:0"].sensor.info()["uuid"] == UUID_A
    assert found["gpu:1"].sensor.info()["uuid"] == UUID_B


def test_reordered_indices_map_framework_devices_to_nvml_indices(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")

    found = gpu_probes(probe())

    first, second = found["gpu:0"].sensor, found["gpu:1"].sensor
    assert first.read_value() == pytest.approx(2.0)  # NVML GPU 1's counter
    assert (first.info()["nvml_index"], first.info()["uuid"]) == (1, UUID_B)
    assert (second.info()["nvml_index"], second.info()["uuid"]) == (0, UUID_A)
    assert first.cross_check.read_value() == pytest.approx(200.0)


@pytest.mark.parametrize("named", [UUID_B, "GPU-bbbb"])
def test_a_uuid_or_unique_uuid_prefix_selects_that_gpu(monkeypatch, named):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", named)

    probes = probe()

    assert [p.domain for p in probes] == ["gpu:0"]
    assert probes[0].sensor.info()["uuid"] == UUID_B
    assert probes[0].sensor.read_value() == pytest.approx(2.0)


def test_empty_cuda_visible_devices_means_no_gpu(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "set but empty" in found.reason
    assert gpu_facts() == []


def test_an_invalid_entry_ends_the_list_and_is_reported(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,7,0")

    probes = probe()

    found = gpu_probes(probes)
    assert list(found) == ["gpu:0"]
    assert found["gpu:0"].sensor.info()["uuid"] == UUID_B
    [problem] = [p for p in probes if p.domain == "gpu:*"]
    assert not problem.available
    assert "'7'" in problem.reason and "ignores it and every entry after it" in problem.reason
    assert "'0'" in problem.reason


def test_an_unknown_uuid_ends_the_list(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUID_A},GPU-ffff")

    probes = probe()

    assert list(gpu_probes(probes)) == ["gpu:0"]
    assert any("'GPU-ffff'" in p.reason for p in probes if p.domain == "gpu:*")


def test_a_repeated_entry_hides_every_gpu(monkeypatch):
    install(monkeypatch, make_pynvml(two_gpus()))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,0")

    [found] = probe()

    assert (found.domain, found.available) == ("gpu:*", False)
    assert "twice" in found.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, [0, 1, 2]),
        ("2", [2]),
        (" 2 , 0 ", [2, 0]),
        ("1gpu,0", [1, 0]),  # read like strtoul: the leading digits count
        ("0,1,", [0, 1]),
        ("0,-1,1", [0]),
        ("3", []),
        ("", []),
        ("x,0", []),
        (f"{UUID_B},{UUID_A}", [1, 0]),
        ("GPU-", []),  # a prefix of every UUID names no single GPU
    ],
)
def test_selection_follows_cuda_rules(value, expected):
    uuids = [UUID_A, UUID_B, "GPU-cccccccc-3333-3333-3333-333333333333"]
    assert nvml._select_gpus(value, uuids).nvml_indices == expected


def test_mixed_gpu_models_warn_about_cuda_device_order(monkeypatch):
    gpus = two_gpus()
    gpus[1].name = "NVIDIA GeForce RTX 4090"
    install(monkeypatch, make_pynvml(gpus))

    found = gpu_probes(probe())
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in found["gpu:0"].details["warning"]

    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert "warning" not in gpu_probes(probe())["gpu:0"].details


# --- facts -----------------------------------------------------------------------------------


def test_info_records_the_gpu_and_how_it_is_measured(monkeypatch):
    gpu = FakeGpu(
        name="NVIDIA H100 80GB HBM3",
        uuid=UUID_A,
        power_limit_mw=700_000,
        sm_clock_mhz=1980,
        memory_clock_mhz=2619,
        performance_state=2,
    )
    install(monkeypatch, make_pynvml([gpu], driver_version="555.42.06"))

    [found] = probe()

    assert found.sensor.info() == {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": UUID_A,
        "nvml_index": 0,
        "driver_version": "555.42.06",
        "power_limit_w": 700.0,
        "sm_clock_mhz": 1980,
        "memory_clock_mhz": 2619,
        "performance_state": "P2",
        "method": "counter",
    }
    assert found.to_dict()["info"]["method"] == "counter"


def test_fields_nvml_refuses_are_left_out(monkeypatch):
    gpu = FakeGpu(
        performance_state=32,  # NVML's "unknown"
        sm_clock_mhz=None,
        errors={"nvmlDeviceGetEnforcedPowerLimit": fake_pynvml.NVML_ERROR_NO_PERMISSION},
    )
    install(monkeypatch, make_pynvml([gpu]))

    info = probe()[0].sensor.info()

    assert {"performance_state", "sm_clock_mhz", "power_limit_w"}.isdisjoint(info)
    assert info["memory_clock_mhz"] == 1215
    assert info["method"] == "counter"


def test_gpu_facts_cover_every_visible_gpu_including_mig(monkeypatch):
    gpus = two_gpus()
    gpus[1].mig_mode = fake_pynvml.NVML_DEVICE_MIG_ENABLE
    gpus[0].energy_mj = None
    install(monkeypatch, make_pynvml(gpus))

    facts = gpu_facts()

    assert [(f["domain"], f["uuid"]) for f in facts] == [("gpu:0", UUID_A), ("gpu:1", UUID_B)]
    assert facts[0]["method"] == "power"
    assert facts[1]["mig_enabled"] is True
    assert facts[1]["driver_version"] == "550.54.15"


# --- the stand-in and the real module --------------------------------------------------------


def test_the_stand_in_has_the_real_pynvml_shape():
    real = pytest.importorskip("pynvml")
    for name in dir(fake_pynvml):
        if name.startswith(("NVML_ERROR_", "NVML_CLOCK_", "NVML_DEVICE_MIG_", "NVML_FI_DEV_",
                            "NVML_POWER_SCOPE_", "NVML_FEATURE_", "NVML_VALUE_TYPE_")):
            assert getattr(real, name) == getattr(fake_pynvml, name), name
        if name.startswith("NVMLError_"):
            assert issubclass(getattr(real, name), real.NVMLError), name
    for name in dir(fake_pynvml.FakePynvml):
        if name.startswith("nvml"):
            assert callable(getattr(real, name)), name
    # NVMLError(code) turns into the code's subclass in both
    for module in (real, fake_pynvml):
        error = module.NVMLError(module.NVML_ERROR_NOT_SUPPORTED)
        assert isinstance(error, module.NVMLError_NotSupported)
        assert str(error) == "Not Supported"


def test_real_probe_on_this_machine_reports_instead_of_raising(monkeypatch):
    """Uses the installed nvidia-ml-py; without an NVIDIA driver it must explain, not crash."""
    real = pytest.importorskip("pynvml")
    monkeypatch.setitem(sys.modules, "pynvml", real)
    nvml._forget_init()
    monkeypatch.setattr(nvml, "_init_state", None)  # forget the real init after the test too

    probes = probe()

    assert probes
    assert all(p.available or (p.reason and p.remedy) for p in probes)
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        [found] = probes
        assert (found.domain, found.source, found.available) == ("gpu:*", "nvml", False)
        assert found.reason == (
            "NVML could not start: NVML Shared Library Not Found (NVMLError_LibraryNotFound)"
        )
        assert "install the NVIDIA driver" in found.remedy
        assert gpu_facts() == []
