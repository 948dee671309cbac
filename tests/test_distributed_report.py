"""A stored two-host run in ``results show``, ``compare``, ``plot`` and ``report``: the
per-host breakdown with exact joules, at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.distributed.combine import combine
from greenbench.distributed.election import elect
from greenbench.distributed.stored import job_run
from greenbench.records import RunRecord
from greenbench.results_format import dumps_document, to_document
from tests.cli_runner import run_cli
from tests.test_distributed_store import DRAM, PKG, identity, part, two_host_run


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def saved(run: RunRecord, path: Path) -> str:
    path.write_text(dumps_document(to_document(run)))
    return str(path)


def other_job_run() -> RunRecord:
    """node-a again (27 J + 3 J) and node-c instead of node-b (40 J + 2 J): 72 J."""
    ids = [identity(0, "node-a", PKG, DRAM), identity(1, "node-c", PKG, DRAM)]
    job = combine("command", {0: part(0, [("cpu-package:0", 27.0), ("dram:0", 3.0)]),
                              1: part(1, [("cpu-package:0", 40.0), ("dram:0", 2.0)])}, ids)
    return job_run(job, ids, elect(ids), workload="command", params={"command": "train.sh"},
                   unit="runs", sensors=[], config={})


def table_rows(out: str) -> dict[str, list[str]]:
    """The breakdown's rows by their first cell (a host, or an indented domain: the first
    domain of that name wins)."""
    rows: dict[str, list[str]] = {}
    for line in out.splitlines():
        cells = [c for c in line.split("  ") if c.strip()]
        if cells:
            rows.setdefault(cells[0].strip(), [c.strip() for c in cells[1:]])
    return rows


def test_show_prints_each_host_its_domains_and_who_read_them(capsys, tmp_path: Path) -> None:
    done = run_cli(capsys, "results", "show", saved(two_host_run(), tmp_path / "job.json"))
    assert done.code == 0, done.err
    assert "hosts     2 of 2 reporting, world size 3, Slurm job 4242" in done.out
    rows = table_rows(done.out)
    assert rows["node-a"] == ["key-node-a", "0, 1", "34 J", "32%", "counter (rapl)"]
    assert rows["node-b"] == ["key-node-b", "2", "72 J", "68%", "counter (rapl, nvml)"]
    assert rows["gpu:0"] == ["read by 2", "50 J", "counter (nvml), GPU-b0"]
    assert rows["total"] == ["106 J", "counter"]
    assert max(len(line) for line in done.out.splitlines()) <= 80


def test_show_of_a_partial_job_names_the_missing_host_and_has_no_total(
        capsys, tmp_path: Path) -> None:
    done = run_cli(capsys, "results", "show",
                   saved(two_host_run(missing=True), tmp_path / "job.json"))
    assert done.code == 0, done.err
    rows = table_rows(done.out)
    assert rows["node-a"][2] == "34 J" and rows["node-b"][-1] == "no report in time"
    assert rows["total"] == ["-", "no total: partial"]
    assert "partial: no report from host(s) node-b (rank(s) 2) in time" in done.out


def test_compare_of_two_jobs_compares_totals_and_says_the_host_sets_differ(
        capsys, tmp_path: Path) -> None:
    a = saved(two_host_run(), tmp_path / "a.json")
    b = saved(other_job_run(), tmp_path / "b.json")
    done = run_cli(capsys, "compare", a, b)
    text = " ".join(done.out.split())
    assert "jobs: baseline 2 host(s), 106 J; current 2 host(s), 72 J, ratio 0.679" in text
    assert "node-a: 34 J -> 30 J (0.882)" in text
    assert ("host sets differ (only in the baseline: node-b; only in the current: node-c)"
            in text)
    done = run_cli(capsys, "compare", a, b, "--json")
    jobs = json.loads(done.out)["jobs"]
    assert jobs["ratio"] == pytest.approx(72 / 106) and jobs["hosts_differ"]
    assert jobs["baseline"]["per_host_j"] == pytest.approx({"node-a": 34.0, "node-b": 72.0})


def test_compare_of_two_jobs_on_the_same_hosts_says_nothing_of_host_sets(
        capsys, tmp_path: Path) -> None:
    a = saved(two_host_run(), tmp_path / "a.json")
    done = run_cli(capsys, "compare", a, saved(two_host_run(), tmp_path / "b.json"))
    assert "ratio 1.000" in done.out and "host sets differ" not in done.out
