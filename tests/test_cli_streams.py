"""Results on standard output, progress and notes on standard error, for every command that
measures; ``--json`` is a flag printing JSON to standard output and ``-o FILE`` writes a
file; a value that looks like an option is never taken as a file name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")
QUICK = ("spin", "--workload-file", FILE, "--repeats", "2", "--min-duration", "0.05",
         "--warmup", "0.05", "--idle", "0")


def gb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent", "CUDA_VISIBLE_DEVICES": "",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "greenbench", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def test_run_prints_its_table_to_stdout_and_its_progress_to_stderr(tmp_path: Path) -> None:
    r = gb("run", *QUICK, "--store", "s.sqlite", "-o", "run.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # `greenbench run > out.txt` keeps the table; the terminal still sees the progress
    assert "medians over repeats" in r.stdout and "0: spin" in r.stdout
    assert "emissions" in r.stdout
    assert "medians over repeats" not in r.stderr
    assert "greenbench: 1 case(s)" in r.stderr and "stored run" in r.stderr
    assert "greenbench:" not in r.stdout  # the sensor and plan notes are not results
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["run"]["cases"][0]["workload"] == "spin"


def test_run_json_prints_the_export_document_to_stdout(tmp_path: Path) -> None:
    r = gb("run", *QUICK, "--store", "s.sqlite", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # nothing else on stdout
    assert doc["format"] == "greenbench-run"
    assert [c["workload"] for c in doc["run"]["cases"]] == ["spin"]
    assert "stored run" in r.stderr


def test_measure_prints_its_table_to_stdout_and_its_notes_to_stderr(tmp_path: Path) -> None:
    r = gb("measure", "--", sys.executable, "-c", "pass", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "greenbench measure:" in r.stdout and "total" in r.stdout
    assert "exit code 0" in r.stdout
    assert "no energy sensor on this machine" in r.stderr
    assert "greenbench measure:" not in r.stderr


def test_measure_json_is_a_flag_so_the_double_dash_is_never_a_file(tmp_path: Path) -> None:
    r = gb("measure", "--json", "--", "sleep", "0.2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["command"] == ["sleep", "0.2"] and doc["exit_code"] == 0
    assert list(tmp_path.iterdir()) == []  # no file named `--`, nor any other


def test_measure_o_writes_the_json_file(tmp_path: Path) -> None:
    r = gb("measure", "-o", "m.json", "--", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "m.json").read_text())["command"] == ["true"]
    assert "greenbench measure:" in r.stdout and "wrote m.json" in r.stderr


@pytest.mark.parametrize("args", [
    ("run", *QUICK, "-o", "--"),
    ("measure", "-o", "--", "true"),
    ("measure", "-o", "--idle", "1", "--", "true"),
    ("report", "latest", "-o", "--no-figures"),
    ("report", "latest", "--latex", "--title"),
    ("results", "export", "latest", "-o", "--format"),
    ("plot", "latest", "--kind", "bars", "--out-dir", "--format"),
    ("run", *QUICK, "--store", "--json"),
])
def test_an_output_option_never_takes_an_option_as_its_file(tmp_path: Path,
                                                          args: tuple[str, ...]) -> None:
    r = gb(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "looks like an option" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing measured, nothing written


@pytest.mark.parametrize("args", [
    ("run", *QUICK, "--json", "run.json"),
    ("measure", "--json", "m.json", "--", "true"),
])
def test_the_old_json_file_spelling_names_the_option_that_writes_a_file(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    r = gb(*args, cwd=tmp_path)
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line and "-o " in line and ".json" in line
    assert list(tmp_path.iterdir()) == []


def test_plot_names_its_folder_out_dir_and_o_says_so(tmp_path: Path) -> None:
    # -o names a file on report and export; plot writes several figures into a folder
    r = gb("plot", "latest", "--kind", "bars", "-o", "figs", cwd=tmp_path)
    assert r.returncode == 2
    assert "--out-dir figs" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_gate_calibration_prints_its_progress_to_stderr_and_the_finding_to_stdout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from greenbench import gate
    from greenbench.commands import gate as gate_command
    from greenbench.run_compare import PAIRED_TEST, compare_runs
    from tests.cli_runner import run_cli
    from tests.factories import make_run

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    def one_session(*args: object, **kwargs: object) -> tuple[object, object]:
        # the pytest sessions stand in: the same code on both sides, compared as gate does
        comparison = compare_runs(make_run(1), make_run(1), metrics=["energy_j", "time_s"],
                                  rules=[gate.parse_rule("energy:10%")], alpha=0.05,
                                  test=PAIRED_TEST)
        return SimpleNamespace(wall_s=2.0), comparison

    monkeypatch.setattr(gate_command, "_gate_once", one_session)
    result = run_cli(capsys, "gate", "--calibrate", "--runs", "2", "--repo", str(tmp_path))
    assert result.code == 0, result.err
    assert "run 1/2: exit" in result.err and "run 2/2: exit" in result.err
    assert "run 1/2" not in result.out
    assert "false alarms: " in result.out
    hushed = run_cli(capsys, "-q", "gate", "--calibrate", "--runs", "2", "--repo", str(tmp_path))
    assert "run 1/2" not in hushed.err and "false alarms: " in hushed.out


@pytest.mark.parametrize("args", [("report", "latest", "-o", "."), ("run", *QUICK, "-o", "."),
                                  ("results", "list", "--store", ".")])
def test_an_output_file_that_is_a_folder_is_refused_in_one_line(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    r = gb(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and ". is a folder; give a file path" in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []
