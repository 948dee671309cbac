"""Faults around the worker process: leftover children, garbage on the event pipe, and a
greenbench that is terminated or killed while a case runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenbench.runner import CaseSpec, RunConfig, run
from greenbench.store import Store
from greenbench.workload import discover

DATA = Path(__file__).parent / "data"
FILE = str(DATA / "hostile_workloads.py")
FAST = dict(repeats=2, min_duration_s=0.1, warmup_s=0.2, idle_s=0.1, interval_s=0.02,
            workload_files=[FILE])


def registry():
    return discover([FILE], entry_points=False)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"


def _wait_gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.05)
    return not _running(pid)


def _read_pid(path: Path, within_s: float = 60) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")


@needs_proc
def test_a_child_left_running_does_not_fail_the_case_and_is_ended(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    store = Store(tmp_path / "s.sqlite")
    started = time.monotonic()
    record = run([CaseSpec("orphan", {"pid_file": str(pid_file)})],
                 RunConfig(**{**FAST, "timeout_s": 20.0}), registry(), store)
    took = time.monotonic() - started
    case = record.cases[0]
    assert case.status == "ok", case.error
    assert len(case.repeats) == 2
    assert took < 15, f"the run waited {took:.0f} s for a process the workload left behind"
    child = int(pid_file.read_text())
    assert _wait_gone(child, 5), "the leftover child is still running"
    assert any(f.startswith("leftover processes") and str(child) in f for f in case.flags), \
        case.flags


def test_garbage_on_the_event_pipe_fails_that_case_and_the_run_goes_on(tmp_path: Path) -> None:
    from tests.test_runner import FILE as BASIC

    specs = [CaseSpec("garbage", {}), CaseSpec("spin", {"n": 1000, "mode": "sum"})]
    config = RunConfig(**{**FAST, "workload_files": [FILE, BASIC]})
    store = Store(tmp_path / "s.sqlite")
    record = run(specs, config, discover([FILE, BASIC], entry_points=False), store)
    assert [c.status for c in record.cases] == ["failed", "ok"]
    error = record.cases[0].error or ""
    assert "not a greenbench event" in error and "not an event" in error
    assert "\x1b" not in error
    assert store.get_run(record.id).status == "complete"


def _greenbench_run(tmp_path: Path, pid_file: Path,
                    sleeps: str = "0.01,0.011,0.012,0.013,0.014,0.015") -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "greenbench", "run", "napping", "-p",
           f"pid_file={pid_file}", "-p", f"sleep_s={sleeps}",
           "--workload-file", FILE, "--store", str(tmp_path / "s.sqlite"),
           "--repeats", "2", "--min-duration", "0.1", "--warmup", "0.1", "--idle", "0.1"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@needs_proc
def test_a_killed_greenbench_takes_its_worker_with_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    proc = _greenbench_run(tmp_path, pid_file, sleeps="60")  # one step outlasts the test
    try:
        worker = _read_pid(pid_file)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert _wait_gone(worker, 5), "the worker outlived greenbench"
    finally:
        proc.kill()
        proc.communicate()


@needs_proc
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_interrupt_the_run_like_ctrl_c(tmp_path: Path, sig: int) -> None:
    pid_file = tmp_path / "worker.pid"
    proc = _greenbench_run(tmp_path, pid_file)
    _read_pid(pid_file)
    db = tmp_path / "s.sqlite"
    deadline = time.monotonic() + 60
    from tests.test_runner import _cases_stored

    while time.monotonic() < deadline and _cases_stored(db) < 1:
        time.sleep(0.1)
    assert _cases_stored(db) >= 1
    worker = int(pid_file.read_text())  # the worker of the case now running
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err.decode()
    assert b"Traceback" not in err
    assert b"interrupted" in err
    assert _wait_gone(worker, 5)
    stored = Store(db).get_run("latest")
    assert stored.status == "interrupted"
    assert 1 <= len(stored.cases) < 6
    assert all(c.status == "ok" for c in stored.cases)
