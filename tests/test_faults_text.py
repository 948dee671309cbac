"""Hostile text in stored runs: dollar signs in figures, terminal control characters on screen
and in CSV. What a user typed (or an imported file holds) is shown as typed, never obeyed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.plot_factories import sweep_run

DOLLARS = "costs $5 to $10"


def dollar_run() -> RunRecord:
    """A sweep whose label, workload, variant values and quality figure all hold ``$``: pairs
    that would be math italic, and math that fails to parse."""
    run = sweep_run(label=DOLLARS)
    for case in run.cases:
        case.workload = "att$n"
        case.params["mechanism"] = f"{case.params['mechanism']}$^$x"
        case.summary = {k.replace("quality:", "quality:lo$s"): v for k, v in case.summary.items()}
        case.quality_metric = "lo$s" + (case.quality_metric or "")
        for r in case.repeats:
            r.metrics = {k.replace("quality:", "quality:lo$s"): v for k, v in r.metrics.items()}
    return run


@pytest.fixture
def dollar_store(tmp_path: Path) -> Path:
    pytest.importorskip("matplotlib")
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.begin_run(dollar_run())
    return path


@pytest.mark.parametrize("kind", ["bars", "scaling", "pareto", "breakdown", "trace"])
def test_dollar_signs_in_user_text_are_drawn_as_typed_in_every_plot_kind(
    capsys: pytest.CaptureFixture[str], dollar_store: Path, tmp_path: Path, kind: str,
) -> None:
    extra = ["--x", "seq_len"] if kind == "scaling" else []
    result = run_cli(capsys, "plot", "latest", "--kind", kind, *extra, "--format", "svg",
                     "--out-dir", str(tmp_path / "plots"), "--store", str(dollar_store))
    assert result.code == 0, result.err
    (svg,) = (tmp_path / "plots").glob("*.svg")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg.read_text())
    # svg.fonttype none keeps plain text as one <text> element: each label is there whole,
    # dollar signs as typed, not split into math glyphs.
    assert any("softmax$^$x" in t for t in texts), texts
    assert not any("\\$" in t for t in texts)


def test_a_case_filter_with_a_dollar_still_finds_its_cases(
    capsys: pytest.CaptureFixture[str], dollar_store: Path, tmp_path: Path,
) -> None:
    result = run_cli(capsys, "plot", "latest", "--kind", "bars", "--case", "mechanism=linear$^$x",
                     "--out-dir", str(tmp_path / "plots"), "--store", str(dollar_store))
    assert result.code == 0, result.err


def test_a_report_of_runs_with_dollar_signs_draws_its_figures(
    capsys: pytest.CaptureFixture[str], dollar_store: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "r.html"
    result = run_cli(capsys, "report", "latest", "-o", str(out), "--store", str(dollar_store))
    assert result.code == 0, result.err
    html = out.read_text()
    assert "not drawn" not in html.lower() or "mathtext" not in html.lower()
    assert html.count("<img") >= 4
    assert DOLLARS in html


# --------------------------------------------------------------------------- control characters

ESC = "\x1b]0;owned\x07\x1b[2J"  # retitle the window, clear the screen
BIDI = "\u202e"  # right-to-left override


def hostile_run(run_id: str | None = None) -> RunRecord:
    run = make_run(2, label=f"lbl{ESC}", run_id=run_id)
    run.machine.update(hostname=f"host{ESC}", cpu_model=f"cpu{BIDI}", key="k")
    for case in run.cases:
        case.workload = f"wl{ESC}"
        case.params["tag"] = f"v{ESC}"
    run.cases[1].status = "failed"
    run.cases[1].error = f"boom{ESC}"
    return run


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.begin_run(hostile_run())
        s.begin_run(hostile_run())
    return path


def assert_shown_not_obeyed(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and BIDI not in text
    assert "\\x1b" in text


@pytest.mark.parametrize("args", [
    ["results", "list"], ["results", "show", "latest"], ["results", "show", "latest",
                                                         "--all-metrics"],
    ["results", "export", "latest", "--format", "csv"], ["compare", "latest~1", "latest"],
])
def test_control_characters_in_stored_text_are_shown_as_escapes(
    capsys: pytest.CaptureFixture[str], hostile_store: Path, args: list[str],
) -> None:
    result = run_cli(capsys, *args, "--store", str(hostile_store))
    assert result.code in (0, 3), result.err
    assert_shown_not_obeyed(result.out + result.err)


def test_json_output_keeps_stored_text_exact(
    capsys: pytest.CaptureFixture[str], hostile_store: Path,
) -> None:
    result = run_cli(capsys, "results", "show", "latest", "--json", "--store",
                     str(hostile_store))
    assert json.loads(result.out)["run"]["label"] == f"lbl{ESC}"
    assert "\x1b" not in result.out  # JSON writes it as \u001b
