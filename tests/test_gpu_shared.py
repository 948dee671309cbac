"""Shared GPUs: other processes on a measured GPU are named, and this case's share by
utilisation is offered as an attributed figure, never as a measurement (pynvml stand-in)."""

from __future__ import annotations

import os

import pytest

from greenbench.clock import VirtualClock
from greenbench.gpu_share import ShareWatch
from greenbench.measurement import ATTRIBUTED, DomainEnergy, Measurement
from greenbench.meter import Meter
from greenbench.protocol import Plan, Protocol
from greenbench.sensors import nvml
from tests.fake_pynvml import (
    NVML_ERROR_GPU_IS_LOST,
    NVML_FEATURE_ENABLED,
    FakeGpu,
    install,
    make_pynvml,
)

ME = os.getpid()
#: above Linux's highest possible pid (PID_MAX_LIMIT, 4194304): no process here has it
OTHER = 4_194_400
LATER_US = 2**62  # samples newer than any window's start


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv(nvml.METHOD_ENV, raising=False)


def gpu_sensor(monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu):
    install(monkeypatch, make_pynvml([gpu]))
    [found] = [p for p in nvml.probe() if p.domain == "gpu:0"]
    return found.sensor


def gpu_window(energy_j: float = 100.0) -> Measurement:
    return Measurement("repeat 1", 0.0, 10.0, [
        DomainEnergy("cpu-package:0", 20.0, "counter", "rapl", 2.0, 2.5, 100),
        DomainEnergy("gpu:0", energy_j, "counter", "nvml", energy_j / 10, 300.0, 100)])


def test_other_processes_on_the_gpu_are_named_and_the_share_is_attributed(monkeypatch):
    gpu = FakeGpu(processes={ME: 2 << 30, OTHER: 1 << 30},
                  process_samples=[(ME, LATER_US, 60), (OTHER, LATER_US, 20),
                                   (ME, LATER_US, 60), (OTHER, LATER_US, 20)])
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours == pytest.approx(0.75)
    share = m.domain("gpu:0:share")
    assert share.method == ATTRIBUTED and share.is_estimate
    assert share.energy_j == pytest.approx(75.0)
    assert share.part_of == "gpu:0" and not share.counted
    assert share.source == "nvml:utilisation"
    # the measured total is still the whole GPU's, and still a measurement
    assert m.energy_j == pytest.approx(120.0)
    assert not m.is_estimate and m.method == "counter"
    [said] = [w for w in m.warnings if "shared" in w]
    assert f"pid {OTHER} (not visible here, 25% of SM use)" in said
    assert "this case's share by SM utilisation during the repeat, 75%, is gpu:0:share " \
           "(attributed, not measured)" in said


def test_a_gpu_used_by_the_measured_processes_alone_says_nothing(monkeypatch):
    gpu = FakeGpu(processes={ME: 1 << 30}, process_samples=[(ME, LATER_US, 90)])
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    assert watch.end(watch.begin(), m) is None
    assert [d.domain for d in m.domains] == ["cpu-package:0", "gpu:0"]
    assert m.warnings == []


def test_only_samples_newer_than_the_window_count(monkeypatch):
    clock = VirtualClock()
    start_us = int(clock.wall() * 1e6)
    # the other process used the GPU before the window, the measured one during it
    gpu = FakeGpu(processes={ME: 1, OTHER: 1},
                  process_samples=[(OTHER, start_us - 1, 100), (ME, start_us + 10, 50),
                                   (OTHER, start_us + 10, 0)])
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME}, clock=clock)
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours == pytest.approx(1.0)
    assert use.others == {OTHER: 0.0}


def test_host_pids_in_a_container_give_no_share(monkeypatch):
    gpu = FakeGpu(processes={OTHER: 1 << 30, OTHER + 1: 1 << 30},
                  process_samples=[(OTHER, LATER_US, 40), (OTHER + 1, LATER_US, 40)])
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours is None
    assert "gpu:0:share" not in [d.domain for d in m.domains]
    [said] = [w for w in m.warnings if "shared" in w]
    assert "the measured processes are not among the GPU's pids (in a container NVML may list " \
           "host pids): no share attributed" in said


def test_without_per_process_samples_accounting_gives_lifetime_shares(monkeypatch):
    gpu = FakeGpu(processes={ME: 1, OTHER: 1}, accounting_mode=NVML_FEATURE_ENABLED,
                  accounting_util={ME: 30, OTHER: 10})
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours == pytest.approx(0.75)
    assert use.basis == "GPU utilisation over each process's life (NVML accounting)"
    assert m.domain("gpu:0:share").energy_j == pytest.approx(75.0)


def test_without_any_utilisation_the_sharing_is_said_but_nothing_attributed(monkeypatch):
    gpu = FakeGpu(processes={ME: 1, OTHER: 1})  # no samples, accounting off
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours is None and use.others == {OTHER: None}
    [said] = [w for w in m.warnings if "shared" in w]
    assert f"pid {OTHER} (not visible here)" in said
    assert "NVML reports no utilisation for them: no share attributed" in said


def test_a_failing_process_list_is_a_warning_and_the_measurement_stands(monkeypatch):
    gpu = FakeGpu(errors={"nvmlDeviceGetComputeRunningProcesses": NVML_ERROR_GPU_IS_LOST})
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    assert watch.end(watch.begin(), m) is None
    assert m.energy_j == pytest.approx(120.0)
    [said] = m.warnings
    assert said.startswith("gpu:0: cannot tell whether other processes share it (")
    assert "GPU is lost" in said


def test_an_attributed_figure_in_a_total_makes_it_not_measured():
    m = Measurement("w", 0.0, 1.0, [
        DomainEnergy("gpu:0", 5.0, ATTRIBUTED, "nvml:utilisation", 5.0, None, 10)])
    assert m.is_estimate
    assert Measurement.from_dict(m.to_dict()).is_estimate


def test_the_protocol_says_in_every_repeat_and_the_case_who_shared_the_gpu(monkeypatch):
    clock = VirtualClock()
    gpu = FakeGpu(processes={ME: 1, OTHER: 1},
                  process_samples=[(ME, LATER_US, 30), (OTHER, LATER_US, 70)])
    sensor = gpu_sensor(monkeypatch, gpu)
    meter = Meter([sensor], clock=clock, sync=lambda: None, witness=None)

    def step() -> None:
        clock.advance(0.01)
        gpu.energy_mj += 3_000  # 300 W

    result = Protocol(meter, Plan(repeats=3, min_repeat_s=1.0, warmup_s=0.1)).run(step)

    for m, _ in result.repeats:
        assert m.domain("gpu:0:share").energy_j == pytest.approx(0.3 * m.domain("gpu:0").energy_j)
        assert any(w.startswith("gpu:0 is shared") for w in m.warnings)
    [flag] = [f for f in result.flags if "shared" in f]
    assert flag == (f"gpu:0 shared with other processes in 3 of 3 repeats: pid {OTHER} (not "
                    "visible here); the measured energy is the whole GPU's; this case's share "
                    "by SM utilisation during the repeat: 30%, in gpu:0:share (attributed, not "
                    "measured)")


def test_a_gpu_the_case_does_not_run_on_is_not_watched(monkeypatch):
    clock = VirtualClock()
    gpu = FakeGpu(processes={ME: 1, OTHER: 1}, process_samples=[(OTHER, LATER_US, 70)])
    sensor = gpu_sensor(monkeypatch, gpu)
    meter = Meter([sensor], clock=clock, sync=lambda: None, witness=None,
                  not_counted={"gpu:0": "not attributed: the case runs on cpu"})

    def step() -> None:
        clock.advance(0.01)

    result = Protocol(meter, Plan(repeats=2, min_repeat_s=1.0, warmup_s=0.1)).run(step)

    assert not any("shared" in f for f in result.flags)
    assert all("gpu:0:share" not in [d.domain for d in m.domains] for m, _ in result.repeats)


WORKLOAD = '''
import time
import greenbench


@greenbench.workload
def busy():
    time.sleep(0.002)
'''

SHIM = '''import json, os, sys
from tests.fake_pynvml import FakeGpu, FakePynvml
gpus = json.loads(open(os.environ["GREENBENCH_TEST_STATIC_GPUS"]).read())
sys.modules[__name__] = FakePynvml([FakeGpu(**gpu) for gpu in gpus])
'''


def test_a_run_on_a_shared_gpu_says_so_and_results_show_prints_it(monkeypatch, capsys,
                                                                   tmp_path):
    """Real worker processes, each seeing the stand-in GPU through a pynvml on PYTHONPATH:
    the worker itself (SELF_PID) and another process use it."""
    import json
    from pathlib import Path

    from tests.cli_runner import run_cli
    from tests.fake_amdsmi import install as install_amd
    from tests.fake_pynvml import SELF_PID

    gpus = [{"processes": {SELF_PID: 1 << 30, OTHER: 1 << 30},
             "process_samples": [[SELF_PID, LATER_US, 45], [OTHER, LATER_US, 15]]}]
    (tmp_path / "gpus.json").write_text(json.dumps(gpus))
    shim = tmp_path / "nvml-standin"
    shim.mkdir()
    (shim / "pynvml.py").write_text(SHIM)
    repo = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(shim), str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("GREENBENCH_TEST_STATIC_GPUS", str(tmp_path / "gpus.json"))
    install(monkeypatch, make_pynvml([FakeGpu(**gpus[0])]))  # the run's own probe
    install_amd(monkeypatch, None)
    # this machine's torch has no CUDA; the workload needs none
    monkeypatch.setattr("greenbench.runner.check_device", lambda device: None)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "busy.py").write_text(WORKLOAD)
    store = str(tmp_path / "runs.sqlite")

    ran = run_cli(capsys, "run", "busy", "--workload-file", str(tmp_path / "busy.py"),
                  "--device", "cuda:0", "--repeats", "2", "--min-duration", "0.2",
                  "--warmup", "0.1", "--idle", "0", "--store", store)
    shown = run_cli(capsys, "results", "show", "latest", "--store", store)

    assert ran.code == 0, ran.err
    expected = (f"gpu:0 shared with other processes in 2 of 2 repeats: pid {OTHER} (not visible "
                "here); the measured energy is the whole GPU's; this case's share by SM "
                "utilisation during the repeat: 75%, in gpu:0:share (attributed, not measured)")
    assert expected in " ".join(shown.out.split())


def test_no_samples_reported_as_success_by_nvidia_ml_py_count_as_none(monkeypatch):
    # nvidia-ml-py raises NVMLError(NVML_SUCCESS) when the driver has no sample to give
    gpu = FakeGpu(processes={ME: 1, OTHER: 1},
                  errors={"nvmlDeviceGetProcessUtilization": 0})
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = gpu_window()

    use = watch.end(watch.begin(), m)

    assert use is not None and use.ours is None
    assert not any("cannot tell" in w for w in m.warnings)


def test_a_window_without_the_gpu_under_its_own_name_is_left_alone(monkeypatch):
    # a distributed job's window names each host's domains host/domain
    gpu = FakeGpu(processes={ME: 1, OTHER: 1}, process_samples=[(OTHER, LATER_US, 70)])
    watch = ShareWatch(gpu_sensor(monkeypatch, gpu), own=lambda: {ME})
    m = Measurement("repeat 1", 0.0, 10.0, [
        DomainEnergy("host-a/gpu:0", 100.0, "counter", "nvml", 10.0, 300.0, 100)])

    assert watch.end(watch.begin(), m) is None
    assert [d.domain for d in m.domains] == ["host-a/gpu:0"] and m.warnings == []


#: a measured command that uses the stand-in GPU (45% of its SMs) and exits
USES_THE_GPU = """
import os, sys
from tests.shared_gpus import add_process_sample
add_process_sample(sys.argv[1], 0, os.getpid(), 45)
"""


def test_measure_names_who_else_used_the_gpu_and_offers_the_commands_share(
        monkeypatch, capsys, tmp_path):
    """The command has exited by the window's end, so its pid is no longer greenbench's child:
    it must still count as the measured tree's, and OTHER as someone else's."""
    import json
    import sys

    from tests.cli_runner import run_cli
    from tests.shared_gpus import inject

    state = inject(monkeypatch, tmp_path, [FakeGpu(
        processes={OTHER: 1 << 30}, process_samples=[(OTHER, LATER_US, 15)])])
    monkeypatch.setenv("COLUMNS", "200")

    done = run_cli(capsys, "measure", "--json", "--", sys.executable, "-c", USES_THE_GPU,
                   str(state))

    assert done.code == 0, done.err
    doc = json.loads(done.out)
    [said] = [w for w in doc["warnings"] if "shared" in w]
    assert f"pid {OTHER} (not visible here, 25% of SM use)" in said
    assert "share by SM utilisation during the repeat, 75%, is gpu:0:share" in said
    share = next(d for d in doc["domains"] if d["name"] == "gpu:0:share")
    assert share["method"] == ATTRIBUTED and share["part_of"] == "gpu:0"
    gpu = next(d for d in doc["domains"] if d["name"] == "gpu:0")
    assert share["energy_j"] == pytest.approx(0.75 * gpu["energy_j"])
    assert doc["method"] != ATTRIBUTED  # an attributed share never makes the total


def test_measure_of_a_command_alone_on_the_gpu_says_nothing_of_sharing(
        monkeypatch, capsys, tmp_path):
    import json
    import sys

    from tests.cli_runner import run_cli
    from tests.shared_gpus import inject

    state = inject(monkeypatch, tmp_path, [FakeGpu()])

    done = run_cli(capsys, "measure", "--json", "--", sys.executable, "-c", USES_THE_GPU,
                   str(state))

    assert done.code == 0, done.err
    doc = json.loads(done.out)
    assert not [w for w in doc["warnings"] if "shared" in w], doc["warnings"]
    assert "gpu:0:share" not in {d["name"] for d in doc["domains"]}
