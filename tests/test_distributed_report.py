"""A stored two-host run in ``results show``, ``compare``, ``plot`` and ``report``: the
per-host breakdown with exact joules, at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.distributed.combine import combine, window_part
from greenbench.distributed.election import elect
from greenbench.distributed.stored import job_run
from greenbench.measurement import DomainEnergy, Measurement
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


# --------------------------------------------------------------------------- plot and report

def host_panel(fig):  # noqa: ANN001, ANN201
    (ax,) = [a for a in fig.axes if a.get_xlabel() == "Energy by host, whole job (J)"]
    return ax


def bar_sums(ax) -> dict[str, float]:  # noqa: ANN001
    """Each row's stacked length, by its tick label."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    sums = dict.fromkeys(labels, 0.0)
    for bar in ax.patches:
        row = round(bar.get_y() + bar.get_height() / 2)
        sums[labels[row]] += bar.get_width()
    return sums


def test_breakdown_plot_draws_each_host_stacked_by_domain() -> None:
    pytest.importorskip("matplotlib")
    from greenbench.plots import PlotRequest, render
    from tests.test_plots import layout_problems, legend_labels

    (_, fig), = render([two_host_run()], PlotRequest("breakdown"))
    ax = host_panel(fig)
    assert bar_sums(ax) == pytest.approx({"node-a": 34.0, "node-b": 72.0})
    widths = sorted(round(b.get_width(), 6) for b in ax.patches if b.get_width() > 0)
    assert widths == [2.0, 4.0, 20.0, 30.0, 50.0]  # node-b's GPU is one 50 J part
    assert {"CPU", "DRAM", "GPU"} <= set(legend_labels(fig))
    assert layout_problems(fig) == []


def test_breakdown_plot_names_a_partial_jobs_missing_host_beside_another_job() -> None:
    pytest.importorskip("matplotlib")
    from greenbench.plots import PlotRequest, render
    from tests.test_plots import layout_problems, texts

    partial, other = two_host_run(missing=True), other_job_run()
    (_, fig), = render([partial, other], PlotRequest("breakdown"))
    p, o = (r.id.rsplit("-", 1)[-1] for r in (partial, other))
    assert bar_sums(host_panel(fig)) == pytest.approx({
        f"{p}: node-a": 34.0, f"{p}: node-b (no report)": 0.0, f"{o}: node-a": 30.0,
        f"{o}: node-c": 42.0})
    assert any("no report from node-b; no job total" in t for t in texts(fig))
    assert layout_problems(fig) == []


def test_a_run_on_one_host_gets_no_host_panel() -> None:
    pytest.importorskip("matplotlib")
    from greenbench.plots import PlotRequest, render
    from tests.plot_factories import single_case_run

    (_, fig), = render([single_case_run()], PlotRequest("breakdown"))
    assert not [a for a in fig.axes if "host" in a.get_xlabel()]


def test_report_has_a_hosts_section_with_each_host_and_who_read_what(tmp_path: Path) -> None:
    from greenbench.report.write import write_report

    write_report([two_host_run()], tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text()
    hosts = text.split("## Hosts", 1)[1].split("\n## ", 1)[0]
    assert "A job of 3 rank(s) on 2 host(s), Slurm job 4242; 2 reported. Job energy: 106 J" \
        in hosts
    assert "| node-a | node-a.cluster | key-node-a | 0, 1 | 34 J | 32% | energy counter |" \
        in hosts
    assert "| node-b | gpu:0 | GPU-b0 | 50 J | energy counter | nvml | 2 | yes |" in hosts


def test_report_of_a_partial_job_says_it_has_no_total(tmp_path: Path) -> None:
    from greenbench.report.build import build_report
    from greenbench.report.markdown import render_markdown

    text, _ = render_markdown(build_report([two_host_run(missing=True)], figures=False), "f")
    assert "Job energy: no total: the job is partial" in text
    assert "| node-b | - | - | - | - | - | no report in time |" in text
    assert "Partial: no report from host(s) node-b (rank(s) 2) in time" in text


def test_a_report_of_runs_on_one_host_has_no_hosts_section() -> None:
    from greenbench.report.build import build_report
    from tests.plot_factories import single_case_run

    doc = build_report([single_case_run()], figures=False)
    assert "Hosts" not in [s.title for s in doc.sections]


def estimated_run_out_of_step() -> RunRecord:
    """node-a measured (30 J package), node-b without RAPL: a 12 J TDP estimate, its clock
    5 s ahead."""
    ids = [identity(0, "node-a", PKG), identity(1, "node-b", PKG)]
    est = Measurement("command", 0.0, 2.0, [DomainEnergy("cpu-package:0", 12.0, "estimate",
                                                         "estimate:cpu-tdp", 6.0, None, 4)],
                      start_wall_s=1005.0)
    parts = {0: part(0, [("cpu-package:0", 30.0)]), 1: window_part(1, est, 1007.0)}
    job = combine("command", parts, ids)
    return job_run(job, ids, elect(ids), workload="command", params={"command": "x"},
                   unit="runs", sensors=[], config={})


def test_show_marks_an_estimated_host_and_flags_clocks_out_of_step(
        capsys, tmp_path: Path) -> None:
    done = run_cli(capsys, "results", "show",
                   saved(estimated_run_out_of_step(), tmp_path / "job.json"))
    rows = table_rows(done.out)
    assert rows["node-a"][-1] == "counter (rapl)"
    assert rows["node-b"][2:] == ["12 J", "29%", "ESTIMATE (cpu-tdp)"]
    assert rows["total"] == ["42 J", "mixed (some ESTIMATED)"]
    assert "clocks: the ranks' wall clocks differed by 5 s at the same window edge" in \
        " ".join(done.out.split())


def test_report_says_an_estimated_host_makes_the_job_an_estimate() -> None:
    from greenbench.report.build import build_report
    from greenbench.report.markdown import render_markdown

    text, _ = render_markdown(build_report([estimated_run_out_of_step()], figures=False), "f")
    assert "| node-b | node-b.cluster | key-node-b | 1 | 12 J | 29% | ESTIMATE (power model) |" \
        in text
    assert "the job's total is then an estimate too" in text
    assert "wall clocks differed by 5 s" in text


def test_results_list_marks_a_multi_host_run_and_its_missing_host(
        capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from greenbench.store import Store

    store = tmp_path / "s.sqlite"
    with Store(str(store)) as s:
        s.import_run(to_document(two_host_run()))
        s.import_run(to_document(two_host_run(missing=True)))
    for columns in ("160", "60"):  # one line per run, and the narrow layout
        capsys.readouterr()
        monkeypatch.setenv("COLUMNS", columns)
        done = run_cli(capsys, "results", "list", "--store", str(store))
        assert done.code == 0, done.err
        text = " ".join(done.out.split())
        assert text.count("+1 host") == 2, done.out
        assert text.count("+1 host (1 missing)") == 1, done.out
    listed = run_cli(capsys, "results", "list", "--json", "--store", str(store))
    hosts = sorted((r["hosts"], r["missing_hosts"]) for r in json.loads(listed.out))
    assert hosts == [(2, 0), (2, 1)]


def test_results_list_of_a_store_with_a_damaged_job_is_one_line(capsys, tmp_path: Path) -> None:
    import sqlite3

    from greenbench.store import Store

    store = tmp_path / "s.sqlite"
    with Store(str(store)) as s:
        s.import_run(to_document(two_host_run()))
    with sqlite3.connect(store) as con:
        con.execute("update runs set job = '{not json'")
    done = run_cli(capsys, "results", "list", "--store", str(store))
    assert done.code == 2
    assert "Traceback" not in done.err and len(done.err.strip().splitlines()) == 1
    assert "corrupt (a run's job cannot be decoded" in done.err
