"""``-q/--quiet`` and ``-v/--verbose``: quiet hides progress and notes, never results,
warnings or errors; verbose adds diagnostics (sensors, per-phase timings, where runs and
files came from and went)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from greenbench.commands._phase_times import PhaseTimes
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_run, scaled
from tests.plot_factories import sweep_run

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")
QUICK = ("spin", "--workload-file", FILE, "--repeats", "2", "--min-duration", "0.05",
         "--warmup", "0.05", "--idle", "0", "--store", "s.sqlite")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def gb(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent", "CUDA_VISIBLE_DEVICES": "",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "greenbench", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def notes(stderr: str) -> list[str]:
    """The lines of standard error that are neither warnings nor errors."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(("warning:", "greenbench: error"))]


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_run_prints_the_table_and_nothing_else(tmp_path: Path, where: str) -> None:
    args = ("-q", "run", *QUICK) if where == "before" else ("run", *QUICK, "--quiet")
    r = gb(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "medians over repeats" in r.stdout and "0: spin" in r.stdout
    assert notes(r.stderr) == [], r.stderr  # no sensor line, plan, progress or "stored run"
    assert Store(tmp_path / "s.sqlite").list_runs(None)  # and the run is stored all the same


def test_verbose_run_names_each_sensor_and_times_each_phase(tmp_path: Path) -> None:
    r = gb("-v", "run", *QUICK, "-o", "run.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    err = " ".join(r.stderr.split())
    assert "sensor cpu-package:0: ESTIMATE" in err and "updates every" in err
    assert "spin[n=2000, mode=sum]:" in err and " in all: start " in err
    assert "warmup " in err and "repeats " in err
    assert "wrote run.json" in err and "stored run" in err
    assert "medians over repeats" in r.stdout  # the results are as without -v


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_measure_keeps_the_table_and_the_warnings(tmp_path: Path, where: str) -> None:
    args = ("-q", "measure") if where == "before" else ("measure", "-q")
    r = gb(*args, "-o", "m.json", "--", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "greenbench measure:" in r.stdout and "exit code 0" in r.stdout
    assert notes(r.stderr) == [], r.stderr
    # `true` ends long before ten sensor updates: that warning is kept
    assert any(line.startswith("warning:") for line in r.stderr.splitlines())
    assert (tmp_path / "m.json").exists()


def test_verbose_measure_names_each_sensor_and_the_sampling(tmp_path: Path) -> None:
    r = gb("-v", "measure", "--idle", "0.2", "--", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    err = " ".join(r.stderr.split())
    assert "sensor cpu-package:0: ESTIMATE" in err
    assert "sampling every 0.1 s, after 0.2 s of idle baseline" in err


def test_quiet_and_verbose_together_are_refused_in_one_line(capsys) -> None:
    result = run_cli(capsys, "-q", "plot", "latest", "--kind", "bars", "-v")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "contradict" in lines[0], result.err


def _compared_store(tmp_path: Path) -> str:
    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        s.begin_run(make_run(2))
        s.begin_run(make_run(2, scaled(DEFAULT_VALUES, 1.3)))
    return str(path)


def test_quiet_compare_keeps_the_verdicts_and_drops_the_notes(capsys, tmp_path: Path) -> None:
    store = _compared_store(tmp_path)
    loud = run_cli(capsys, "compare", "latest~1", "latest", "--store", store)
    hushed = run_cli(capsys, "compare", "latest~1", "latest", "--store", store, "-q")
    assert loud.code == hushed.code == 0
    assert "note" in loud.out  # there is a note to leave out
    assert "note" not in hushed.out
    verdicts = [line for line in loud.out.splitlines() if "regressed" in line]
    assert verdicts and all(line in hushed.out for line in verdicts)


def test_verbose_compare_says_where_each_run_came_from(capsys, tmp_path: Path) -> None:
    store = _compared_store(tmp_path)
    result = run_cli(capsys, "-v", "compare", "latest~1", "latest", "--store", store)
    err = " ".join(result.err.split())
    assert "baseline latest~1: run " in err and f"from store {store}" in err
    assert "current latest: run " in err and "metrics compared: energy_per_unit_j" in err
    assert "baseline latest~1" not in result.out  # diagnostics stay off stdout


def test_verbose_plot_says_what_it_drew_and_where(capsys, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    store = tmp_path / "store.sqlite"
    with Store(store) as s:
        s.begin_run(sweep_run())
    out = tmp_path / "figs"
    result = run_cli(capsys, "plot", "latest", "--kind", "bars", "--format", "png",
                     "--out-dir", str(out), "--store", str(store), "-v")
    assert result.code == 0, result.err
    err = " ".join(result.err.split())
    assert f"latest: from store {store}" in err
    assert f"1 bars figure(s), 3.5 in wide, as png into {out}" in err
    assert "wrote " in result.out  # the files written are the result, on stdout


class _Case:
    label = "toy[batch=8]"


def test_phase_times_sum_each_phase_on_a_virtual_clock() -> None:
    now = [0.0]
    out = Console(file=io.StringIO(), width=200)
    times = PhaseTimes(out, clock=lambda: now[0])

    def at(t: float, **event: Any) -> None:
        now[0] = t
        times.event(event)

    at(0.0, event="case")
    at(0.5, event="phase", phase="setup")
    at(1.0, event="phase", phase="warmup")
    at(3.0, event="phase", phase="repeat", repeat=1, of=2)
    at(3.5, event="power", power_w=10.0)  # not a phase: the repeat goes on
    at(4.0, event="phase", phase="repeat", repeat=2, of=2)
    at(5.5, event="case_done", case=_Case())
    assert out.file.getvalue() == ("toy[batch=8]: 5.5 s in all: start 500 ms, setup 500 ms, "
                                   "warmup 2 s, repeats 2.5 s\n")
