"""The training callbacks under torch.distributed: a real two-rank gloo job on 127.0.0.1, the
ranks on simulated hosts (a fake powercap tree each), each rank advancing a counter of its host
by known joules in every training step. The logged energy is the job's, every host counted
once, logged and stored by rank 0 alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.store import Store
from tests.test_distributed import Host, finish, free_port

pytest.importorskip("torch.distributed")

RANK_SCRIPT = Path(__file__).with_name("training_rank.py")
REPO = Path(__file__).parent.parent
#: joules per training step: rank 0 adds to its host's package counter, rank 1 to a DRAM one
PACKAGE_J, DRAM_J = 3.0, 1.0
STEP_J = PACKAGE_J + DRAM_J


def train(tmp_path: Path, framework: str, hosts: tuple[str, str]) -> tuple[list[dict], Path]:
    """Run the job, rank r on simulated host ``hosts[r]``; what each rank saw, and the store."""
    made = {name: Host(tmp_path, name) for name in dict.fromkeys(hosts)}
    a, b = made[hosts[0]], made[hosts[1]]
    port, out, store = free_port(), tmp_path / "seen", tmp_path / "s.sqlite"
    procs = []
    for rank, (host, counter) in enumerate([(a, f"{a.package}={PACKAGE_J}"),
                                            (b, f"{b.dram}={DRAM_J}")]):
        env = {**os.environ, **host.env(), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_RANK": str(rank), "NODE_RANK": "0", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(REPO), "T_FRAMEWORK": framework, "T_ADVANCE": counter,
               "T_OUT": str(out), "T_STORE": str(store)}
        env.pop("GREENBENCH_STORE", None)
        procs.append(subprocess.Popen([sys.executable, str(RANK_SCRIPT)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    for code, err in finish(procs, wait=100):
        assert code == 0, err[-1500:]
    return [json.loads(Path(f"{out}.{r}").read_text()) for r in range(2)], store


def energy_logs(seen: list[dict], key: str) -> list[float]:
    return [log[key] for log in seen if key in log]


def stored_run(store: Path, run_id: str):  # noqa: ANN201
    with Store(store) as s:
        return s.get_run(run_id)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_trainer_under_ddp_on_two_hosts_logs_the_jobs_energy_once(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    (zero, one), store = train(tmp_path, "huggingface", ("host-a", "host-b"))
    # 6 steps, a log every 2: three intervals of 2 steps, each 2 x (3 J on host-a + 1 J on
    # host-b): the job's, not rank 0's host alone
    assert energy_logs(zero["seen"], "energy_j") == pytest.approx([2 * STEP_J] * 3, abs=1e-6)
    assert all(log["energy_method"] == "counter" for log in zero["seen"] if "energy_j" in log)
    (total,) = energy_logs(zero["seen"], "train_energy_j")
    assert total == pytest.approx(6 * STEP_J, abs=1e-6)
    # rank 1 measured the same job windows, and logged and stored none of them
    assert one["total"] == pytest.approx(zero["total"]) and one["run_id"] is None
    assert not [log for log in one["seen"] if any(k.endswith("energy_j") for k in log)]
    run = stored_run(store, zero["run_id"])
    (case,) = run.cases
    assert [r.measurement.energy_j for r in case.repeats] == \
        pytest.approx([2 * STEP_J] * 3, abs=1e-6)
    assert case.units_per_step == 4.0  # 2 samples per rank and step, 2 ranks
    assert case.params == {}
    hosts = {h["host_id"]: h for h in run.job["hosts"]}
    assert {k: h["ranks"] for k, h in hosts.items()} == {"host-a": [0], "host-b": [1]}
    assert {k: h["energy_j"] for k, h in hosts.items()} == \
        pytest.approx({"host-a": 6 * PACKAGE_J, "host-b": 6 * DRAM_J}, abs=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_lightning_under_ddp_counts_the_host_of_two_ranks_once(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    (zero, one), store = train(tmp_path, "lightning", ("host-a", "host-a"))
    # 32 samples over 2 ranks in batches of 4: 4 steps, a log every 2; both ranks read the
    # host's counters, rank 0 alone for the job (both counting would make it twice the truth)
    assert energy_logs(zero["seen"], "energy_j") == pytest.approx([2 * STEP_J] * 2, abs=1e-6)
    assert energy_logs(zero["seen"], "epoch_energy_j") == pytest.approx([4 * STEP_J],
                                                                         abs=1e-6)
    (total,) = energy_logs(zero["seen"], "train_energy_j")
    assert total == pytest.approx(4 * STEP_J, abs=1e-6)
    assert one["seen"] == [] and one["run_id"] is None
    with Store(store) as s:
        (only,) = s.list_runs()  # one run for the job, not one per rank
    run = stored_run(store, zero["run_id"])
    assert run.cases[0].units_per_step == 8.0
    (h,) = run.job["hosts"]
    assert h["host_id"] == "host-a" and h["ranks"] == [0, 1]
    assert {d["domain"]: d["read_by"] for d in h["domains"]} == \
        {"cpu-package:0": [0], "dram:0": [0]}


def test_a_window_a_rank_did_not_report_to_logs_no_energy_and_names_the_missing() -> None:
    from greenbench.distributed.combine import combine
    from greenbench.integrations.job_windows import job_measurement
    from greenbench.integrations.training import Interval
    from tests.test_distributed import PKG, ident, part

    job = combine("interval 1", {0: part(0, [("cpu-package:0", 30.0, "counter")])},
                  [ident(0, "a", PKG), ident(1, "b", PKG)], missing=[1])
    m = job_measurement(job)
    assert m.energy_j is None  # not host a's 30 J: the job's energy is not known
    assert m.domain("a/cpu-package:0").energy_j == 30.0
    assert "no report from rank(s) 1" in (m.domain("b/unreported").error or "")
    assert Interval(m, steps=2, samples=8.0).logs() == {"energy_method": "none"}
