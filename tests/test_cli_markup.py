"""User text that looks like rich markup is printed as typed, never interpreted."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_cli
from tests.test_cli_measure import gb

MARKUP = "[/tmp] [layers] [bold]x[/bold]"


def test_measure_shows_a_command_with_brackets_as_typed(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    r = gb("measure", "-o", str(out), "--", sys.executable, "-c", "pass", *MARKUP.split(),
           env={"COLUMNS": "300"})
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert shlex.join(MARKUP.split()) in " ".join(r.stdout.split())  # the title may wrap
    assert json.loads(out.read_text())["command"][-3:] == MARKUP.split()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no wrapping inside the text looked for


def test_workloads_lists_names_and_descriptions_with_brackets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wl = tmp_path / "wl.py"
    wl.write_text(
        "import greenbench\n"
        "@greenbench.workload(unit='[/u]')\n"
        "def odd(n: int = 1):\n"
        "    '''Costs [bold]x[/bold] per [/tmp] step'''\n")
    r = run_cli(capsys, "workloads", "--workload-file", str(wl))
    assert r.code == 0, r.err
    assert "[bold]x[/bold] per [/tmp]" in r.out
    assert "[/u]" in r.out


def test_carbon_intensity_shows_a_file_name_with_brackets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series = tmp_path / "[" / "grid]" / "series.csv"  # shown as .../[/grid]/series.csv
    series.parent.mkdir(parents=True)
    series.write_text("timestamp,g\n2020-01-01T00:00Z,100\n2100-01-01T00:00Z,100\n")
    r = run_cli(capsys, "carbon", "intensity", "--intensity-file", str(series))
    assert r.code == 0, r.err
    assert "[/grid]/series.csv" in r.out
