"""Writing your own workload: a workload file imports modules beside it, and the guide's
example (docs/examples/my_workload.py, included by docs/workloads.md) runs as written."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.runner import CaseSpec, RunConfig, run_case
from greenbench.workload import discover

FAST = dict(repeats=1, min_duration_s=0.05, warmup_s=0.0, idle_s=0.05, interval_s=0.02)


def _project_with_helper(root: Path) -> Path:
    """A workload file that imports ``tally_helper.py`` from its own folder, at import time
    and again inside its step (as code run only in the worker would)."""
    root.mkdir(exist_ok=True)
    (root / "tally_helper.py").write_text("def total(n):\n    return sum(range(n))\n")
    path = root / "tally_workload.py"
    path.write_text(
        "import greenbench\n"
        "import tally_helper\n\n\n"
        "@greenbench.workload(unit='items', units_per_step=lambda p: p['n'])\n"
        "def tally(n: int = 100):\n"
        "    import tally_helper as again\n"
        "    assert again.total(n) == tally_helper.total(n)\n")
    return path


def test_a_workload_file_imports_a_module_beside_it_in_greenbench_and_in_the_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project_with_helper(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the current directory nor PYTHONPATH has it
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert discover([path], entry_points=False).get("tally").unit == "items"
    case = run_case(CaseSpec("tally", {"n": 1000}), RunConfig(**FAST, workload_files=[str(path)]))
    assert case.status == "ok", (case.error, case.error_detail)


def test_the_workload_files_folder_comes_after_the_installed_packages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _project_with_helper(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    discover([path], entry_points=False)
    assert sys.path[:len(before)] == before
    assert sys.path[len(before):] == [str(tmp_path.resolve())]


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "my_workload.py"
GUIDE = ROOT / "docs" / "workloads.md"


def test_the_guide_shows_the_example_file_as_it_is() -> None:
    guide = GUIDE.read_text()
    start = guide.index("```python\n# docs/examples/my_workload.py\n") + len("```python\n")
    shown = guide[start:guide.index("```\n", start)]
    assert shown == "# docs/examples/my_workload.py\n" + EXAMPLE.read_text()


def test_a_setup_holds_the_parameters_and_the_step_gets_what_it_returns() -> None:
    registry = discover([EXAMPLE], entry_points=False)
    digits = registry.get("digits-step")  # digits_step, named with a dash
    assert [p.name for p in digits.params] == ["n", "base", "seed"]
    assert [p.name for p in digits.params if p.variant] == ["base"]
    state = digits.setup({"n": 3, "base": 10, "seed": 0}, "cpu")
    assert sorted(state) == ["base", "numbers"] and len(state["numbers"]) == 3
    digits.step(state)
    assert digits.units_per_step({"n": 3, "base": 10, "seed": 0}) == 3.0


def test_the_guides_example_runs_with_greenbench_run(tmp_path: Path) -> None:
    from greenbench.store import Store

    store = tmp_path / "results.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "run", "--suite", "mine", "--workload-file",
         str(EXAMPLE), "--store", str(store), "--repeats", "1", "--warmup", "0",
         "--idle", "0", "--min-duration", "0.05", "-p", "points=64"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "GREENBENCH_POWERCAP_ROOT": str(tmp_path / "no-powercap")})
    assert done.returncode == 0, done.stderr
    with Store(store, readonly=True) as opened:
        run = opened.get_run("latest")
    assert [c.status for c in run.cases] == ["ok"] * 4, [c.error for c in run.cases]
    assert sorted({c.workload for c in run.cases}) == ["digits-step", "fit-line"]
    fits = [c for c in run.cases if c.workload == "fit-line"]
    assert {c.params["solver"] for c in fits} == {"plain", "momentum"}
    assert all(c.params["points"] == 64 and c.unit == "points" for c in fits)
    fit_line = discover([EXAMPLE], entry_points=False).get("fit-line")
    start = fit_line.quality(fit_line.setup({"points": 64, "lr": 0.1, "solver": "plain"}, "cpu"))
    assert start is not None
    for case in fits:
        quality = case.repeats[0].quality
        assert quality is not None and math.isfinite(quality["mse"]) and quality["mse"] >= 0
        if case.params["solver"] == "plain":  # gradient descent lowers it at every step
            assert quality["mse"] < start["mse"]
    digits = [c for c in run.cases if c.workload == "digits-step"]
    assert sorted(c.params["n"] for c in digits) == [1000, 4000]
    assert all(c.repeats[0].units == c.repeats[0].steps * c.params["n"] for c in digits)
