"""GPU power limits as a case parameter: checked, set, read back and put back, on stand-in
GPUs (tests/shared_gpus.py) that the test and real worker processes share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.gpu import restore_records
from greenbench.gpu.limits import applied, restore_left
from greenbench.runner import CaseSpec, RunConfig, plan, run_case
from greenbench.workload import discover
from tests import shared_gpus
from tests.cli_runner import run_cli
from tests.fake_amdsmi import FakeAmdGpu, make_amdsmi
from tests.fake_amdsmi import install as install_amd
from tests.fake_pynvml import FakeGpu, make_pynvml
from tests.fake_pynvml import install as install_nvml

WORKLOADS = '''
import os, signal, time
from pathlib import Path
import greenbench


@greenbench.workload
def steady():
    time.sleep(0.002)


@greenbench.workload
def fails():
    raise RuntimeError("the workload broke")


@greenbench.workload
def hangs(marker: str = ""):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(120)


@greenbench.workload
def dies():
    os.kill(os.getpid(), signal.SIGKILL)
'''

UUID = "GPU-aaaaaaaa-1111-1111-1111-111111111111"
QUICK = dict(device="cuda:0", repeats=1, min_duration_s=0.05, warmup_s=0.05, idle_s=0.0,
             interval_s=0.05, timeout_s=120.0)


@pytest.fixture
def gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One stand-in A100 (100-400 W, at 400 W) that root may set, shared with workers."""
    return shared_gpus.inject(monkeypatch, tmp_path, [FakeGpu(uuid=UUID, may_set_limit=True)])


@pytest.fixture
def workload_file(tmp_path: Path) -> str:
    path = tmp_path / "limit_workloads.py"
    path.write_text(WORKLOADS)
    return str(path)


def gpu_state(state: Path) -> dict:
    return shared_gpus.load(state)[0]


def config(workload_file: str) -> RunConfig:
    return RunConfig(**QUICK, workload_files=[workload_file])  # type: ignore[arg-type]


# --- set, read back, put back -----------------------------------------------------------------


def test_the_limit_is_set_for_the_case_read_back_and_put_back_on_success(gpus, workload_file):
    case = run_case(CaseSpec("steady", {"power_limit_w": 250.0}), config(workload_file))

    assert case.status == "ok", case.error_detail
    assert case.params == {"power_limit_w": 250.0}
    assert gpu_state(gpus)["limits_set"] == [250_000, 400_000]
    assert gpu_state(gpus)["power_limit_mw"] == 400_000
    [note] = [f for f in case.flags if f.startswith("power limit")]
    assert note == ("power limit on cuda:0 (NVIDIA A100-SXM4-40GB): asked 250 W, in force "
                    "250 W (read back); the original 400 W was put back after the case")
    assert restore_records.read_all() == []


def test_an_exception_in_the_workload_still_puts_the_limit_back(gpus, workload_file):
    case = run_case(CaseSpec("fails", {"power_limit_w": 200.0}), config(workload_file))

    assert case.status == "failed"
    assert "the workload broke" in (case.error or "")
    assert gpu_state(gpus)["limits_set"] == [200_000, 400_000]
    assert not any("could not put it back itself" in f for f in case.flags)
    assert restore_records.read_all() == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_to_the_worker_put_the_limit_back(gpus, workload_file, tmp_path,
                                                             sig):
    marker = tmp_path / "started"
    signal_when_started(marker, sig)

    case = run_case(CaseSpec("hangs", {"marker": str(marker), "power_limit_w": 150.0}),
                    config(workload_file))

    assert case.status == "failed"
    assert gpu_state(gpus)["limits_set"] == [150_000, 400_000]
    # the worker put it back itself: the runner found nothing left to restore
    assert not any("could not put it back itself" in f for f in case.flags)
    assert restore_records.read_all() == []


def test_a_worker_killed_outright_has_its_limit_put_back_by_the_runner(gpus, workload_file):
    case = run_case(CaseSpec("dies", {"power_limit_w": 300.0}), config(workload_file))

    assert case.status == "failed"
    assert "SIGKILL" in (case.error or "")
    assert gpu_state(gpus)["limits_set"] == [300_000, 400_000]
    [note] = [f for f in case.flags if f.startswith("power limit")]
    assert "could not put it back itself" in note and "put back 400 W" in note
    assert restore_records.read_all() == []


def test_ctrl_c_in_greenbench_kills_the_worker_and_puts_its_limit_back(gpus, workload_file,
                                                                      tmp_path):
    marker = tmp_path / "started"

    def interrupt_greenbench() -> None:
        wait_for_pid(marker)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches greenbench, not its worker

    threading.Thread(target=interrupt_greenbench, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_case(CaseSpec("hangs", {"marker": str(marker), "power_limit_w": 125.0}),
                 config(workload_file))

    assert gpu_state(gpus)["limits_set"] == [125_000, 400_000]
    assert gpu_state(gpus)["power_limit_mw"] == 400_000
    assert restore_records.read_all() == []


def test_after_a_kill_9_the_record_stays_and_gpu_restore_puts_the_limit_back(
        gpus, workload_file, tmp_path):
    marker = tmp_path / "started"
    worker = start_worker(workload_file, {"marker": str(marker), "power_limit_w": 175.0})
    try:
        pid = wait_for_pid(marker)
        os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=60)
    finally:
        worker.kill()
        worker.wait()
    assert gpu_state(gpus)["power_limit_mw"] == 175_000
    [record] = json.loads(restore_records.path().read_text())["records"]
    assert (record["uuid"], record["original_w"], record["set_w"], record["pid"]) == \
        (UUID, 400.0, 175.0, pid)

    done = subprocess.run([sys.executable, "-m", "greenbench", "gpu", "restore"],
                          capture_output=True, text=True, timeout=120, env=os.environ)

    assert done.returncode == 0, done.stderr
    assert f"cuda:0 (NVIDIA A100-SXM4-40GB) ({UUID}): put back 400 W (process {pid} left " \
           "it at 175 W" in done.stdout
    assert gpu_state(gpus)["power_limit_mw"] == 400_000
    assert not restore_records.path().exists()
    again = subprocess.run([sys.executable, "-m", "greenbench", "gpu", "restore"],
                           capture_output=True, text=True, timeout=120, env=os.environ)
    assert again.returncode == 0 and "nothing to restore" in again.stdout


def test_gpu_restore_leaves_the_limit_of_a_live_run_alone(gpus, capsys):
    with applied("cuda:0", 220.0):
        result = run_cli(capsys, "gpu", "restore")
        assert gpu_state(gpus)["power_limit_mw"] == 220_000
    assert result.code == 0
    assert f"still held by greenbench process {os.getpid()}" in result.err
    assert gpu_state(gpus)["power_limit_mw"] == 400_000


def test_gpu_limits_shows_each_gpus_limit_default_and_range(gpus, capsys):
    result = run_cli(capsys, "gpu", "limits")

    assert result.code == 0
    assert result.out == (f"cuda:0 (NVIDIA A100-SXM4-40GB) {UUID}: limit 400 W, in force 400 W, "
                          "default 400 W, allowed 100 to 400 W\n")


# --- checked before any case runs -------------------------------------------------------------


def test_a_new_run_will_not_touch_a_limit_another_greenbench_holds(gpus, workload_file):
    registry = discover([workload_file], entry_points=False)
    with applied("cuda:0", 220.0), pytest.raises(UserError) as info:
        plan(registry, ["steady"], {"power_limit_w": ["250"]}, None, "cuda:0")

    assert str(info.value) == (f"cuda:0 (NVIDIA A100-SXM4-40GB): greenbench process "
                               f"{os.getpid()} is changing its power limit now; wait for it "
                               "to finish")
    assert gpu_state(gpus)["limits_set"] == [220_000, 400_000]


def test_a_new_run_will_not_touch_a_limit_a_killed_run_left(gpus, workload_file):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    left = restore_records.RestoreRecord.now("nvml", UUID, "cuda:0 (NVIDIA A100-SXM4-40GB)",
                                             400.0, 175.0)
    restore_records.add(restore_records.RestoreRecord(**{**asdict(left),
                                                         "pid": int(gone.stdout)}))

    with pytest.raises(UserError, match=r"was left at 175 W by greenbench process \d+, which "
                                        "is gone: run greenbench gpu restore first"):
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": ["250"]}, None, "cuda:0")
    assert gpu_state(gpus)["limits_set"] == []


def test_a_limit_outside_the_allowed_range_is_one_line_with_the_range(gpus, workload_file):
    with pytest.raises(UserError) as info:
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": ["250", "450"]}, None, "cuda:0")

    assert str(info.value) == ("power_limit_w=450: cuda:0 (NVIDIA A100-SXM4-40GB) allows 100 "
                               "to 400 W (default 400 W); nothing was changed")
    assert info.value.exit_code == 2
    assert gpu_state(gpus)["limits_set"] == []


def test_without_permission_the_run_stops_naming_the_capability(tmp_path, monkeypatch,
                                                                workload_file, capsys):
    state = shared_gpus.inject(monkeypatch, tmp_path, [FakeGpu(may_set_limit=False)])

    with pytest.raises(UserError) as info:
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": ["250"]}, None, "cuda:0")

    assert info.value.exit_code == 2
    assert "root, or persistence mode (sudo nvidia-smi -pm 1) and CAP_SYS_ADMIN" in \
        str(info.value)
    assert str(info.value).endswith("nothing was changed")
    assert gpu_state(state)["power_limit_mw"] == 400_000
    assert restore_records.read_all() == []


def test_the_grid_is_crossed_with_the_limits(gpus, workload_file):
    specs = plan(discover([workload_file], entry_points=False), ["hangs"],
                 {"marker": ["a", "b"], "power_limit_w": ["300", "200"]}, None, "cuda:0")

    assert [s.params for s in specs] == [
        {"marker": "a", "power_limit_w": 300.0}, {"marker": "a", "power_limit_w": 200.0},
        {"marker": "b", "power_limit_w": 300.0}, {"marker": "b", "power_limit_w": 200.0}]


@pytest.mark.parametrize(("device", "says"), [
    ("cpu", "--device cpu: no GPU to set a power limit on; use --device cuda:N"),
    ("cuda:9", "--device cuda:9: this machine has 1 GPU(s): cuda:0 (NVIDIA A100-SXM4-40GB)"),
])
def test_a_limit_on_a_device_without_that_gpu_is_one_line(gpus, workload_file, device, says):
    with pytest.raises(UserError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": ["250"]}, None, device)


def test_a_limit_on_a_machine_without_gpus_says_why(workload_file, monkeypatch, tmp_path):
    install_nvml(monkeypatch, None)
    install_amd(monkeypatch, None)
    monkeypatch.setenv("GREENBENCH_STATE_DIR", str(tmp_path))

    with pytest.raises(UserError, match="^no GPU to set a power limit on: NVML: "
                                        "nvidia-ml-py not installed"):
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": ["250"]}, None, "cuda:0")


@pytest.mark.parametrize("text", ["abc", "-5", "nan"])
def test_a_limit_that_is_not_watts_is_refused(gpus, workload_file, text):
    with pytest.raises(UserError, match=f"power_limit_w: '{text}' is not a positive number"):
        plan(discover([workload_file], entry_points=False), ["steady"],
             {"power_limit_w": [text]}, None, "cuda:0")


def test_the_cli_says_one_line_for_a_limit_on_the_cpu(gpus, workload_file, capsys, tmp_path):
    result = run_cli(capsys, "run", "steady", "--workload-file", workload_file,
                     "-p", "power_limit_w=250", "--store", str(tmp_path / "s.sqlite"))

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "greenbench: error: --device cpu: no GPU to set a power limit on; use --device "
        "cuda:N on a machine with an NVIDIA or AMD GPU"]


# --- AMD SMI ----------------------------------------------------------------------------------


def test_an_amd_gpu_power_cap_is_set_and_put_back(monkeypatch, tmp_path):
    install_nvml(monkeypatch, make_pynvml([]))
    amd = make_amdsmi([FakeAmdGpu(may_set_cap=True, min_power_cap_uw=300_000_000)])
    install_amd(monkeypatch, amd)
    monkeypatch.setenv("GREENBENCH_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    with applied("cuda:0", 500.0) as limit:
        assert limit is not None and limit.in_force_w == 500.0
        assert len(restore_records.read_all()) == 1
    assert amd.gpus[0].caps_set == [500_000_000, 750_000_000]
    assert restore_records.read_all() == []
    with pytest.raises(UserError, match="allows 300 to 750 W"), applied("cuda:0", 200.0):
        pass


def test_an_amd_gpu_without_permission_changes_nothing(monkeypatch, tmp_path):
    install_nvml(monkeypatch, make_pynvml([]))
    amd = make_amdsmi([FakeAmdGpu(may_set_cap=False)])
    install_amd(monkeypatch, amd)
    monkeypatch.setenv("GREENBENCH_STATE_DIR", str(tmp_path))

    with pytest.raises(UserError, match="AMD GPU power cap needs root") as info, \
            applied("cuda:0", 500.0):
        pass
    assert info.value.exit_code == 2
    assert amd.gpus[0].power_cap_uw == 750_000_000
    assert restore_records.read_all() == []
    assert restore_left() == ([], [])


# --- helpers ----------------------------------------------------------------------------------


def wait_for_pid(marker: Path, within_s: float = 90) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{marker} never written")


def signal_when_started(marker: Path, sig: int) -> None:
    def send() -> None:
        os.kill(wait_for_pid(marker), sig)

    threading.Thread(target=send, daemon=True).start()


def start_worker(workload_file: str, params: dict) -> subprocess.Popen:
    """A worker started as the runner starts one, reporting to a pipe nobody reads."""
    read_fd, write_fd = os.pipe()
    spec = {"workload": "hangs", "params": params, "device": "cuda:0",
            "workload_files": [workload_file], "config": asdict(config(workload_file))}
    proc = subprocess.Popen([sys.executable, "-m", "greenbench.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            pass_fds=(write_fd,), start_new_session=True,
                            env={**os.environ, "GREENBENCH_WORKER_FD": str(write_fd)})
    os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()
    threading.Thread(target=lambda: _drain(read_fd), daemon=True).start()
    return proc


def _drain(fd: int) -> None:
    with os.fdopen(fd, "rb") as pipe:
        for _ in pipe:
            pass
