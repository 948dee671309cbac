"""Workers start so that the current directory cannot shadow the installed greenbench."""

from __future__ import annotations

from pathlib import Path

import pytest

import greenbench.runner as runner
from greenbench.runner import CaseSpec, RunConfig, run_case

DATA = Path(__file__).parent / "data"
FAST = dict(repeats=1, min_duration_s=0.05, warmup_s=0.0, idle_s=0.05, interval_s=0.02)


def _decoys(root: Path) -> None:
    """A project's own greenbench/ and greenbench_workloads/ folders, which fail on import."""
    for name in ("greenbench", "greenbench_workloads"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(
            f"raise ImportError('the decoy {name} in the current directory was imported')\n")


@pytest.fixture(params=[(3, 11), (3, 10)], ids=["-P", "3.10 shim"])
def worker_form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each way the worker can be started, both run by this interpreter (the 3.10 form works
    on every version)."""
    argv = runner.worker_argv(request.param)
    monkeypatch.setattr(runner, "worker_argv", lambda: argv)
    return argv


def test_a_case_runs_when_the_current_directory_has_a_greenbench_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_form: list[str]) -> None:
    _decoys(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = RunConfig(**FAST, workload_files=[str(DATA / "basic_workloads.py")])
    case = run_case(CaseSpec("spin", {"n": 1000, "mode": "sum"}), config)
    assert case.status == "ok", (case.error, case.error_detail)
    assert case.repeats[0].metrics["energy_j"] is not None


@pytest.mark.torch
def test_a_builtin_workload_runs_when_the_current_directory_has_a_greenbench_workloads_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_form: list[str]) -> None:
    pytest.importorskip("torch")
    _decoys(tmp_path)
    monkeypatch.chdir(tmp_path)
    params = {"density": 0.5, "execution": "dense", "in_features": 16, "out_features": 16,
              "batch": 8, "precision": "fp32", "seed": 0}
    case = run_case(CaseSpec("sparse-matmul", params), RunConfig(**FAST))
    assert case.status == "ok", (case.error, case.error_detail)

