"""Every table fits the terminal's width without breaking a number or a parameter apart, and
uses a wide terminal's room to keep each row on one line."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from greenbench.commands._width import Col, fit, label_tokens, plain, render, room, wrap
from greenbench.records import case_names
from greenbench.units import fmt_duration, fmt_energy, fmt_power, fmt_quantity, fmt_si
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_case, make_run, scaled

WIDTHS = (80, 200)

pytest_plugins = ["pytester"]


def sweep_run(factor: float = 1.0) -> object:
    """A sweep like a user's: two workloads, long parameter names, four-digit values."""
    run = make_run(0)
    values = scaled(DEFAULT_VALUES, factor)
    run.cases = [make_case("attention", {"mechanism": m, "seq_len": n, "batch_size": 8}, values)
                 for m in ("softmax", "linformer", "performer") for n in (256, 1024, 4096)]
    run.cases += [make_case("transformer-training", {"n_layers": k, "precision": p}, values)
                  for k, p in ((4, "bf16"), (12, "fp32"))]
    return run


def rendered(width: int, draw: object, *args: object) -> list[str]:
    buffer = io.StringIO()
    out = Console(width=width, file=buffer, highlight=False, color_system=None)
    draw(out, *args)  # type: ignore[operator]
    return buffer.getvalue().splitlines()


def assert_fits(lines: list[str], width: int) -> None:
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"{len(too_wide)} line(s) wider than {width}: {too_wide[:3]}"


def assert_intact(lines: list[str], pieces: list[str]) -> None:
    """Each piece is on one line, whole (not cut at the line's end or wrapped)."""
    text = "\n".join(lines)
    for piece in pieces:
        assert re.search(rf"(?<![\w.=]){re.escape(piece)}(?![\w.])", text), \
            f"{piece!r} is not on any line whole"


# --------------------------------------------------------------------------- layout


def test_a_cell_wraps_only_between_tokens() -> None:
    tokens = label_tokens("attention[mechanism=softmax, seq_len=1024]")
    assert tokens == ["attention[", "mechanism=softmax, ", "seq_len=1024]"]
    assert wrap(tokens, 20) == ["attention[", "mechanism=softmax,", "seq_len=1024]"]
    assert wrap(tokens, 100) == ["attention[mechanism=softmax, seq_len=1024]"]
    assert wrap(["transformer-training["], 5) == ["transformer-training["]  # never cut


def test_fit_gives_from_the_wrapping_column_and_never_below_a_token() -> None:
    name = Col("case", give=1)
    name.add(label_tokens("attention[mechanism=softmax, seq_len=1024]"))
    energy = Col("energy", right=True)
    energy.add(["20.2 mJ"])
    assert fit([name, energy], 60) == [42, 7]
    assert fit([name, energy], 30) == [18, 7]
    assert fit([name, energy], 10) is None
    lines = plain(render([name, energy], [18, 7]))
    assert lines[1].startswith("attention[") and "20.2 mJ" in lines[1]
    assert all(len(line) <= 18 + 2 + 7 for line in lines)


def test_tables_align_their_columns() -> None:
    a, bb = Col("a"), Col("bb", right=True)
    for left, right in (("xxx", "1"), ("y", "22")):
        a.add([left])
        bb.add([right])
    assert plain(render([a, bb], [3, 2], rule="-")) == ["a    bb", "---  --", "xxx   1",
                                                         "y    22"]


def test_room_counts_the_gaps_between_columns() -> None:
    assert room(80, 3) == 76
    assert room(80, 3, indent=2) == 74


# --------------------------------------------------------------------------- run / results show


@pytest.mark.parametrize("width", WIDTHS)
def test_cases_table_fits_and_keeps_every_number_and_parameter(width: int) -> None:
    from greenbench.commands._cases import print_cases

    run = sweep_run()
    lines = rendered(width, print_cases, run)
    assert_fits(lines, width)
    case = run.cases[0]
    epu = case.summary["energy_per_unit_j"]
    numbers = [fmt_energy(epu.median), fmt_energy(epu.ci_low), fmt_energy(epu.ci_high),
               fmt_energy(case.summary["net_energy_per_unit_j"].median),
               fmt_power(case.summary["power_w"].median),
               fmt_si(case.summary["throughput_per_s"].median, "").strip()]
    assert_intact(lines, numbers)
    params = [f"{k}={v}" for c in run.cases for k, v in c.params.items() if k != "batch_size"]
    assert_intact(lines, params)
    for index in range(len(run.cases)):
        assert any(line.startswith(f"{index}: ") for line in lines), index


def test_cases_table_keeps_a_row_per_case_on_a_wide_terminal() -> None:
    from greenbench.commands._cases import print_cases

    run = sweep_run()
    lines = rendered(200, print_cases, run)
    names = case_names(run.cases)
    for index, name in enumerate(names):
        row = next(line for line in lines if line.startswith(f"{index}: "))
        assert name in row
        assert fmt_power(run.cases[index].summary["power_w"].median) in row


def test_footprint_table_fits_80_columns() -> None:
    from greenbench.commands._cases import print_footprints

    run = sweep_run()
    for case in run.cases:
        case.footprint = {"energy_kwh": 1.234e-6, "operational_g": 0.000456,
                          "embodied_g": 0.0000789, "sci_g_per_unit": 1.5e-9,
                          "unit": "samples"}
    for width in WIDTHS:
        lines = rendered(width, print_footprints, run)
        assert_fits(lines, width)
        assert_intact(lines, [fmt_energy(4.4424), fmt_quantity(0.000456, "gCO2e"),
                              fmt_quantity(0.0000789, "gCO2e"),
                              fmt_quantity(1.5e-9, "gCO2e") + "/sample",
                              "seq_len=1024]", "mechanism=performer,"])


# --------------------------------------------------------------------------- results list / show


@pytest.fixture
def sweep_store(tmp_path: Path) -> Path:
    from greenbench.store import Store

    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        run = sweep_run()
        run.label = "baseline before the tokenizer change"
        s.begin_run(run)
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_results_list_fits_and_keeps_every_fact(capsys, monkeypatch, sweep_store: Path,
                                               width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    result = run_cli(capsys, "results", "list", "--store", str(sweep_store))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert_fits(lines, width)
    from greenbench.store import Store

    with Store(sweep_store) as s:
        (run,) = s.list_runs()
    assert_intact(lines, [run.id, run.created_utc[:10], run.created_utc[11:19], "complete",
                          "11", "measured", str(run.hostname), "attention",
                          "transformer-training", "tokenizer"])
    one_line = [line for line in lines if line.startswith(run.id)]
    assert (width == 200) == ("transformer-training" in one_line[0])


@pytest.mark.parametrize("width", WIDTHS)
def test_results_show_fits(capsys, monkeypatch, sweep_store: Path, width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    result = run_cli(capsys, "results", "show", "latest", "--all-metrics", "--store",
                     str(sweep_store))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert_fits(lines, width)
    assert_intact(lines, ["seq_len=1024]", "mechanism=performer,", "20 mJ", "15 mJ", "20 W",
                          "energy_per_unit_j", "net_energy_per_unit_j", "0.0202"])


# --------------------------------------------------------------------------- compare


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_metric_names_and_verdicts_whole(capsys, monkeypatch, tmp_path: Path,
                                                       width: int) -> None:
    from greenbench.store import Store

    path = tmp_path / "store.sqlite"
    base, head = sweep_run(), sweep_run(1.3)
    base.cases[0].params["seq_len"] = 8192  # only in the baseline: listed, not compared
    with Store(path) as s:
        s.begin_run(base)
        s.begin_run(head)
    monkeypatch.setenv("COLUMNS", str(width))
    result = run_cli(capsys, "compare", base.id, head.id, "--fail", "energy_per_unit:5%",
                     "--metric", "net_energy_per_unit_j", "--store", str(path))
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert_fits(lines, width)
    assert_intact(lines, ["energy_per_unit", "net_energy_per_unit", "regressed",
                          "[energy_per_unit:5%]", "20 mJ", "26 mJ", "1.300", "seq_len=1024]",
                          "seq_len=8192]"])


# --------------------------------------------------------------------------- the pytest plugin


def test_pytest_results_table_fits_and_keeps_the_node_id() -> None:
    from greenbench.pytest_energy.table import results_table

    cases = [make_case("tests/benchmarks/test_tokenizer_throughput.py::test_encode",
                       {"id": f"batch-{n}"}) for n in (16, 1024)]
    for width in WIDTHS:
        lines = results_table(cases, width)
        assert_fits(lines, width)
        energy = cases[0].summary["energy_j"]
        assert_intact(lines, [fmt_energy(energy.median), fmt_energy(energy.ci_low),
                              fmt_energy(energy.ci_high), fmt_duration(0.1), fmt_power(20.0),
                              "5 x 10"])
        text = "\n".join(lines)
        assert "test_tokenizer_throughput.py::" in text and "test_encode[batch-1024]" in text
        one_line = any(line.startswith("tests/benchmarks/") and fmt_power(20.0) in line
                       for line in lines)
        assert one_line == (width == 200)


def test_pytest_comparison_summary_fits_80_columns(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_pytest_plugin import CONFTEST, WORKMODEL, write_suite
    from tests.test_pytest_plugin import run as run_session

    monkeypatch.setenv("COLUMNS", "80")
    pytester.makepyfile(workmodel=WORKMODEL, conftest=CONFTEST)
    write_suite(pytester, 20_000)
    assert run_session(pytester, "--greenbench-save=before").ret == 0
    write_suite(pytester, 26_000)
    result = run_session(pytester, "--greenbench-compare=before",
                         "--greenbench-compare-fail=energy:10%")
    lines = result.outlines
    start = lines.index(next(line for line in lines if "greenbench: energy" in line))
    table = [line for line in lines[start:] if not line.startswith("greenbench: ")]
    assert_fits(table, 80)
    assert_intact(table, ["test_suite.py::test_hot", "energy", "20 mJ", "26 mJ", "regressed",
                          "[energy:10%]"])
    # an outcome stays one line, whole, for a search of the CI log
    assert any(line.startswith("greenbench: ENERGY REGRESSION: test_suite.py::test_hot: ")
               and line.endswith("regressed") for line in lines)


# --------------------------------------------------------------------------- measure


@pytest.mark.parametrize("width", WIDTHS)
def test_measure_table_fits_and_keeps_its_figures(capsys, monkeypatch, tmp_path: Path,
                                                  width: int) -> None:
    import json
    import sys

    monkeypatch.setenv("COLUMNS", str(width))
    doc_path = tmp_path / "m.json"
    result = run_cli(capsys, "measure", "-o", str(doc_path), "--", sys.executable, "-c",
                     "sum(range(10**6))")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert_fits(lines, width)
    doc = json.loads(doc_path.read_text())
    counted = [d for d in doc["domains"] if d["not_counted"] is None]
    assert_intact(lines, [fmt_energy(doc["energy_j"]), *(d["name"] for d in counted),
                          *(fmt_energy(d["energy_j"]) for d in counted)])


# --------------------------------------------------------------------------- gate


@pytest.mark.parametrize("width", WIDTHS)
def test_gate_report_fits(capsys, monkeypatch, width: int) -> None:
    from types import SimpleNamespace

    from greenbench import gate as gating
    from greenbench.commands.gate import _print
    from greenbench.run_compare import compare_runs

    base, head = sweep_run(), sweep_run(1.3)
    comparison = compare_runs(base, head, metrics=["energy_per_unit_j", "net_energy_per_unit_j"],
                              rules=[gating.parse_rule("net_energy_per_unit:10%")], alpha=0.05)
    side = SimpleNamespace(revision=SimpleNamespace(name="main", short="3f2e175e9ecc"))
    session = SimpleNamespace(sides={"A": side, "B": side}, back_to_back=lambda: (96, 96),
                              all=[1, 2], hash_seed="995598393, 1516142602",
                              fixed_layout=True, wall_s=46.0)
    monkeypatch.setenv("COLUMNS", str(width))
    capsys.readouterr()
    _print(session, comparison)
    lines = capsys.readouterr().out.splitlines()
    assert_fits(lines, width)
    assert_intact(lines, ["3f2e175e9ecc", "995598393,", "1516142602", "regressed",
                          "energy_per_unit", "net_energy_per_unit",
                          "[net_energy_per_unit:10%]", "1.300", "seq_len=4096]"])


def test_a_token_wider_than_the_terminal_is_printed_whole() -> None:
    from greenbench.commands._width import print_lines

    lines = rendered(10, print_lines, [[("seq_len=4096, mechanism", "bold")], [("ok", "")]])
    assert lines == ["seq_len=4096, mechanism", "ok"]  # never cut, never folded by rich
