"""``greenbench leaderboard build``: the site's files, tables, tiers and left-out runs."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from greenbench.leaderboard.site import build_site
from greenbench.records import RunRecord
from greenbench.results_format import dumps_document, to_document
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_case, make_run, scaled, window

# A 1 s window of 1000 units per repeat: the throughput of the same window as the energy.
SAME_WINDOW = {**DEFAULT_VALUES, "throughput_per_s": [1000.0] * 5}

XEON = {"hostname": "lab-a", "key": "xeon", "cpu_model": "Intel Xeon 8480", "cpu_logical": 112,
        "gpus": []}
H100 = {"hostname": "lab-b", "key": "h100", "cpu_model": "AMD EPYC 9654", "cpu_logical": 192,
        "gpus": [{"name": "NVIDIA H100", "driver_version": "550.54"}]}
EPYC_VM = {"hostname": "vm", "key": "vm", "cpu_model": "AMD EPYC", "cpu_logical": 2, "gpus": []}


def lab_run(machine: dict, cases: list[tuple[str, str, dict, float]], *, estimate: bool = False,
            device: str = "cpu", label: str | None = None) -> RunRecord:
    """A run on ``machine`` of (workload, unit, params, energy factor) cases."""
    run = make_run(0, estimate=estimate, label=label)
    run.machine = dict(machine)
    run.config = {**run.config, "device": device}
    for workload, unit, params, factor in cases:
        case = make_case(workload, params, scaled(SAME_WINDOW, factor), estimate=estimate,
                         unit=unit)
        run.cases.append(case)
    return run


def lab_runs() -> list[RunRecord]:
    """Three labs' runs that pass the rules (measured on a Xeon and an H100, estimated on a
    VM), over two workloads, and one run with repeats too short to pass."""
    xeon = lab_run(XEON, [
        ("attention", "tokens", {"seq_len": 256, "precision": "fp32"}, 1.0),
        ("attention", "tokens", {"seq_len": 1024, "precision": "fp32"}, 3.0),
        ("attention", "tokens", {"seq_len": 256, "precision": "bf16"}, 0.5),
        ("transformer", "samples", {"batch": 8, "precision": "fp32"}, 2.0),
    ], label="lab A xeon")
    h100 = lab_run(H100, [
        ("attention", "tokens", {"seq_len": 256, "precision": "bf16"}, 0.05),
        ("attention", "tokens", {"seq_len": 1024, "precision": "bf16"}, 0.2),
    ], device="cuda", label="lab B h100")
    vm = lab_run(EPYC_VM, [
        ("attention", "tokens", {"seq_len": 256, "precision": "fp32"}, 0.8),
        ("attention", "tokens", {"seq_len": 1024, "precision": "fp32"}, 2.5),
    ], estimate=True, label="laptop estimate")
    short = lab_run(XEON, [("attention", "tokens", {"seq_len": 256, "precision": "fp32"},
                            0.01)], label="too short")
    for r in short.cases[0].repeats:
        r.measurement = window("repeat", 0.05, r.measurement.energy_j)
        r.metrics["throughput_per_s"] = r.units / 0.05
    return [xeon, h100, vm, short]


class _Tables(HTMLParser):
    """The page's tables: for each, its tier and rows (each row's cells' text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.links: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("href", "src"):
            value = a.get(key) or ""
            if re.match(r"[a-z]+:|//", value):
                self.external.append(value)
            elif value and not value.startswith("#"):
                self.links.append(value)
        if tag == "table":
            self.tables.append({"tier": a.get("data-tier"), "rows": [], "groups": []})
        elif tag == "tbody":
            self.tables[-1]["groups"].append(a.get("data-hardware"))
        elif tag == "tr" and "row" in (a.get("class") or "").split():
            self._row = []
            self.tables[-1]["rows"].append({"cells": self._row, "attrs": a})
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(index: Path) -> _Tables:
    p = _Tables()
    p.feed(index.read_text(encoding="utf-8"))
    return p


@pytest.fixture
def site(tmp_path: Path) -> Path:
    build_site(lab_runs(), tmp_path / "site", figures=False, built_utc="2026-12-02T01:00:00+00:00")
    return tmp_path / "site"


def test_the_site_is_the_page_its_css_and_script_the_data_and_a_report_per_shown_run(
        site: Path) -> None:
    assert {p.name for p in site.iterdir()} == {"index.html", "leaderboard.css",
                                                "leaderboard.js", "data.json", "runs"}
    page = parsed(site / "index.html")
    assert page.external == []  # nothing is fetched from anywhere at view time
    for link in page.links:
        assert (site / link).is_file(), link
    assert len(list((site / "runs").glob("*/index.html"))) == 3


def test_one_table_per_workload_unit_and_tier_never_mixing_estimates_with_measurements(
        site: Path) -> None:
    page = parsed(site / "index.html")
    tiers = [t["tier"] for t in page.tables]
    assert tiers == ["measured", "estimated", "measured"]  # attention (both), transformer
    for table in page.tables:
        methods = [r["cells"][4] for r in table["rows"]]
        if table["tier"] == "estimated":
            assert all(m.startswith("ESTIMATE (cpu-tdp") for m in methods)
            assert all("estimated" in r["attrs"]["class"] for r in table["rows"])
        else:
            assert all(m.startswith("measured: counter (rapl)") for m in methods)


def test_rows_are_grouped_by_hardware_class_and_ranked_by_energy_within_each(
        site: Path) -> None:
    attention = parsed(site / "index.html").tables[0]
    assert attention["groups"] == ["1 x NVIDIA H100", "CPU: Intel Xeon 8480, 112 threads"]
    ranks: dict[str, list[str]] = {}
    for r in attention["rows"]:
        ranks.setdefault(r["attrs"]["data-hardware"], []).append(r["cells"][0])
    assert ranks == {"1 x NVIDIA H100": ["1", "2"],
                     "CPU: Intel Xeon 8480, 112 threads": ["1", "2", "3"]}
    xeon = [r for r in attention["rows"] if "Xeon" in r["attrs"]["data-hardware"]]
    assert [r["cells"][1] for r in xeon] == ["seq_len=256, precision=bf16",
                                             "seq_len=256, precision=fp32",
                                             "seq_len=1024, precision=fp32"]


def test_a_multi_host_run_is_its_own_hardware_class() -> None:
    from greenbench.leaderboard.entries import run_entries

    run = lab_run(H100, [("attention", "tokens", {"seq_len": 256}, 0.1)], device="cuda")
    assert run_entries(run)[0].hardware == "1 x NVIDIA H100"
    run.job = {"world_size": 8, "hosts": [{"host_id": "a", "ranks": [0, 1, 2, 3]},
                                          {"host_id": "b", "ranks": [4, 5, 6, 7]}]}
    for r in run.cases[0].repeats:  # the job's window: each host's GPUs under its id
        r.measurement = window("repeat", 1.0, r.measurement.energy_j, domain="a/gpu:0")
        r.measurement.domains += [replace(r.measurement.domains[0], domain=f"{h}/gpu:{i}")
                                  for h, i in (("a", 1), ("b", 0), ("b", 1))]
    assert run_entries(run)[0].hardware == "2 hosts of 2 x NVIDIA H100"


def test_each_row_has_energy_with_its_interval_method_throughput_and_its_report(
        site: Path) -> None:
    row = parsed(site / "index.html").tables[0]["rows"][0]
    rank, params, energy, ci, method, throughput, repeats, date, run = row["cells"]
    assert energy == "1 mJ"  # 0.02 J per unit x 0.05 (the H100's)
    assert re.fullmatch(r"[\d.]+\.\.[\d.]+ mJ", ci)
    assert throughput == "1 k tokens/s" and repeats == "5" and date == "2025-01-01"
    assert run == "lab B h100"


def test_the_runs_left_out_are_named_with_each_rule_they_fail(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    left = text[text.index('id="left-out"'):]
    assert "(too short) fails 1 rule(s)" in left and "repeat-duration: 1 case(s)" in left
    data = json.loads((site / "data.json").read_text())
    assert [r["label"] for r in data["left_out"]] == ["too short"]
    assert len(data["results"]) == 8
    assert {r["tier"] for r in data["results"]} == {"measured", "estimated"}


def test_the_page_is_dated_and_every_row_carries_its_runs_date(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    assert '<time datetime="2026-12-02T01:00:00+00:00">2026-12-02 01:00 UTC</time>' in text


def test_build_reads_stores_and_exported_files_each_run_once(capsys, tmp_path: Path) -> None:
    runs = lab_runs()
    store_a, store_b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with Store(store_a) as s:
        s.begin_run(runs[0])
        s.begin_run(runs[3])
    with Store(store_b) as s:
        s.begin_run(runs[0])  # the same run pooled in both
        s.begin_run(runs[1])
    exported = tmp_path / "vm.json"
    exported.write_text(dumps_document(to_document(runs[2])))
    result = run_cli(capsys, "leaderboard", "build", str(store_a), str(store_b), str(exported),
                     "-o", str(tmp_path / "site"), "--no-figures")
    assert result.code == 0, result.err
    assert "8 result(s) from 3 run(s), 1 run(s) left out" in result.out
    assert f"left out run {runs[3].id}: repeat-duration:" in result.err.replace("\n", " ")


def test_build_from_a_missing_store_is_one_line_and_writes_nothing(
        capsys, tmp_path: Path) -> None:
    result = run_cli(capsys, "leaderboard", "build", str(tmp_path / "nope.sqlite"),
                     "-o", str(tmp_path / "site"), "--no-figures")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "no such store" in result.err
    assert not (tmp_path / "site").exists()


def test_build_into_a_file_is_refused_in_one_line(capsys, tmp_path: Path) -> None:
    exported = tmp_path / "run.json"
    exported.write_text(dumps_document(to_document(lab_runs()[0])))
    target = tmp_path / "taken"
    target.write_text("mine")
    result = run_cli(capsys, "leaderboard", "build", str(exported), "-o", str(target),
                     "--no-figures")
    assert result.code == 2 and "Traceback" not in result.err
    assert target.read_text() == "mine"


def test_stored_text_is_shown_as_text_never_run_as_markup(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    run = lab_run(XEON, [("attention", "tokens", {"note": hostile}, 1.0)], label=hostile)
    run.machine["cpu_model"] = '"><img src=x onerror=alert(1)>'
    build_site([run], tmp_path / "site", figures=False)
    text = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script") == 1  # the page's own script


def test_a_parameter_some_cases_lack_does_not_stop_the_page(tmp_path: Path) -> None:
    run = lab_run(XEON, [("attention", "tokens", {"seq_len": 256}, 1.0),
                         ("attention", "tokens", {"seq_len": 256, "window": None}, 2.0)])
    build_site([run], tmp_path / "site", figures=False)
    text = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "Every row: seq_len=256, window=None." in text


def test_any_document_an_import_accepts_is_checked_and_built_into_the_page(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from greenbench.errors import UserError
    from greenbench.results_format import from_document
    from greenbench.submission import evaluate
    from tests.test_faults_documents import good_document, json_values, paths, replaced

    # a document as real runs hold them (GPUs, a failed case), and one that passes every rule
    bases = [good_document(), to_document(lab_runs()[0])]
    mutations = st.sampled_from(bases).flatmap(
        lambda doc: st.tuples(st.just(doc), st.sampled_from(paths(doc["run"])), json_values))

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(mutation=mutations)
    def check_and_build(mutation: tuple) -> None:
        doc, path, value = mutation
        try:
            run = from_document({**doc, "run": replaced(doc["run"], path, value)}, "doc")
        except UserError:
            return  # refused at import: tests/test_faults_documents.py covers that
        verdicts = evaluate(run)
        assert all("\n" not in v.detail for v in verdicts)
        built = build_site([run], tmp_path_factory.mktemp("site"), figures=False)
        failed = [v for v in verdicts if v.failed]
        assert (built.left_out != []) == bool(failed)

    check_and_build()
