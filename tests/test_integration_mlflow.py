"""MLflow: greenbench's results logged to a real MLflow tracking store and read back with
MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from greenbench.store import Store  # noqa: E402
from tests.cli_runner import run_cli  # noqa: E402
from tests.test_runner import FILE  # noqa: E402


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # artifacts go beside it
    return uri


def client(uri: str):  # noqa: ANN201
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


@pytest.mark.timeout(120)
def test_a_run_is_logged_with_each_case_as_a_nested_run_and_its_method(
        tracking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    result = run_cli(capsys, "run", "--workload-file", FILE, "spin", "-p", "n=500,1000",
                     "--repeats", "3", "--min-duration", "0.1", "--warmup", "0.2", "--idle",
                     "0.1", "--store", str(store), "--label", "ml", "--mlflow")
    assert result.code == 0, result.err
    assert "logged to MLflow: run" in result.err
    with Store(store) as s:
        (summary,) = s.list_runs()
        record = s.get_run(summary.id)
    c = client(tracking)
    experiment = c.get_experiment_by_name("greenbench")
    runs = c.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.data.tags["greenbench.run_id"] == record.id
    children = sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId")
                       == parent.info.run_id), key=lambda r: r.info.run_name)
    assert len(children) == 2
    for child, case in zip(children, record.cases, strict=True):
        s = case.summary["energy_per_unit_j"]
        assert child.data.metrics["energy_per_unit_j"] == pytest.approx(s.median)
        assert child.data.metrics["energy_per_unit_j.n"] == 3
        assert child.data.metrics["energy_per_unit_j.ci_low"] == pytest.approx(s.ci_low)
        assert child.data.params["n"] == str(case.params["n"])
        assert child.data.tags["greenbench.estimate"] == "true"  # no RAPL here
        assert child.data.tags["greenbench.method"] == "estimate"
    artifacts = {a.path for a in c.list_artifacts(parent.info.run_id)}
    assert {f"{record.id}.json", "report.md"} <= artifacts


@pytest.mark.timeout(120)
def test_measure_logs_the_commands_energy(tracking: str, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    import json
    import sys

    result = run_cli(capsys, "measure", "--mlflow", "--json", "--", sys.executable, "-c",
                     "sum(range(10**6))")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    c = client(tracking)
    (run,) = c.search_runs([c.get_experiment_by_name("greenbench").experiment_id])
    assert run.data.metrics["energy_j"] == pytest.approx(doc["energy_j"])
    assert run.data.metrics["domain/cpu-package/0/energy_j"] == pytest.approx(
        doc["domains"][0]["energy_j"])
    assert run.data.tags["greenbench.estimate"] == "true"


def test_an_unusable_tracking_uri_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    import sys

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://x")
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "measure", "--mlflow", "--", sys.executable, "-c", "pass")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()[-1:]
    assert line.startswith("greenbench: error: --mlflow: cannot use the tracking URI "
                           "nosuchscheme://x")
