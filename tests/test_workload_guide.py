"""Writing your own workload: a workload file imports modules beside it, and the guide's
example (docs/examples/my_workload.py, included by docs/workloads.md) runs as written."""

from __future__ import annotations

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
