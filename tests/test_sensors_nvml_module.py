"""Grace Hopper module power (GPU, Grace CPU and memory in one figure) and MIG, on the pynvml
stand-in: the module is detected and recorded, and never added to the GPU or the CPU it
contains."""

from __future__ import annotations

import pytest

from greenbench.attribution import not_counted
from greenbench.clock import VirtualClock
from greenbench.meter import Meter
from greenbench.sensors import nvml
from greenbench.sensors.base import SensorKind, SensorReadError
from tests.fake_pynvml import (
    NVML_DEVICE_MIG_ENABLE,
    NVML_ERROR_GPU_IS_LOST,
    FakeGpu,
    install,
    make_pynvml,
)
from tests.standins import SteppedCounter, constant

GH200 = "NVIDIA GH200 480GB"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(nvml.METHOD_ENV, raising=False)


def probes_of(monkeypatch, *gpus: FakeGpu) -> dict:
    install(monkeypatch, make_pynvml(list(gpus)))
    return {p.domain: p for p in nvml.probe()}


def test_grace_hopper_module_power_is_detected_beside_the_gpu_counter(monkeypatch):
    found = probes_of(monkeypatch, FakeGpu(name=GH200, module_power_mw=612_500))

    assert found["gpu:0"].kind is SensorKind.COUNTER  # the GPU's own counter stays
    module = found["module:0"]
    assert (module.source, module.kind) == ("nvml", SensorKind.POWER)
    assert module.sensor.read_value() == pytest.approx(612.5)
    info = module.sensor.info()
    assert info["power_scope"] == "module" and info["name"] == GH200
    assert info["overlaps"] == ["gpu:0", "cpu-package", "dram"]


def test_a_gpu_without_module_scope_has_no_module_domain(monkeypatch):
    found = probes_of(monkeypatch, FakeGpu(name="NVIDIA H100 80GB HBM3"))

    assert list(found) == ["gpu:0"]


def test_the_machine_lists_a_grace_hopper_once_with_its_module_power(monkeypatch):
    install(monkeypatch, make_pynvml([FakeGpu(name=GH200, module_power_mw=600_000)]))

    [gpu] = nvml.gpu_facts()

    assert gpu["domain"] == "gpu:0" and gpu["name"] == GH200
    assert gpu["power_scope_module"] is True


def test_a_failed_module_read_raises_instead_of_returning_zero(monkeypatch):
    gpu = FakeGpu(name=GH200, module_power_mw=600_000)
    sensor = probes_of(monkeypatch, gpu)["module:0"].sensor
    gpu.errors["nvmlDeviceGetFieldValues"] = NVML_ERROR_GPU_IS_LOST

    with pytest.raises(SensorReadError, match="module:0 .*reading module power failed"):
        sensor.read_value()


@pytest.mark.parametrize("device", [None, "cuda:0"])
def test_module_power_is_never_added_to_the_gpu_or_the_cpu_it_contains(monkeypatch, device):
    clock = VirtualClock()
    gpu = FakeGpu(name=GH200, energy_mj=0, module_power_mw=700_000)
    found = probes_of(monkeypatch, gpu)
    cpu = SteppedCounter(clock, "cpu-package:0", constant(150.0), update_period_s=0.001)
    sensors = [cpu, found["gpu:0"].sensor, found["module:0"].sensor]
    # as `greenbench measure` builds it (nothing left out by the caller), and as a case on
    # cuda:0 does (the worker's attribution)
    excluded = None if device is None else not_counted([s.domain for s in sensors], device)
    meter = Meter(sensors, clock=clock, sync=lambda: None, witness=None, not_counted=excluded)

    w = meter.begin("w")
    for _ in range(20):
        clock.advance(0.1)
        gpu.energy_mj += 50_000  # 500 W of GPU
        meter.sample()
    m = meter.end(w)

    assert m.domain("module:0").energy_j == pytest.approx(1400.0)
    assert m.domain("gpu:0").energy_j == pytest.approx(1000.0)
    assert m.domain("cpu-package:0").energy_j == pytest.approx(300.0)
    assert m.energy_j == pytest.approx(1300.0)  # cpu + gpu; the module's 1.4 kJ is beside
    [beside] = m.beside()
    assert beside.domain == "module:0"
    assert beside.not_counted == ("module power: it contains gpu:0, cpu-package*, dram* (GPU, "
                                  "CPU and memory of one module), so it is shown beside the "
                                  "total, never added to it")


def test_a_mig_partitioned_gpu_is_still_not_measurable_per_instance(monkeypatch):
    found = probes_of(monkeypatch, FakeGpu(name="NVIDIA H100 80GB HBM3",
                                           mig_mode=NVML_DEVICE_MIG_ENABLE))

    gpu = found["gpu:0"]
    assert gpu.sensor is None
    assert gpu.reason == nvml.MIG_REASON
    assert "nvidia-smi -i <gpu> -mig 0" in gpu.remedy
    assert gpu.details["gpu"]["mig_enabled"] is True


def test_greenbench_sensors_prints_why_a_mig_instance_is_not_measured(monkeypatch, capsys):
    from tests.cli_runner import run_cli

    mig = "MIG-11111111-2222-3333-4444-555555555555"
    install(monkeypatch, make_pynvml([FakeGpu(mig_mode=NVML_DEVICE_MIG_ENABLE,
                                              mig_uuids=[mig])]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mig)
    monkeypatch.setenv("COLUMNS", "200")

    shown = run_cli(capsys, "sensors")

    text = " ".join(shown.out.split())
    assert "MIG instances cannot be measured separately: NVML reports power for the whole GPU" \
        in text


def test_greenbench_sensors_says_module_power_stays_beside_totals(monkeypatch, capsys):
    from tests.cli_runner import run_cli

    install(monkeypatch, make_pynvml([FakeGpu(name=GH200, module_power_mw=600_000)]))
    monkeypatch.setenv("COLUMNS", "200")

    shown = run_cli(capsys, "sensors")

    [row] = [line for line in shown.out.splitlines() if line.split()[1:2] == ["module:0"]]
    assert "polled power (nvml)" in row
    assert "module power: gpu:0, the Grace CPU and their memory in one figure; shown beside " \
           "totals, never added to them" in " ".join(shown.out.split())
