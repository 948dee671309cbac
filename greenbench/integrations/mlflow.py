"""greenbench's results in MLflow: a stored run as an MLflow run, each case a nested run.

``greenbench run --mlflow`` (or ``GREENBENCH_MLFLOW=1``) logs, after the run is stored:

- the parent MLflow run (named after the greenbench run): tags for the greenbench run id,
  machine, version and whether any figure is an estimate; the export document and a Markdown
  report (no figures) as artifacts;
- one nested run per case: its parameters, and for each summarised figure the median as the
  metric and its 95% interval beside it (``<metric>.ci_low``, ``<metric>.ci_high``) with the
  repeats (``<metric>.n``); tags ``greenbench.method`` (``counter``, ``power``, ``estimate``,
  ...) and ``greenbench.estimate``, so a dashboard never mistakes an estimate for a reading.

``greenbench measure --mlflow`` logs one run: the command's energy per domain and in total,
with the same tags. The tracking URI is ``$MLFLOW_TRACKING_URI``, else a SQLite database
``mlflow.db`` in the current folder (MLflow 3 has frozen its plain-folder store).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenbench.errors import UserError
from greenbench.records import RunRecord

ENV = "GREENBENCH_MLFLOW"
EXPERIMENT = "greenbench"
DEFAULT_URI = "sqlite:///mlflow.db"


def wanted(flag: bool) -> bool:
    """The --mlflow flag, or ``GREENBENCH_MLFLOW`` set to 1/true/yes."""
    return flag or os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def metric_key(key: str) -> str:
    """A greenbench result key as an MLflow metric name (``domain:gpu:0:energy_j`` ->
    ``domain/gpu/0/energy_j``; MLflow allows letters, digits, ``_-./`` and spaces)."""
    return re.sub(r"[^0-9A-Za-z_\-. /]", "/", key)


def log_run(record: RunRecord, document: Mapping[str, Any], *,
            tracking_uri: str | None = None, experiment: str = EXPERIMENT) -> str:
    """Log a stored run (and its export ``document``); returns the parent MLflow run id."""
    from greenbench.report.build import build_report
    from greenbench.report.markdown import render_markdown
    from greenbench.results_format import case_is_estimate, dumps_document, energy_method

    mlflow = _mlflow(tracking_uri, experiment)
    with mlflow.start_run(run_name=record.label or record.id) as parent:
        mlflow.set_tags({"greenbench.run_id": record.id,
                         "greenbench.machine": str(record.machine.get("hostname", "")),
                         "greenbench.version": str(record.software.get("greenbench", "")),
                         "greenbench.estimate": str(record.is_estimate).lower()})
        for index, case in enumerate(record.cases):
            with mlflow.start_run(run_name=f"{index}: {case.label}", nested=True):
                mlflow.log_params({k: str(v)[:500] for k, v in case.params.items()})
                mlflow.set_tags({
                    "greenbench.workload": case.workload, "greenbench.status": case.status,
                    "greenbench.method": energy_method(case, record.is_estimate),
                    "greenbench.estimate": str(case_is_estimate(case, record.is_estimate)
                                               ).lower()})
                figures: dict[str, float] = {}
                for key, s in case.summary.items():
                    name = metric_key(key)
                    figures[name] = s.median
                    figures[f"{name}.n"] = float(s.n)
                    if s.ci_low is not None and s.ci_high is not None:
                        figures[f"{name}.ci_low"], figures[f"{name}.ci_high"] = \
                            s.ci_low, s.ci_high
                if figures:
                    mlflow.log_metrics(figures)
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / f"{record.id}.json"
            export.write_text(dumps_document(dict(document)))
            report, _ = render_markdown(build_report([record], figures=False), "figures")
            (Path(tmp) / "report.md").write_text(report)
            mlflow.log_artifact(str(export))
            mlflow.log_artifact(str(Path(tmp) / "report.md"))
        return str(parent.info.run_id)


def log_measurement(doc: Mapping[str, Any], *, tracking_uri: str | None = None,
                    experiment: str = EXPERIMENT) -> str:
    """Log ``greenbench measure``'s result document as one MLflow run."""
    mlflow = _mlflow(tracking_uri, experiment)
    command = " ".join(doc.get("command") or [])
    with mlflow.start_run(run_name=command[:200] or "measure") as run:
        mlflow.set_tags({"greenbench.method": str(doc.get("method")),
                         "greenbench.estimate": str(bool(doc.get("estimate"))).lower(),
                         "greenbench.command": command[:5000]})
        figures = {"energy_j": doc.get("energy_j"), "duration_s": doc.get("duration_s"),
                   "mean_power_w": doc.get("mean_power_w"),
                   **{metric_key(f"domain:{d['name']}:energy_j"): d.get("energy_j")
                      for d in doc.get("domains") or []}}
        mlflow.log_metrics({k: float(v) for k, v in figures.items() if v is not None})
        return str(run.info.run_id)


def _mlflow(tracking_uri: str | None, experiment: str) -> Any:
    try:
        import mlflow
    except ImportError:
        raise UserError("--mlflow needs MLflow: pip install 'greenbench[mlflow]'") from None
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
    except Exception as exc:  # MLflow raises its own and its stores' exceptions
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--mlflow: cannot use the tracking URI {uri} ({first}); set "
                        "MLFLOW_TRACKING_URI to a reachable server or a sqlite:/// file") from None
    return mlflow
