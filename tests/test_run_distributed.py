"""``greenbench run WORKLOAD --nproc-per-node N``: real torchrun jobs on 127.0.0.1.

Hosts are simulated with ``GREENBENCH_HOST_ID`` and a fake powercap tree each
(tests/test_distributed.py's Host); every step of every rank adds known joules to its host's
package counter (tests/run_distributed_workload.py), so the energies are exact. Two nodes
are two ``greenbench run --nnodes 2`` processes, each with its own host, as on two machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.run_distributed_workload import advance
from tests.test_distributed import REPO, Host, finish, free_port

pytest.importorskip("torch.distributed")

WORKLOAD_FILE = Path(__file__).with_name("run_distributed_workload.py")
#: a short protocol: the figures are exact whatever its lengths
SHORT = ["--repeats", "2", "--warmup", "0.2", "--min-duration", "0.1", "--idle", "0.3",
         "--settle", "0", "--workload-file", str(WORKLOAD_FILE)]


def greenbench_run(tmp_path: Path, name: str, args: list[str], env: Mapping[str, str]
                   ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "greenbench", "run", *args, "--store",
         str(tmp_path / f"{name}.db"), "-o", str(tmp_path / f"{name}.json")],
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def node_env(host: Host) -> dict[str, str]:
    return {**host.env(), "T_PACKAGE": str(host.package)}


def the_case(tmp_path: Path, name: str) -> dict:
    (case,) = json.loads((tmp_path / f"{name}.json").read_text())["run"]["cases"]
    return case


def per_step(case: dict, metric: str) -> list[float]:
    return [r["metrics"][metric] for r in case["repeats"]]


@pytest.mark.timeout(60)
def test_two_ranks_on_one_host_count_its_counters_once(tmp_path: Path) -> None:
    a = Host(tmp_path, "host-a")
    proc = greenbench_run(tmp_path, "a", ["counter-steps", "--nproc-per-node", "2", *SHORT],
                          node_env(a))
    (code, err), = finish([proc], wait=55)
    assert code == 0, err[-1500:]
    case = the_case(tmp_path, "a")
    assert case["status"] == "ok"
    # each rank adds 1 J a step: 2 J a step on the host, read once (twice would be 4 J)
    assert per_step(case, "energy_j") == pytest.approx([2.0, 2.0], abs=1e-9)
    assert per_step(case, "domain:host-a/cpu-package:0:energy_j") == pytest.approx(
        [2.0, 2.0], abs=1e-9)
    assert case["units_per_step"] == 2.0  # one step of the job is a step of each rank
    assert any("job: 2 rank(s) on 1 host(s) (host-a: rank(s) 0, 1, read by rank(s) 0)" in f
               for f in case["flags"])


class IdlePower:
    """Advances each host's DRAM counter at a fixed power, all the time (its idle draw)."""

    def __init__(self, watts: Mapping[Path, float]) -> None:
        self.watts = watts
        self.stop = threading.Event()

    def run(self) -> None:
        last = time.monotonic()
        while not self.stop.wait(0.002):
            now = time.monotonic()
            for path, w in self.watts.items():
                advance(str(path), w * (now - last))
            last = now


@pytest.mark.timeout(120)
def test_two_nodes_add_their_hosts_and_subtract_each_hosts_idle(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    idle = IdlePower({a.dram: 5.0, b.dram: 20.0})
    helper = threading.Thread(target=idle.run, daemon=True)
    helper.start()
    port = free_port()
    try:
        procs = [greenbench_run(tmp_path, name, [
            "counter-steps", "-p", "joules=1", "--nproc-per-node", "1", "--nnodes", "2",
            "--node-rank", str(node), "--master-port", str(port), *SHORT], node_env(host))
            for node, (name, host) in enumerate([("a", a), ("b", b)])]
        for code, err in finish(procs, wait=110):
            assert code == 0, err[-1500:]
    finally:
        idle.stop.set()
        helper.join(5)
    case = the_case(tmp_path, "a")
    # the steps' joules, exactly: 1 J a step on each host, the job's 2 J
    for host in ("node-a", "node-b"):
        assert per_step(case, f"domain:{host}/cpu-package:0:energy_j") == pytest.approx(
            [1.0, 1.0], abs=1e-9)
    # the idle baseline is each host's own (DRAM only: no step ran), each host once
    idle_w = {d["domain"]: d["mean_power_w"] for d in case["idle"]["domains"]}
    assert idle_w["node-a/cpu-package:0"] == idle_w["node-b/cpu-package:0"] == 0.0
    assert idle_w["node-a/dram:0"] == pytest.approx(5.0, rel=0.3)
    assert idle_w["node-b/dram:0"] == pytest.approx(20.0, rel=0.3)
    # net: the job's gross less every host's idle power over the repeat, which leaves the
    # steps' 2 J
    for r in case["repeats"]:
        m = r["metrics"]
        assert m["net_energy_j"] == pytest.approx(
            m["energy_j"] - sum(idle_w.values()) * m["time_s"], rel=1e-9)
        assert m["net_energy_j"] == pytest.approx(2.0, rel=0.05)
    # the run keeps the job: each host's part over the measured repeats, who read what
    job = json.loads((tmp_path / "a.json").read_text())["run"]["job"]
    steps = sum(r["steps"] for r in case["repeats"])
    assert job["world_size"] == 2 and job["expected_hosts"] == ["node-a", "node-b"]
    for rank, host in enumerate(job["hosts"]):
        package = next(d for d in host["domains"] if d["domain"] == "cpu-package:0")
        assert package["energy_j"] == pytest.approx(1.0 * steps, abs=1e-9)
        assert host["ranks"] == package["read_by"] == [rank]
    # node 1 took part and says who stores the figures
    other = the_case(tmp_path, "b")
    assert other["status"] == "skipped" and "node 0 stores" in other["error"]


@pytest.mark.timeout(120)
def test_nodes_that_disagree_on_the_workload_are_refused_with_both_named(
        tmp_path: Path) -> None:
    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    port = free_port()
    procs = [greenbench_run(tmp_path, name, [
        "counter-steps", "-p", f"joules={joules}", "--nproc-per-node", "1", "--nnodes", "2",
        "--node-rank", str(node), "--master-port", str(port), *SHORT], node_env(host))
        for node, (name, host, joules) in enumerate([("a", a, 1), ("b", b, 2)])]
    finish(procs, wait=110)
    for name in ("a", "b"):
        case = the_case(tmp_path, name)
        assert case["status"] == "failed", case
        assert ("the ranks disagree on the workload (rank 0: counter-steps[joules=1.0]; "
                "rank 1: counter-steps[joules=2.0])") in case["error"]


@pytest.mark.timeout(60)
def test_ranks_that_disagree_on_the_greenbench_version_are_refused_with_both_named(
        tmp_path: Path) -> None:
    from greenbench import __version__

    a = Host(tmp_path, "host-a")
    proc = greenbench_run(tmp_path, "a", ["counter-steps", "--nproc-per-node", "2", *SHORT],
                          {**node_env(a), "T_VERSION": "0.0.1", "T_VERSION_RANK": "1"})
    finish([proc], wait=55)
    case = the_case(tmp_path, "a")
    assert case["status"] == "failed"
    assert (f"the ranks disagree on the greenbench version (rank 0: {__version__}; "
            "rank 1: 0.0.1)") in case["error"]


@pytest.mark.timeout(60)
def test_a_rank_that_dies_fails_the_case_in_time_and_is_named(tmp_path: Path) -> None:
    a = Host(tmp_path, "host-a")
    proc = greenbench_run(tmp_path, "a", ["counter-steps", "--nproc-per-node", "2", *SHORT],
                          {**node_env(a), "T_DIE_RANK": "1"})
    (code, err), = finish([proc], wait=55)
    assert code == 1, err[-1500:]  # a failed case, stored
    case = the_case(tmp_path, "a")
    assert case["status"] == "failed" and not case["repeats"]
    assert case["error"].startswith("rank 1 exited with code 3 during the case")


# --------------------------------------------------------------------------- bad input

def run_cli(*args: str, timeout_s: float = 25) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "greenbench", "run", *args, "--workload-file",
         str(WORKLOAD_FILE)], env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=timeout_s)


@pytest.mark.parametrize(("args", "message"), [
    (["counter-steps", "--nproc-per-node", "0"],
     "--nproc-per-node 0: use 1 or more ranks per node"),
    (["counter-steps", "--nproc-per-node", "1", "--nnodes", "2", "--node-rank", "2"],
     "--node-rank 2: use 0 to 1 for --nnodes 2"),
    (["counter-steps", "--nnodes", "2"],
     "--nnodes and --node-rank place the ranks of --nproc-per-node N: give it too"),
    (["counter-steps"],
     "workload counter-steps is distributed: run it on the ranks of a job with "
     "--nproc-per-node N (1 for a single rank)"),
    (["one-process", "--nproc-per-node", "2"],
     "workload one-process is not distributed: it cannot run on 2 ranks"),
])
def test_a_placement_that_cannot_work_is_one_line_and_exit_2(
        args: list[str], message: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if "error" in line]) == 1


@pytest.mark.timeout(30)
def test_an_unreachable_node_0_is_one_line_within_the_job_timeout() -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    done = run_cli("counter-steps", "--nproc-per-node", "1", "--nnodes", "2", "--node-rank",
                   "1", "--master-port", str(port), "--job-timeout", "1")
    assert done.returncode == 2, done.stderr
    assert f"cannot reach node 0 at 127.0.0.1:{port} within 1 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - t0 < 20


@pytest.mark.timeout(60)
def test_transformer_ddp_trains_on_two_ranks_as_one_job(tmp_path: Path) -> None:
    proc = greenbench_run(tmp_path, "ddp", [
        "transformer-ddp", "-p", "seq_len=16", "-p", "batch=2", "-p", "vocab=64",
        "--nproc-per-node", "2", *SHORT], {"GREENBENCH_HOST_ID": "host-a"})
    (code, err), = finish([proc], wait=55)
    assert code == 0, err[-1500:]
    case = the_case(tmp_path, "ddp")
    assert case["status"] == "ok" and len(case["repeats"]) == 2
    assert case["units_per_step"] == 2 * 2 * 16  # two ranks' batches of 2 x 16 tokens a step
    assert all(r["quality"]["loss"] > 0 for r in case["repeats"])
    assert any(f.startswith("job: 2 rank(s) on 1 host(s)") for f in case["flags"])


@pytest.mark.parametrize(("codes", "named"), [
    ({0: -15, 1: 3}, "rank 1 exited with code 3 during the case"),  # torchrun stopped rank 0
    ({0: 1, 1: -9}, "rank 1 was killed by SIGKILL during the case"),
    ({0: -15, 1: -15}, "rank 0 was killed by SIGTERM; rank 1 was killed by SIGTERM during"),
])
def test_the_rank_that_ended_the_job_is_named_not_those_torchrun_stopped_after(
        codes: dict[int, int], named: str) -> None:
    from greenbench.distributed.launch import died_ranks

    text = died_ranks(codes)
    assert text is not None and text.startswith(named)
    assert died_ranks({0: 1, 1: 1}) is None  # both reported their own errors
