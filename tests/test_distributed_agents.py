"""``greenbench measure --distributed``: one agent per simulated host around an unchanged
command, meeting on 127.0.0.1; exact joules from counters the commands advance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_distributed import REPO, Host, finish, free_port

pytest.importorskip("torch.distributed")

#: the measured command: adds joules to counter files in place, wrapping as RAPL does
ADVANCE = """
import os, sys
from pathlib import Path
for pair in sys.argv[1:]:
    path, joules = pair.split("=")
    limit = int(Path(path).with_name("max_energy_range_uj").read_text())
    fd = os.open(path, os.O_RDWR)
    value = (int(os.pread(fd, 64, 0)) + round(float(joules) * 1e6)) % limit
    os.pwrite(fd, f"{value:020d}\\n".encode(), 0)
    os.close(fd)
"""


def agent(host: Host, node: int, nnodes: int, port: int, out: Path, *command: str,
          timeout_s: float = 60.0) -> subprocess.Popen:
    env = {**os.environ, **host.env(), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "GREENBENCH_STORE": str(out.parent / "store.sqlite")}
    return subprocess.Popen(
        [sys.executable, "-m", "greenbench", "measure", "--distributed", "--nnodes",
         str(nnodes), "--node-rank", str(node), "--master-addr", "127.0.0.1", "--agent-port",
         str(port), "--job-timeout", str(timeout_s), "-o", str(out), "--", *command],
        env=env, stdout=out.with_suffix(".stdout").open("w"), stderr=subprocess.PIPE,
        text=True)


@pytest.mark.timeout(120)
def test_two_agents_measure_their_hosts_once_each_and_node_0_adds_them(
        tmp_path: Path) -> None:
    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    port = free_port()
    procs = [agent(a, 0, 2, port, tmp_path / "a.json", sys.executable, "-c", ADVANCE,
                   f"{a.package}=30", f"{a.dram}=4"),
             agent(b, 1, 2, port, tmp_path / "b.json", sys.executable, "-c", ADVANCE,
                   f"{b.package}=20", f"{b.dram}=2")]
    for code, err in finish(procs, wait=110):
        assert code == 0, err[-1500:]
    job = json.loads((tmp_path / "a.json").read_text())
    assert {h["host_id"]: h["energy_j"] for h in job["hosts"]} == pytest.approx(
        {"node-a": 34.0, "node-b": 22.0})
    assert job["energy_j"] == pytest.approx(56.0, abs=1e-6) and job["exit_code"] == 0
    assert not (tmp_path / "b.json").exists()  # node 0 reports the job
    assert "job: 2 host(s)" in (tmp_path / "a.stdout").read_text()


@pytest.mark.timeout(120)
def test_each_agent_passes_its_commands_exit_code_through(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    port = free_port()
    procs = [agent(a, 0, 2, port, tmp_path / "a.json", sys.executable, "-c", "pass"),
             agent(b, 1, 2, port, tmp_path / "b.json", sys.executable, "-c",
                   "raise SystemExit(3)")]
    assert [code for code, _ in finish(procs, wait=110)] == [0, 3]
    assert json.loads((tmp_path / "a.json").read_text())["energy_j"] == pytest.approx(0.0)


@pytest.mark.timeout(30)
def test_an_agent_whose_peer_never_comes_reports_partial_in_time(tmp_path: Path) -> None:
    a = Host(tmp_path, "node-a")
    (code, err), = finish([agent(a, 0, 2, free_port(), tmp_path / "a.json",
                                 sys.executable, "-c", "pass", timeout_s=2.0)], wait=25)
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("greenbench: error:")
    assert "rank(s) 1 did not start measuring within 2 s" in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["--nnodes", "2", "--node-rank", "2"], "--node-rank 2: use 0 to 1 for --nnodes 2"),
    (["--nnodes", "2", "--node-rank", "1", "--agent-port", "1"],
     "cannot reach node 0's agent at 127.0.0.1:1 within 1 s"),
])
def test_bad_placement_is_one_line_and_exit_2(tmp_path: Path, args: list[str],
                                               message: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "measure", "--distributed", "--master-addr",
         "127.0.0.1", "--job-timeout", "1", *args, "--", sys.executable, "-c", "pass"],
        env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
