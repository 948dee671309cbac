"""The exchange formats of stored runs: a versioned JSON document and a flat CSV table.

The JSON document is what ``greenbench results export`` writes, ``import`` reads, ``compare``
accepts in place of a stored run, and the pytest plugin saves as a baseline. It is described
field by field in docs/results-format.md; ``records.FORMAT_VERSION`` numbers it.

Nothing here touches the database: these are pure conversions between :class:`RunRecord` and
plain data, so the store, the CLI and the plugin share one definition of the format.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from greenbench import metrics
from greenbench.errors import UserError
from greenbench.measurement import is_estimate
from greenbench.records import FORMAT_VERSION, CaseRecord, RunRecord

FORMAT_NAME = "greenbench-run"
"""The ``format`` field of every exported document: tells it apart from any other JSON."""

CSV_COLUMNS = (
    "run_id", "created_utc", "machine", "machine_key", "case_index", "workload", "params",
    "case_status", "unit", "metric", "n", "median", "mean", "stdev", "min", "max",
    "ci_low", "ci_high", "ci_level", "ci_method", "cv", "high_cv", "method", "estimate",
)
"""One CSV row per case x metric summary, in this column order."""

_RUN_FIELDS = ("id", "created_utc", "status", "machine", "software", "config", "sensors")
_CASE_FIELDS = ("workload", "params", "status")


# --------------------------------------------------------------------------- JSON


def to_document(run: RunRecord) -> dict[str, Any]:
    """The export document of one run: ``{"format", "format_version", "run"}``.

    Deterministic (no export time inside), so that export -> import -> export is identical.
    """
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "run": run.to_dict()}


def from_document(doc: Any, source: str = "document") -> RunRecord:
    """The run inside an export document; a UserError naming ``source`` if it is not one."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise UserError(f"{source}: not a greenbench run export (no \"format\": "
                        f"\"{FORMAT_NAME}\" field); export one with `greenbench results export`")
    version = doc.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{source}: bad format_version {version!r}: expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise UserError(f"{source}: written by a newer greenbench (format {version} > "
                        f"{FORMAT_VERSION}): upgrade greenbench to read it")
    run = _checked_run(doc.get("run"), source)
    try:
        return RunRecord.from_dict(run)
    except TypeError as exc:  # unknown or missing dataclass fields
        raise UserError(f"{source}: malformed run: {exc}") from None


def read_document_file(path: str | Path) -> RunRecord:
    """Load an exported run from a JSON file; every problem is a one-line UserError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                        "expected a run exported by `greenbench results export`") from None
    return from_document(doc, str(p))


def dumps_document(doc: dict[str, Any]) -> str:
    """The document as JSON text, the way export writes it (indented, newline at the end).

    Always valid JSON: a NaN or infinity that reached a record is written as null."""
    try:
        text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(json_safe(doc), indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _checked_run(run: Any, source: str) -> dict[str, Any]:
    """Catch the structural mistakes that would otherwise surface as a traceback much later."""
    if not isinstance(run, dict):
        raise UserError(f"{source}: malformed export: \"run\" must be an object")
    missing = [f for f in _RUN_FIELDS if f not in run]
    if missing:
        raise UserError(f"{source}: malformed run: missing {', '.join(missing)}")
    if not isinstance(run["id"], str) or not run["id"]:
        raise UserError(f"{source}: malformed run: \"id\" must be a non-empty string")
    cases = run.get("cases", [])
    if not isinstance(cases, list):
        raise UserError(f"{source}: malformed run: \"cases\" must be a list")
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or any(f not in case for f in _CASE_FIELDS):
            raise UserError(f"{source}: malformed case {i}: needs "
                            f"{', '.join(_CASE_FIELDS)}")
        if not isinstance(case["params"], dict):
            raise UserError(f"{source}: malformed case {i}: \"params\" must be an object")
        repeats = case.get("repeats", [])
        if not isinstance(repeats, list) or not all(isinstance(r, dict) for r in repeats):
            raise UserError(f"{source}: malformed case {i}: \"repeats\" must be a list of "
                            "objects")
    return run


# --------------------------------------------------------------------------- CSV


def csv_rows(run: RunRecord) -> list[dict[str, Any]]:
    """One row per case x summarized metric (see :data:`CSV_COLUMNS`)."""
    rows: list[dict[str, Any]] = []
    for index, case in enumerate(run.cases):
        method = energy_method(case, run.is_estimate)
        estimate = case_is_estimate(case, run.is_estimate)
        for metric, s in case.summary.items():
            energy_like = is_energy_metric(metric)
            rows.append({
                "run_id": run.id,
                "created_utc": run.created_utc,
                "machine": run.machine.get("hostname", ""),
                "machine_key": run.machine_key,
                "case_index": index,
                "workload": case.workload,
                "params": json.dumps(case.params, sort_keys=True),
                "case_status": case.status,
                "unit": case.unit,
                "metric": metric,
                **{k: s.get(k) for k in ("n", "median", "mean", "stdev", "min", "max",
                                          "ci_low", "ci_high", "ci_level", "ci_method", "cv",
                                          "high_cv")},
                # Time and throughput come from the clock whatever the sensors were.
                "method": method if energy_like else "clock",
                "estimate": energy_like and estimate,
            })
    return rows


def to_csv(run: RunRecord) -> str:
    """The CSV text of :func:`csv_rows`, with a header line. Control characters in stored
    text are written as visible escapes: spreadsheets and terminals show CSV raw."""
    from greenbench.printable import printable

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: printable(v) if isinstance(v, str) else v for k, v in row.items()}
                     for row in csv_rows(run))
    return out.getvalue()


# --------------------------------------------------------------------------- shared facts


def is_nonnegative_metric(metric: str) -> bool:
    """True for figures that cannot be below zero: gross energies, times, powers and rates
    (net energies and the workload's own figures can)."""
    return metrics.is_nonnegative(metric)


def is_energy_metric(metric: str) -> bool:
    """True for figures that come from the energy sensors (see greenbench.metrics)."""
    return metrics.is_energy_metric(metric)


def energy_method(case: CaseRecord, run_is_estimate: bool) -> str:
    """How a case's energy was obtained: the repeats' measurement method(s) (``counter``,
    ``power``, ``estimate``, ``mixed``, joined by ``+`` when repeats differ), else ``estimate``
    or ``measured`` after the run's sensors when the repeats do not say."""
    methods = sorted({str(m) for r in case.repeats if (m := r.measurement.get("method"))})
    if methods:
        return "+".join(methods)
    return "estimate" if run_is_estimate else "measured"


def case_is_estimate(case: CaseRecord, run_is_estimate: bool) -> bool:
    """True when some of the case's energy totals rest on a model, by the one rule of
    :func:`greenbench.measurement.is_estimate`; by the run's sensors where no repeat says."""
    verdicts = [v for r in case.repeats if (v := is_estimate(r.measurement)) is not None]
    return any(verdicts) if verdicts else run_is_estimate
