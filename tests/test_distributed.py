"""Multi-rank jobs measured once per host and device, with real torch.distributed on 127.0.0.1.

Hosts are simulated with ``GREENBENCH_HOST_ID`` and a fake powercap tree each; the ranks are
real processes that meet in the job's TCPStore, and a helper inside each window advances the
counters by known joules, so every expectation is exact.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from greenbench.distributed.combine import combine, window_part
from greenbench.distributed.election import elect
from greenbench.distributed.identity import RankIdentity, Reading
from greenbench.measurement import DomainEnergy, Measurement
from tests.powercap_fixtures import intel_package, make_powercap_tree, subzone

pytest.importorskip("torch.distributed")

RANK_SCRIPT = Path(__file__).with_name("distributed_rank.py")
REPO = Path(__file__).parent.parent


# --------------------------------------------------------------------------- the election

def ident(rank: int, host: str, *readings: Reading, uses: tuple[str, ...] = ()) -> RankIdentity:
    return RankIdentity(rank, 4, rank % 2, None, host, host, "0", tuple(readings), uses)


PKG, DRAM = Reading("cpu-package:0", "host"), Reading("dram:0", "host")


def test_host_counters_are_read_by_the_lowest_rank_of_each_host() -> None:
    election = elect([ident(3, "b", PKG, DRAM), ident(0, "a", PKG, DRAM),
                      ident(1, "a", PKG, DRAM), ident(2, "b", PKG, DRAM)])
    assert election.domains_of(0) == election.domains_of(2) == {"cpu-package:0", "dram:0"}
    assert election.domains_of(1) == election.domains_of(3) == set()


def test_a_gpu_two_ranks_see_is_read_once_by_the_rank_that_uses_it() -> None:
    g0, g1 = Reading("gpu:0", "device", "GPU-aaa"), Reading("gpu:1", "device", "GPU-bbb")
    election = elect([ident(0, "a", g0, g1, uses=("GPU-aaa",)),
                      ident(1, "a", Reading("gpu:0", "device", "GPU-bbb"),
                            Reading("gpu:1", "device", "GPU-aaa"), uses=("GPU-bbb",))])
    readers = {d.uuid: (d.rank, d.domain) for d in election.duties}
    assert readers == {"GPU-aaa": (0, "gpu:0"), "GPU-bbb": (1, "gpu:0")}
    assert all(d.not_counted is None for d in election.duties)


def test_a_gpu_no_rank_uses_is_read_once_and_not_counted() -> None:
    idle = Reading("gpu:1", "device", "GPU-idle")
    election = elect([ident(0, "a", idle), ident(1, "a", idle)])
    (duty,) = election.duties
    assert duty.rank == 0 and duty.not_counted and "not attributed" in duty.not_counted


def test_a_process_scope_estimate_is_read_by_every_rank() -> None:
    own = Reading("cpu-package:0", "process")
    election = elect([ident(0, "a", own), ident(1, "a", own)])
    assert [d.rank for d in election.duties] == [0, 1]


# --------------------------------------------------------------------------- combining

def part(rank: int, domains: list[tuple[str, float, str]], start: float = 0.0,
         duration: float = 1.0, wall: float = 1000.0) -> dict:
    m = Measurement("w", start, start + duration, [
        DomainEnergy(d, e, method, method, e / duration, None, 3) for d, e, method in domains],
        start_wall_s=wall)
    return window_part(rank, m, wall + duration)


def test_energies_add_across_hosts_and_the_duration_is_the_longest_rank() -> None:
    ids = [ident(0, "a", PKG), ident(1, "a", PKG), ident(2, "b", PKG)]
    parts = {0: part(0, [("cpu-package:0", 30.0, "counter")], duration=2.0),
             1: part(1, [], duration=2.5),
             2: part(2, [("cpu-package:0", 12.0, "counter")], duration=1.5)}
    job = combine("w", parts, ids)
    assert job.energy_j == pytest.approx(42.0)
    assert job.duration_s == pytest.approx(2.5)
    assert [(h.host_id, h.energy_j) for h in job.hosts] == [("a", 30.0), ("b", 12.0)]
    assert not job.partial and not job.is_estimate and not job.warnings


def test_process_scope_estimates_of_two_ranks_on_one_host_add() -> None:
    own = Reading("cpu-package:0", "process")
    job = combine("w", {0: part(0, [("cpu-package:0", 2.0, "estimate")]),
                        1: part(1, [("cpu-package:0", 3.0, "estimate")])},
                  [ident(0, "a", own), ident(1, "a", own)])
    (host,) = job.hosts
    assert host.energy_j == pytest.approx(5.0) and host.readers == {"cpu-package:0": [0, 1]}
    assert job.is_estimate


def test_a_missing_rank_makes_the_window_partial_with_its_host_named() -> None:
    ids = [ident(0, "a", PKG), ident(1, "b", PKG)]
    job = combine("w", {0: part(0, [("cpu-package:0", 30.0, "counter")])}, ids, missing=[1])
    assert job.partial and job.missing_hosts == ["b"] and job.energy_j is None
    assert job.reported_energy_j == pytest.approx(30.0)
    assert any("partial" in w and "host(s) b" in w for w in job.warnings)


def test_wall_clocks_out_of_step_are_flagged() -> None:
    ids = [ident(0, "a", PKG), ident(1, "b", PKG)]
    job = combine("w", {0: part(0, [("cpu-package:0", 1.0, "counter")], wall=1000.0),
                        1: part(1, [("cpu-package:0", 1.0, "counter")], wall=1005.0)}, ids)
    assert job.clock_spread_s == pytest.approx(5.0)
    assert any("wall clocks differ by 5 s" in w for w in job.warnings)


# --------------------------------------------------------------------------- real ranks

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Host:
    """A simulated host: its id and its fake powercap tree (package 0 with a DRAM zone)."""

    def __init__(self, base: Path, name: str, *, rapl: bool = True,
                 max_range_uj: int | None = None, start_uj: int = 0) -> None:
        self.name = name
        self.root: Path | None = None
        if rapl:
            kwargs = {} if max_range_uj is None else {"max_energy_range_uj": max_range_uj}
            tree = make_powercap_tree(base / name, packages=[intel_package(
                0, subzones=(subzone("dram", **kwargs),))])
            if max_range_uj is not None:
                tree.write("intel-rapl:0", "max_energy_range_uj", f"{max_range_uj}\n")
            for zone in ("intel-rapl:0", "intel-rapl:0:0"):
                tree.write(zone, "energy_uj", f"{start_uj:020d}\n")
            self.root = tree.root
            self.package = tree.zone("intel-rapl:0") / "energy_uj"
            self.dram = tree.zone("intel-rapl:0:0") / "energy_uj"

    def env(self) -> dict[str, str]:
        env = {"GREENBENCH_HOST_ID": self.name}
        if self.root is not None:
            env["GREENBENCH_POWERCAP_ROOT"] = str(self.root)
        return env


def launch(ranks: list[Mapping[str, str]], tmp_path: Path, timeout_s: float = 5.0
           ) -> tuple[list[subprocess.Popen], Path]:
    port, out = free_port(), tmp_path / "job.json"
    procs = []
    for rank, extra in enumerate(ranks):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "RANK": str(rank), "WORLD_SIZE": str(len(ranks)), "LOCAL_RANK": "0",
               "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "T_OUT": str(out),
               "T_TIMEOUT_S": str(timeout_s), "T_GPU_DIR": str(tmp_path), **extra}
        procs.append(subprocess.Popen([sys.executable, str(RANK_SCRIPT)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs, out


def finish(procs: list[subprocess.Popen], wait: int = 30) -> list[tuple[int, str]]:
    done = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        done.append((p.returncode, err))
    return done


def run_job(ranks: list[Mapping[str, str]], tmp_path: Path, timeout_s: float = 5.0) -> dict:
    procs, out = launch(ranks, tmp_path, timeout_s)
    for code, err in finish(procs):
        assert code == 0, err[-800:]
    return json.loads(out.read_text())


def advancing(host: Host, package_j: float, dram_j: float) -> dict[str, str]:
    return {"T_ADVANCE": f"{host.package}={package_j};{host.dram}={dram_j}"}


def host_energy(job: dict) -> dict[str, float]:
    return {h["host_id"]: h["energy_j"] for h in job["hosts"]}


@pytest.mark.timeout(30)
def test_two_ranks_on_one_host_count_its_counters_once(tmp_path: Path) -> None:
    a = Host(tmp_path, "host-a")
    job = run_job([{**a.env(), **advancing(a, 30.0, 4.0)}, a.env()], tmp_path)
    assert job["energy_j"] == pytest.approx(34.0, abs=1e-6)
    assert host_energy(job) == pytest.approx({"host-a": 34.0})
    readers = {(d["rank"], d["domain"]) for d in job["election"]}
    assert readers == {(0, "cpu-package:0"), (0, "dram:0")}


@pytest.mark.timeout(30)
def test_four_ranks_on_two_hosts_add_the_hosts(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "host-a"), Host(tmp_path, "host-b")
    job = run_job([{**a.env(), **advancing(a, 30.0, 4.0)}, a.env(),
                   {**b.env(), **advancing(b, 20.0, 2.0)}, b.env()], tmp_path)
    assert host_energy(job) == pytest.approx({"host-a": 34.0, "host-b": 22.0})
    assert job["energy_j"] == pytest.approx(56.0, abs=1e-6)
    assert {d["rank"] for d in job["election"]} == {0, 2}
    assert not job["partial"] and job["expected_hosts"] == ["host-a", "host-b"]


@pytest.mark.timeout(30)
def test_a_rapl_wrap_inside_a_collective_window(tmp_path: Path) -> None:
    # a 10 J range, the counters 1 J short of it: 3 J more wraps both
    a = Host(tmp_path, "host-a", max_range_uj=10_000_000, start_uj=9_000_000)
    b = Host(tmp_path, "host-b")
    job = run_job([{**a.env(), **{"T_ADVANCE": f"{a.package}=3;{a.dram}=3"}},
                   {**b.env(), **advancing(b, 5.0, 1.0)}], tmp_path)
    assert host_energy(job) == pytest.approx({"host-a": 6.0, "host-b": 6.0})


@pytest.mark.timeout(30)
def test_two_ranks_that_see_the_same_gpu_count_it_once(tmp_path: Path) -> None:
    a = Host(tmp_path, "host-a")
    for uuid in ("GPU-0", "GPU-1"):
        (tmp_path / f"{uuid}.mj").write_text(f"{0:020d}\n")
    both = "gpu:0=GPU-0;gpu:1=GPU-1"
    job = run_job([{**a.env(), **advancing(a, 10.0, 1.0), "T_GPU": both, "T_USES": "GPU-0",
                    "T_GPU_J": "250"},
                   {**a.env(), "T_GPU": "gpu:0=GPU-1;gpu:1=GPU-0", "T_USES": "GPU-1",
                    "T_GPU_J": "150"}], tmp_path)
    assert job["energy_j"] == pytest.approx(411.0, abs=1e-6)
    gpus = {(d["rank"], d["uuid"]) for d in job["election"] if d["sharing"] == "device"}
    assert gpus == {(0, "GPU-0"), (1, "GPU-1")}


@pytest.mark.timeout(30)
def test_one_host_without_rapl_is_estimated_and_the_job_says_so(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "host-a"), Host(tmp_path, "host-b", rapl=False)
    job = run_job([{**a.env(), **advancing(a, 30.0, 4.0)}, b.env()], tmp_path)
    hosts = {h["host_id"]: h for h in job["hosts"]}
    assert hosts["host-a"]["energy_j"] == pytest.approx(34.0) and not hosts["host-a"]["estimate"]
    assert hosts["host-b"]["estimate"] and job["estimate"]


@pytest.mark.timeout(30)
def test_a_clock_offset_between_hosts_is_flagged(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "host-a"), Host(tmp_path, "host-b")
    job = run_job([a.env(), {**b.env(), "T_CLOCK_OFFSET_S": "7"}], tmp_path)
    assert job["clock_spread_s"] == pytest.approx(7.0, abs=0.5)
    assert any("wall clocks differ" in w for w in job["warnings"])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("behaviour", ["die", "hang"])
def test_a_rank_that_dies_or_hangs_makes_the_window_partial_in_time(
        tmp_path: Path, behaviour: str) -> None:
    a, b = Host(tmp_path, "host-a"), Host(tmp_path, "host-b")
    procs, out = launch([{**a.env(), **advancing(a, 30.0, 4.0)},
                         {**b.env(), "T_BEHAVIOUR": behaviour}], tmp_path, timeout_s=2.0)
    code, err = finish(procs[:1], wait=20)[0]
    assert code == 0, err[-800:]
    finish(procs[1:], wait=1)
    job = json.loads(out.read_text())
    assert job["partial"] and job["missing_hosts"] == ["host-b"] and job["energy_j"] is None
    assert host_energy(job) == pytest.approx({"host-a": 34.0})


@pytest.mark.timeout(30)
def test_ranks_that_disagree_on_the_workload_are_refused_with_both_named(
        tmp_path: Path) -> None:
    a = Host(tmp_path, "host-a")
    procs, _ = launch([{**a.env(), "T_WORKLOAD": "transformer"},
                       {**a.env(), "T_WORKLOAD": "attention"}], tmp_path)
    for code, err in finish(procs):
        assert code == 2
        assert "disagree on the workload (rank 0: transformer; rank 1: attention)" in err
        assert "Traceback" not in err


@pytest.mark.timeout(60)
def test_two_torchrun_agents_on_one_machine_act_as_two_nodes(tmp_path: Path) -> None:
    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    port, out = free_port(), tmp_path / "job.json"
    agents = []
    for node, (host, extra) in enumerate([(a, advancing(a, 30.0, 4.0)),
                                          (b, advancing(b, 20.0, 2.0))]):
        env = {**os.environ, **host.env(), **extra, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(REPO), "T_OUT": str(out), "T_TIMEOUT_S": "10"}
        agents.append(subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
             "--nproc-per-node", "1", "--node-rank", str(node), "--master-addr",
             "127.0.0.1", "--master-port", str(port), str(RANK_SCRIPT)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for code, err in finish(agents, wait=50):
        assert code == 0, err[-1500:]
    job = json.loads(out.read_text())
    assert host_energy(job) == pytest.approx({"node-a": 34.0, "node-b": 22.0})
    assert job["energy_j"] == pytest.approx(56.0, abs=1e-6)


# --------------------------------------------------------------------------- bad input

def test_an_unreachable_master_is_one_line_within_the_timeout() -> None:
    import time

    from greenbench.distributed import DistributedMeter
    from greenbench.errors import UserError

    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    t0 = time.monotonic()
    with pytest.raises(UserError, match=r"cannot reach the job's store at 127\.0\.0\.1:\d+ "
                                        r"within 1 s"):
        DistributedMeter([], rank=1, world_size=2, environ=env, timeout_s=1.0)
    assert time.monotonic() - t0 < 10


def test_without_a_master_address_it_says_what_sets_one() -> None:
    from greenbench.distributed import DistributedMeter
    from greenbench.errors import UserError

    with pytest.raises(UserError, match="needs MASTER_ADDR and MASTER_PORT"):
        DistributedMeter([], rank=0, world_size=2, environ={}, timeout_s=1.0)
