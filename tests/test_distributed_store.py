"""Multi-host runs in the store and the export format: ``run.job`` with every host, exact joules.

The two-host job here is built from the parts two simulated hosts' ranks would send (the
combining is greenbench.distributed.combine's own); the agents' test stores a real one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from greenbench.distributed.combine import JobMeasurement, combine, window_part
from greenbench.distributed.election import Election, elect
from greenbench.distributed.identity import RankIdentity, Reading
from greenbench.distributed.record import JobRecord
from greenbench.distributed.stored import job_run
from greenbench.errors import UserError
from greenbench.measurement import DomainEnergy, Measurement
from greenbench.records import FORMAT_VERSION, RunRecord
from greenbench.results_format import from_document, read_document_file, to_document
from greenbench.store import Store

DATA = Path(__file__).with_name("data")
PKG, DRAM = Reading("cpu-package:0", "host"), Reading("dram:0", "host")
GPU = Reading("gpu:0", "device", "GPU-b0")


def identity(rank: int, host: str, *readings: Reading, uses: tuple[str, ...] = (),
             slurm: str | None = None) -> RankIdentity:
    return RankIdentity(rank, 3, rank, None, host, f"{host}.cluster", "0.1.0", readings, uses,
                        slurm_job_id=slurm, machine_key=f"key-{host}")


def part(rank: int, domains: list[tuple[str, float]], duration: float = 2.0) -> dict:
    m = Measurement("command", 0.0, duration, [
        DomainEnergy(d, e, "counter", "rapl" if not d.startswith("gpu") else "nvml",
                     e / duration, None, 4) for d, e in domains], start_wall_s=1000.0)
    return window_part(rank, m, 1000.0 + duration)


def two_host_job(missing: bool = False) -> tuple[JobMeasurement, list[RankIdentity], Election]:
    """node-a: ranks 0 and 1 (package 30 J, DRAM 4 J, read by rank 0); node-b: rank 2
    (package 20 J, DRAM 2 J, its GPU GPU-b0 50 J): 106 J in all."""
    ids = [identity(0, "node-a", PKG, DRAM, slurm="4242"), identity(1, "node-a", PKG, DRAM),
           identity(2, "node-b", PKG, DRAM, GPU, uses=("GPU-b0",))]
    election = elect(ids)
    parts = {0: part(0, [("cpu-package:0", 30.0), ("dram:0", 4.0)]), 1: part(1, [], 2.5)}
    if not missing:
        parts[2] = part(2, [("cpu-package:0", 20.0), ("dram:0", 2.0), ("gpu:0", 50.0)])
    return combine("command", parts, ids, missing=[2] if missing else []), ids, election


def two_host_run(missing: bool = False) -> RunRecord:
    job, ids, election = two_host_job(missing)
    return job_run(job, ids, election, workload="command", params={"command": "train.sh"},
                   unit="runs", sensors=[], config={"interval_s": 0.1})


def test_a_two_host_run_keeps_every_host_and_who_read_what() -> None:
    run = two_host_run()
    job = JobRecord.from_dict(run.job or {})
    assert job.world_size == 3 and job.expected_hosts == ["node-a", "node-b"]
    assert job.reporting_hosts == ["node-a", "node-b"] and not job.partial
    assert job.energy_j == pytest.approx(106.0)
    a, b = job.host("node-a"), job.host("node-b")
    assert (a.energy_j, b.energy_j) == (pytest.approx(34.0), pytest.approx(72.0))
    assert a.ranks == [0, 1] and a.machine_key == "key-node-a" and a.hostname == "node-a.cluster"
    assert {d.domain: d.read_by for d in a.domains} == {"cpu-package:0": [0], "dram:0": [0]}
    gpu = next(d for d in b.domains if d.domain == "gpu:0")
    assert (gpu.uuid, gpu.read_by, gpu.method, gpu.source) == ("GPU-b0", [2], "counter", "nvml")
    assert job.slurm_job_id == "4242" and job.duration_s == pytest.approx(2.5)
    assert {(d.rank, d.domain) for d in job.election} == {
        (0, "cpu-package:0"), (0, "dram:0"), (2, "cpu-package:0"), (2, "dram:0"), (2, "gpu:0")}


def test_the_runs_total_is_the_jobs_with_each_hosts_domains_named_by_host() -> None:
    (case,) = two_host_run().cases
    (repeat,) = case.repeats
    assert repeat.measurement.energy_j == pytest.approx(106.0)
    assert repeat.metrics["energy_j"] == pytest.approx(106.0)
    assert repeat.metrics["domain:node-b/gpu:0:energy_j"] == pytest.approx(50.0)
    assert repeat.metrics["domain:node-a/cpu-package:0:energy_j"] == pytest.approx(30.0)
    assert case.status == "ok" and repeat.measurement.method == "counter"


def test_a_partial_job_is_stored_without_a_total_and_names_the_missing_host() -> None:
    run = two_host_run(missing=True)
    (case,) = run.cases
    assert case.status == "failed" and not case.repeats
    assert case.error is not None and "node-b" in case.error and "no job total" in case.error
    job = JobRecord.from_dict(run.job or {})
    assert job.partial and job.missing_hosts == ["node-b"] and job.energy_j is None
    assert job.reporting_hosts == ["node-a"] and job.host("node-a").energy_j == \
        pytest.approx(34.0)


def test_a_two_host_run_round_trips_through_the_store_and_the_export(tmp_path: Path) -> None:
    run = two_host_run()
    with Store(tmp_path / "a.sqlite") as store:
        store.begin_run(run)
        doc = store.export_run(run.id)
    assert doc["format_version"] == FORMAT_VERSION == 2
    assert doc["run"]["job"] == run.job
    with Store(tmp_path / "b.sqlite") as other:
        other.import_run(json.loads(json.dumps(doc)))
        again = other.export_run(run.id)
        back = other.get_run(run.id)
    assert again == doc
    assert JobRecord.from_dict(back.job or {}).host("node-b").energy_j == pytest.approx(72.0)


def test_a_version_1_document_is_still_read_as_a_run_on_one_host() -> None:
    raw = json.loads((DATA / "v1_run.json").read_text())
    assert raw["format_version"] == 1
    run = read_document_file(DATA / "v1_run.json")
    assert run.job is None and run.cases
    assert to_document(run)["format_version"] == 2


def test_a_document_newer_than_this_reader_is_refused_with_the_upgrade_message() -> None:
    doc = to_document(two_host_run())
    doc["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(UserError, match=r"newer greenbench \(format 3 > 2\)"):
        from_document(doc, "job.json")


@pytest.mark.parametrize(("change", "message"), [
    (lambda j: j["hosts"][0]["domains"][0].update(energy_j=-1.0),
     r"run.job.hosts\[0\].domains\[0\].energy_j: -1.0 is negative"),
    (lambda j: j["hosts"][1].update(ranks="2"), r"run.job.hosts\[1\].ranks"),
    (lambda j: j["election"][0].update(who=1), r"run.job: not a job greenbench can read"),
    (lambda j: j["hosts"][0].update(watts=3), r"run.job.hosts\[0\]: unknown field 'watts'"),
    (lambda j: j.update(hostz=[]), r"run.job: unknown field 'hostz'"),
])
def test_a_malformed_job_is_refused_naming_the_field(change, message) -> None:  # noqa: ANN001
    doc = to_document(two_host_run())
    change(doc["run"]["job"])
    with pytest.raises(UserError, match=message):
        from_document(doc, "job.json")


@pytest.mark.timeout(120)
def test_measure_distributed_stores_the_job_as_a_run_on_node_0(tmp_path: Path) -> None:
    from tests.test_distributed import Host, finish, free_port
    from tests.test_distributed_agents import ADVANCE, agent

    a, b = Host(tmp_path, "node-a"), Host(tmp_path, "node-b")
    port = free_port()
    procs = [agent(a, 0, 2, port, tmp_path / "a.json", sys.executable, "-c", ADVANCE,
                   f"{a.package}=30", f"{a.dram}=4"),
             agent(b, 1, 2, port, tmp_path / "b.json", sys.executable, "-c", ADVANCE,
                   f"{b.package}=20", f"{b.dram}=2")]
    errors = [err for _, err in finish(procs, wait=110)]
    assert "stored run" in errors[0] and "stored run" not in errors[1]
    with Store(tmp_path / "store.sqlite", readonly=True) as store:
        (summary,) = store.list_runs()
        run = store.get_run(summary.id)
    job = JobRecord.from_dict(run.job or {})
    assert {h.host_id: h.energy_j for h in job.hosts} == pytest.approx(
        {"node-a": 34.0, "node-b": 22.0})
    assert job.world_size == 2 and not job.partial and all(h.machine_key for h in job.hosts)
    (case,) = run.cases
    assert case.workload == "command" and case.status == "ok"
    assert case.repeats[0].measurement.energy_j == pytest.approx(56.0, abs=1e-6)


@pytest.mark.timeout(60)
def test_the_in_process_api_stores_each_window_on_rank_0_where_asked(tmp_path: Path) -> None:
    from tests.test_distributed import Host, advancing, run_job

    a, b = Host(tmp_path, "host-a"), Host(tmp_path, "host-b")
    store = {"T_STORE": str(tmp_path / "ranks.sqlite")}
    run_job([{**a.env(), **advancing(a, 30.0, 4.0), **store}, {**a.env(), **store},
             {**b.env(), **advancing(b, 20.0, 2.0), **store}], tmp_path)
    with Store(tmp_path / "ranks.sqlite", readonly=True) as s:
        (summary,) = s.list_runs()  # rank 0 alone stores
        run = s.get_run(summary.id)
    job = JobRecord.from_dict(run.job or {})
    assert job.world_size == 3 and job.host("host-a").ranks == [0, 1]
    assert {h.host_id: h.energy_j for h in job.hosts} == pytest.approx(
        {"host-a": 34.0, "host-b": 22.0})
    assert run.cases[0].params == {"window": "train"}
    assert run.cases[0].repeats[0].metrics["energy_j"] == pytest.approx(56.0, abs=1e-6)


def test_a_reader_of_version_1_refuses_a_version_2_document_asking_to_upgrade(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import greenbench.results_format as results_format

    doc = to_document(two_host_run())
    monkeypatch.setattr(results_format, "FORMAT_VERSION", 1)
    with pytest.raises(UserError, match=r"job.json: written by a newer greenbench "
                                        r"\(format 2 > 1\): upgrade greenbench to read it"):
        results_format.from_document(doc, "job.json")


@pytest.mark.timeout(120)
def test_a_store_that_cannot_be_written_is_one_line_after_the_job_is_shown_and_written(
        tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.test_distributed import REPO, free_port

    (tmp_path / "a-file").write_text("")
    env = {**os.environ, "GREENBENCH_HOST_ID": "solo", "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "measure", "--distributed", "--nnodes", "1",
         "--node-rank", "0", "--master-addr", "127.0.0.1", "--agent-port", str(free_port()),
         "--store", str(tmp_path / "a-file" / "store.sqlite"), "-o", str(tmp_path / "job.json"),
         "--", sys.executable, "-c", "pass"],
        env=env, capture_output=True, text=True, timeout=110)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("greenbench: error: ")
    assert "Traceback" not in done.stderr and "job: 1 host(s)" in done.stdout
    assert json.loads((tmp_path / "job.json").read_text())["hosts"][0]["host_id"] == "solo"
