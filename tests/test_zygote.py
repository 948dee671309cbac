"""Workers forked from the run's pre-imported zygote: fresh per case, gone with the runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from greenbench.runner import CaseSpec, RunConfig, run_case, zygote_argv
from greenbench.zygote import Zygote, ZygoteError, zygote_or_none

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")
FAST = dict(repeats=2, min_duration_s=0.05, warmup_s=0.05, idle_s=0.0, interval_s=0.02,
            workload_files=[FILE])


def test_cases_run_one_after_another_in_workers_forked_from_one_zygote() -> None:
    with zygote_or_none(zygote_argv(), os.environ) as zygote:
        assert zygote is not None
        children_before = len(psutil.Process(zygote.proc.pid).children())
        for _ in range(2):
            case = run_case(CaseSpec("spin", {"n": 500, "mode": "sum"}), RunConfig(**FAST),
                            lambda e: None, zygote=zygote)
            assert case.status == "ok", case.error
            assert case.repeats and case.repeats[0].metrics["energy_j"] is not None
        assert zygote.proc.poll() is None  # still there for the next case
        assert len(psutil.Process(zygote.proc.pid).children()) == children_before  # reaped
    assert zygote.proc.poll() is not None  # and gone with the run


def test_a_forked_worker_reports_a_crash_like_a_started_one() -> None:
    with zygote_or_none(zygote_argv(), os.environ) as zygote:
        case = run_case(CaseSpec("crash", {}), RunConfig(**FAST), lambda e: None,
                        zygote=zygote)
    direct = run_case(CaseSpec("crash", {}), RunConfig(**FAST))
    assert case.status == direct.status == "failed"
    assert case.error == direct.error


def test_the_zygote_and_its_worker_die_with_the_runner(tmp_path: Path) -> None:
    # a runner process that forks a worker which would spin for a minute; SIGKILL it
    script = tmp_path / "runner.py"
    script.write_text(
        "import os, sys, time\n"
        "from greenbench.runner import zygote_argv\n"
        "from greenbench.zygote import Zygote\n"
        "z = Zygote(zygote_argv(), os.environ)\n"
        "r, w = os.pipe()\n"
        "worker = z.spawn({**os.environ, 'GREENBENCH_WORKER_FD': str(w)}, w)\n"
        "worker.stdin.write(b'not json')\n"  # the worker fails to parse and would exit...
        "print(z.proc.pid, worker.pid, flush=True)\n"
        "time.sleep(60)\n")
    runner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    zygote_pid, worker_pid = (int(x) for x in runner.stdout.readline().split())
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert gone(zygote_pid), "the zygote outlived the runner"
    assert gone(worker_pid), "the worker outlived the runner"


def gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_zygote_that_cannot_start_is_reported_so_the_runner_falls_back() -> None:
    with pytest.raises(ZygoteError):
        Zygote([sys.executable, "-c", "import sys; sys.exit(3)", "--"], os.environ)


def test_the_zygote_preloads_torch_without_starting_threads() -> None:
    pytest.importorskip("torch")
    with zygote_or_none(zygote_argv(), os.environ) as zygote:
        assert zygote is not None
        proc = psutil.Process(zygote.proc.pid)
        # the zygote starts no thread of its own (a fork from a threaded process may copy a
        # held lock); importing torch starts one native helper, as it does before
        # DataLoader forks its workers, and no OpenMP pool (no operation ran)
        assert proc.num_threads() <= 2
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "libtorch" in maps
    assert zygote.proc.poll() is not None


def test_after_the_zygote_preload_building_an_optimizer_imports_nothing() -> None:
    """Building a torch optimizer imports dynamo; the zygote's preload has, so a training
    case's set-up in a forked worker imports nothing more (1.5 s per case on a 2-core CPU)."""
    pytest.importorskip("torch")
    code = ("import sys\n"
            "from greenbench.zygote import _preload\n"
            "_preload()\n"
            "import torch\n"
            "before = set(sys.modules)\n"
            "torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())\n"
            "new = sorted(set(sys.modules) - before)\n"
            "assert not new, new[:5]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
